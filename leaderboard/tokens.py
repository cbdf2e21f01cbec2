"""API tokens: the one a user has, its replacement, and when it expires (``API_TOKEN_MAX_AGE_DAYS``).

The token page, the ``issue_token`` command and the API's authentication (``api.authentication``)
all go through here, so they agree on when a token is too old.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token


def expires_at(token: Token) -> datetime | None:
    """When ``token`` stops working; None when tokens never expire (the setting is empty)."""
    days = settings.API_TOKEN_MAX_AGE_DAYS
    return None if days is None else token.created + timedelta(days=days)


def is_expired(token: Token, at: datetime | None = None) -> bool:
    moment = expires_at(token)
    return moment is not None and moment <= (at or timezone.now())


@transaction.atomic
def rotate_token(user) -> Token:
    """A new token for ``user``; the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def current_token(user) -> Token:
    """The user's token, made when they have none or theirs has expired."""
    token, _ = Token.objects.get_or_create(user=user)
    return rotate_token(user) if is_expired(token) else token
