"""What the site knows of an account's choices."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from .models import LanguagePreference


def chosen_language(user: AbstractBaseUser) -> str | None:
    """The language the account chose on the site, or None if it never chose one."""
    if not user.pk:
        return None
    # One query a request for a signed-in account; cached on the user object for the rest of it.
    if not hasattr(user, "_chosen_language"):
        user._chosen_language = LanguagePreference.objects.filter(user=user).values_list("language", flat=True).first()
    return user._chosen_language


def language_of(user: AbstractBaseUser) -> str:
    """The language to write to an account in (emails, the client's messages): its choice, else the site's."""
    return chosen_language(user) or settings.LANGUAGE_CODE
