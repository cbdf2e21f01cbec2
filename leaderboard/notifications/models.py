"""What email a user wants."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EmailPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preference")
    on_result = models.BooleanField(
        default=True, help_text=_("Email me when a submission of mine is scored or fails.")
    )
    digest = models.BooleanField(
        default=False, help_text=_("Organizers: a digest of new submissions.")
    )
    last_digest_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"email preferences of {self.user}"
