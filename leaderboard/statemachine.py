"""One way to change a status: a conditional UPDATE checked against a state machine; and the lease of an attempt."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models
from django.db.models import F, Q
from django.utils import timezone

logger = logging.getLogger(__name__)


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


def lease_duration() -> timedelta:
    """How long a claim or a renewal holds a row: ``LEASE_SECONDS``, short, as a live attempt renews it."""
    return timedelta(seconds=settings.LEASE_SECONDS)


def renew_lease(model: type[models.Model], pk: int, running_status: str, attempt: int, lease: timedelta) -> bool:
    """Extend the lease of attempt ``attempt`` on row ``pk``; False when that attempt no longer holds the row.

    Fenced like every write of an attempt (``status = running AND attempts = <attempt>``), so a renewal
    never revives a row that finished, failed, was cancelled or was taken over. Not a change of state:
    ``updated_at`` is left alone (the sweep reads it as the time of the last change or requeue).
    """
    held = model._default_manager.filter(pk=pk, status=running_status, attempts=attempt)
    return held.update(lease_expires_at=timezone.now() + lease) == 1


class LeaseHeartbeat:
    """Renews an attempt's lease from a daemon thread, every third of the lease, while the attempt runs.

    The lease lives only as long as the process: a killed pool process or worker stops renewing, and its
    row can be taken over one lease later (by the redelivered message, or the sweep's requeue), not after
    the hard time limit. A thread works because the attempt's own work releases the GIL (Java
    subprocesses, network, and pure Python that the interpreter switches out of). Use it as a context
    manager around the attempt's work, after the claim and before the attempt's final write; leaving it
    stops the renewals without waiting for one in flight, which the fence makes harmless (so leaving it
    inside a transaction that locks the row cannot deadlock).
    """

    def __init__(
        self, model: type[models.Model], pk: int, running_status: str, attempt: int, *, lease: timedelta | None = None
    ):
        self.model, self.pk, self.running_status, self.attempt = model, pk, running_status, attempt
        self.lease = lease or lease_duration()
        #: Renewals made, and whether a renewal found the attempt no longer holding the row.
        self.renewals = 0
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{model.__name__}-{pk}", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()

    def _renew(self) -> None:
        try:
            while not self._stop.wait(self.lease.total_seconds() / 3):
                try:
                    held = renew_lease(self.model, self.pk, self.running_status, self.attempt, self.lease)
                except DatabaseError:
                    # The database away for a moment: two more tries before the lease lapses.
                    logger.warning("%s %s: could not renew the lease", self.model.__name__, self.pk, exc_info=True)
                    connection.close()
                    continue
                if not held:
                    self.lost = True
                    logger.info(
                        "%s %s: attempt %s no longer holds it (done, cancelled or taken over); lease not renewed",
                        self.model.__name__,
                        self.pk,
                        self.attempt,
                    )
                    return
                self.renewals += 1
        finally:
            connection.close()  # this thread's own connection
