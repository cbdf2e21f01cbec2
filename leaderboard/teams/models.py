"""Teams: who submits together and shares the limits."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_join_code() -> str:
    return secrets.token_urlsafe(12)


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    join_code = models.CharField(
        max_length=32, unique=True, default=new_join_code, help_text=_("Members share it to let others join.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    banned = models.BooleanField(
        default=False, help_text=_("A banned team cannot submit; its entries leave the boards.")
    )
    ban_reason = models.TextField(blank=True, help_text=_("Shown to the team."))

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class PhaseApproval(models.Model):
    """A team's request to enter a phase that requires approval, and the organizers' decision."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="phase_approvals")
    phase = models.ForeignKey("challenges.Phase", on_delete=models.CASCADE, related_name="team_approvals")
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    note = models.TextField(blank=True, help_text=_("The organizers' reason, shown to the team."))
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["phase", "requested_at"]
        constraints = [models.UniqueConstraint(fields=["team", "phase"], name="unique_team_phase_approval")]

    def __str__(self) -> str:
        return f"{self.team} in {self.phase}: {self.status}"


class Membership(models.Model):
    """A user belongs to at most one team, so a team's limits cannot be dodged."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
