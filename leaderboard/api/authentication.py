"""Token authentication with an optional maximum age (``API_TOKEN_MAX_AGE_DAYS``)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from leaderboard import tokens


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's ``Authorization: Token <key>``; a token older than the maximum age answers 401, saying so."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if tokens.is_expired(token):
            raise exceptions.AuthenticationFailed(
                f"Your API token expired on {tokens.expires_at(token):%Y-%m-%d %H:%M} UTC. "
                f"Make a new one on the API token page ({reverse('web:api-token')}).",
                code="token_expired",
            )
        return user, token
