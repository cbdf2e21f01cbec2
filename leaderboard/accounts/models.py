"""Whether an account's email address is verified: it must be before the account can submit.

A row per account, one-to-one with Django's user (no custom user model). The sign-up creates it
unverified and sends the link; an account without a row is unverified too (fail closed: a new way of
creating accounts cannot skip the check). The data migration marked every account that existed then
verified; ``load_demo`` and ``issue_token`` mark theirs (an operator vouches for them); accounts created
in the admin are verified there, or by the link the site sends them on request.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EmailVerification(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_verification")
    verified_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the address was verified. Empty: the account cannot submit.")
    )
    #: The address the link went to (or that was verified): a link works only while it is the account's.
    email = models.EmailField(blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True, help_text=_("When the last link was sent."))

    class Meta:
        verbose_name = _("email verification")

    def __str__(self) -> str:
        state = "verified" if self.verified_at else "not verified"
        return f"{self.user} ({state})"


class LanguagePreference(models.Model):
    """The language an account chose with the site's switch; it follows the account to any browser."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="language_preference")
    language = models.CharField(max_length=16, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("language preference")

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"
