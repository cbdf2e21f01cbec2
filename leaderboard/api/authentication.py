"""Token authentication with an optional maximum age (``API_TOKEN_MAX_AGE_DAYS``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from leaderboard import tokens


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's ``Authorization: Token <key>``; a token older than the maximum age answers 401, saying so."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if tokens.is_expired(token):
            raise exceptions.AuthenticationFailed(
                _("Your API token expired on %(time)s UTC. Make a new one on the API token page (%(page)s).")
                % {"time": f"{tokens.expires_at(token):%Y-%m-%d %H:%M}", "page": reverse("web:api-token")},
                code="token_expired",
            )
        return user, token
