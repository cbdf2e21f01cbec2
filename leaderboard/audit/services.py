"""Recording audit events. Callers record inside the transaction of the change itself."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.utils.translation import gettext as _

from .models import AuditEvent


class ActionRefused(Exception):
    """An organizer's (or participant's) action was refused; the message says why. Nothing changed."""


class ReasonRequired(ActionRefused, ValueError):
    """An organizer's action needs a reason: the audit log says why, not only what."""

    def __init__(self, what: str = "reason"):
        messages = {
            "reason": _("Give a reason: the audit log records why, not only what."),
            "note": _("Give a note: the audit log records why, not only what."),
            "citation": _("Give a citation: the audit log records why, not only what."),
        }
        super().__init__(
            messages.get(what) or _("Give a %(what)s: the audit log records why, not only what.") % {"what": what}
        )


def require_reason(reason: str | None, what: str = "reason") -> str:
    """``reason`` without surrounding blanks, or :class:`ReasonRequired` when there is nothing left."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise ReasonRequired(what)
    return cleaned


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
        details=jsonable(details),
    )


def jsonable(value: Any) -> Any:
    """``value`` with dates, decimals, model instances and tuples made JSON values, for ``details``."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{name: [old, new]}`` for each value of ``after`` that differs in ``before``, a snapshot of the same names."""
    changes = {}
    for name, new in after.items():
        old = before[name]
        if old != new:
            changes[name] = [jsonable(old), jsonable(new)]
    return changes


def events_for(target: models.Model):
    """The audit events of one object, newest first."""
    return AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk))
