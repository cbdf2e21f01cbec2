"""What email a user wants."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EmailPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preference")
    on_result = models.BooleanField(default=True, help_text=_("Email me when a submission of mine is scored or fails."))
    digest = models.BooleanField(default=False, help_text=_("Organizers: a digest of new submissions."))
    last_digest_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"email preferences of {self.user}"


class NotificationKind(models.TextChoices):
    FINISHED = "finished", _("Scores are final")
    FAILED = "failed", _("Submission failed")


class SentNotification(models.Model):
    """One result email per submission and outcome: the marker that makes sending idempotent."""

    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="sent_notifications"
    )
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    #: Empty when nothing was sent (the user turned result emails off or has no address).
    recipient = models.EmailField(blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["submission", "kind"], name="one_notification_per_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} email of #{self.submission_id}"
