"""Recording audit events. Callers record inside the transaction of the change itself."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from .models import AuditEvent


def record(
    actor: AbstractBaseUser | str | None,
    action: str,
    target: models.Model,
    reason: str = "",
    **details: Any,
) -> AuditEvent:
    """One audit row. ``actor`` is a user, or a label such as ``"command rescore"`` for unattended runs."""
    user = actor if isinstance(actor, AbstractBaseUser) else None
    label = user.get_username() if user is not None else (actor or "system")
    return AuditEvent.objects.create(
        actor=user,
        actor_label=label,
        action=action,
        reason=reason,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:300],
        details=details,
    )
