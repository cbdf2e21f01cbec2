"""One way to change a status: a conditional UPDATE checked against a state machine."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class IllegalTransition(Exception):
    pass


def conditional_transition(
    model: type[models.Model],
    edges: Mapping[str, frozenset[str]],
    pk: int,
    from_statuses: str | tuple[str, ...],
    to_status: str,
    *,
    condition: Q | None = None,
    **changes: Any,
) -> bool:
    """Move row ``pk`` to ``to_status`` if it is in one of ``from_statuses`` (and meets ``condition``).

    Returns whether this call made the change. The check and the write are
    one ``UPDATE ... WHERE status IN (...)``, so concurrent callers cannot both
    succeed, and a task delivered twice does its work once.
    """
    if isinstance(from_statuses, str):
        from_statuses = (from_statuses,)
    for status in from_statuses:
        if to_status not in edges[status]:
            raise IllegalTransition(f"{model.__name__}: {status} -> {to_status} is not an edge of the state machine")
    query = model._default_manager.filter(pk=pk, status__in=from_statuses)
    if condition is not None:
        query = query.filter(condition)
    return query.update(status=to_status, updated_at=timezone.now(), **changes) == 1


def claim_lease(
    model: type[models.Model],
    edges: Mapping[str, frozenset[str]],
    pk: int,
    from_statuses: str | tuple[str, ...],
    to_status: str,
    *,
    now: datetime,
    lease: timedelta,
    condition: Q | None = None,
    **changes: Any,
) -> bool:
    """Claim row ``pk`` for a new attempt: ``conditional_transition`` that also starts the attempt.

    The claim sets ``started_at`` to ``now``, ``lease_expires_at`` to ``now + lease`` and
    increments ``attempts``, which later writes of the attempt check. When it returns False,
    ask :func:`lease_retry_seconds` whether another attempt holds the row (busy) or there
    is nothing to do.
    """
    return conditional_transition(
        model,
        edges,
        pk,
        from_statuses,
        to_status,
        condition=condition,
        started_at=now,
        lease_expires_at=now + lease,
        attempts=F("attempts") + 1,
        **changes,
    )


def lease_retry_seconds(model: type[models.Model], pk: int, running_status: str) -> float | None:
    """After a claim that failed: when to ask again, or None when there is nothing to do.

    A row in ``running_status`` with a lease is held by another attempt: the
    answer is the seconds until its lease runs out, plus one (at least one), so a
    retry then takes over from an attempt that died, or finds the row done.
    Any other row (finished, cancelled, missing) gives None.
    """
    current = model._default_manager.filter(pk=pk).values("status", "lease_expires_at").first()
    if current and current["status"] == running_status and current["lease_expires_at"]:
        wait = (current["lease_expires_at"] - timezone.now()).total_seconds()
        return max(1.0, wait + 1)
    return None
