"""The reconciler: queueing again the submissions and judge runs that are stuck, and saying why.

Two kinds are stuck:

- waiting — ``submitted``, a judge run ``queued`` or overdue for its automatic resume — past a bound:
  its message was lost, e.g. in a broker outage;
- ``running`` with a lapsed lease: the process of its attempt died, since a live one renews the lease
  every third of ``LEASE_SECONDS`` (``statemachine.LeaseHeartbeat``). A killed pool process's message
  is redelivered at once and takes over by itself; a killed worker's stays unacknowledged in the broker
  until its visibility timeout, hours later, so it is queued again here as soon as the lease lapses.
  The task's claim takes the row over and counts the attempt: past ``SCORING_MAX_ATTEMPTS`` (or
  ``JUDGE_MAX_ATTEMPTS`` takeovers) it fails with the reason a team reads, so a run that kills its worker
  every time is not queued for ever.

Celery beat runs :func:`requeue_waiting` every ``SWEEP_INTERVAL`` seconds (``workers.tasks.requeue_waiting``),
``manage.py requeue_waiting`` by hand; :func:`requeue_stuck` queues one chosen by an organizer (the admin's
"Requeue stuck", ``manage.py requeue_stuck``) with their reason. Queueing twice is harmless — scoring and
judging claim their row with a conditional UPDATE, so a second message finds the work done or held — but
each requeue is recorded, with an audit event and a log line saying what was found, and the same one is
queued again only once it has waited the bound anew: a sweep never floods the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leaderboard.audit.services import ActionRefused, record, require_reason
from leaderboard.judging.lifecycle import enqueue_judging
from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.operations.broker import queue_depths

from .models import Status, Submission
from .scoring import duration_text, enqueue_scoring

logger = logging.getLogger(__name__)

SWEEP_ACTOR = "sweep"


@dataclass
class Requeued:
    submissions: list[int] = field(default_factory=list)
    judge_runs: list[int] = field(default_factory=list)
    #: Queues whose waiting rows were left alone because they hold messages (``only_idle_queues``).
    busy_queues: list[str] = field(default_factory=list)


def requeue_waiting(older_than: timedelta, actor: str, *, only_idle_queues: bool = False) -> Requeued:
    """Queue again what is stuck: each submission left ``submitted`` and each judge run left ``queued`` (or
    overdue for its automatic resume) for ``older_than`` since it got there or was last queued again, and each
    one ``running`` whose lease lapsed, at once and then again each ``older_than`` until it is taken over.

    With ``only_idle_queues`` (the periodic sweep) the waiting ones of a queue that still holds messages are
    left alone: they may be waiting their turn behind them, not lost (the judge queue holds runs for hours when
    many arrive at once). A running one with a lapsed lease is queued whatever its queue holds: its message is
    not among them but held unacknowledged by the broker.
    """
    now = timezone.now()
    cutoff = now - older_than
    done = Requeued()
    if only_idle_queues:
        depths = queue_depths(("classic", "judge"))
        # An unreachable broker could not take the messages anyway.
        done.busy_queues = ["classic", "judge"] if depths is None else [queue for queue, n in depths.items() if n]
    for kind, queue, found in ((SUBMISSIONS, "classic", done.submissions), (JUDGE_RUNS, "judge", done.judge_runs)):
        stuck = _lapsed(kind, now, cutoff)
        if queue not in done.busy_queues:
            stuck |= kind.waiting(cutoff)
        rows = kind.model.objects.filter(stuck).order_by(kind.order_by, "pk").values_list("pk", flat=True)
        found += [pk for pk in rows if _requeue(kind, pk, stuck, now, actor)]
    return done


def requeue_stuck(actor, target: Submission | JudgeRun, reason: str) -> None:
    """An organizer's requeue of one stuck submission or judge run, with their reason, bound or no bound.

    Only what waits, or runs with a lapsed lease, is stuck. One whose lease is alive has a live worker
    renewing it: queued again, it would only wait for that worker; cancel it if it must stop.
    """
    reason = require_reason(reason)
    kind = SUBMISSIONS if isinstance(target, Submission) else JUDGE_RUNS
    now = timezone.now()
    if _requeue(kind, target.pk, kind.waiting(now) | _lapsed(kind, now, now), now, actor, reason):
        return
    current = kind.model.objects.filter(pk=target.pk).values("status", "lease_expires_at").first() or {}
    if current.get("status") == kind.running and current["lease_expires_at"] and current["lease_expires_at"] >= now:
        raise ActionRefused(kind.alive_refusal % {"id": target.pk})
    if not current:
        raise ActionRefused(kind.gone_refusal % {"id": target.pk})
    raise ActionRefused(kind.status_refusal % {"id": target.pk, "status": current["status"]})


@dataclass(frozen=True)
class _Kind:
    model: type[models.Model]
    label: str
    action: str
    running: str
    order_by: str
    #: What waits past ``cutoff`` for a message that was lost.
    waiting: Callable[[datetime], Q]
    enqueue: Callable[[int], bool]
    #: Why an organizer's requeue is refused (lazy translations, with ``%(id)s`` and ``%(status)s``).
    alive_refusal: str
    gone_refusal: str
    status_refusal: str


SUBMISSIONS = _Kind(
    model=Submission,
    label="submission",
    action="submission.requeue",
    running=Status.RUNNING,
    order_by="created_at",
    waiting=lambda cutoff: Q(status=Status.SUBMITTED, updated_at__lte=cutoff),
    enqueue=enqueue_scoring,
    alive_refusal=_(
        "submission #%(id)s is running and its worker keeps its lease alive: it is not stuck. "
        "Cancel it if it must stop."
    ),
    gone_refusal=_(
        "submission #%(id)s is gone: only a waiting submission, or a running one whose lease lapsed (its worker "
        "stopped), can be queued again."
    ),
    status_refusal=_(
        "submission #%(id)s is %(status)s: only a waiting submission, or a running one whose lease lapsed (its worker "
        "stopped), can be queued again."
    ),
)
JUDGE_RUNS = _Kind(
    model=JudgeRun,
    label="judge run",
    action="judge.requeue",
    running=JudgeStatus.RUNNING,
    order_by="updated_at",
    # An incomplete run's resume message carries a countdown; overdue, it was lost with its worker or broker.
    waiting=lambda cutoff: (
        Q(updated_at__lte=cutoff)
        & (Q(status=JudgeStatus.QUEUED) | Q(status=JudgeStatus.INCOMPLETE, resume_at__lte=cutoff))
    ),
    enqueue=enqueue_judging,
    alive_refusal=_(
        "judge run #%(id)s is running and its worker keeps its lease alive: it is not stuck. Cancel it if it must stop."
    ),
    gone_refusal=_(
        "judge run #%(id)s is gone: only a queued run, an incomplete one overdue for its automatic resume, or a "
        "running one whose lease lapsed (its worker stopped), can be queued again."
    ),
    status_refusal=_(
        "judge run #%(id)s is %(status)s: only a queued run, an incomplete one overdue for its automatic resume, or a "
        "running one whose lease lapsed (its worker stopped), can be queued again."
    ),
)


def _lapsed(kind: _Kind, now: datetime, cutoff: datetime) -> Q:
    # Requeued at once when the lease lapses (nothing has touched ``updated_at`` since: renewals leave it), then
    # again each bound: the requeue sets ``updated_at`` past the lease.
    return Q(status=kind.running, lease_expires_at__lt=now) & (
        Q(updated_at__lt=F("lease_expires_at")) | Q(updated_at__lte=cutoff)
    )


def _requeue(kind: _Kind, pk: int, stuck: Q, now: datetime, actor, reason: str = "") -> bool:
    with transaction.atomic():
        # Locked and re-checked: a sweep and the command running at once queue it once, and a worker that claims
        # it meanwhile waits for this transaction, then finds the row requeued (and does the work once).
        row = kind.model.objects.select_for_update().filter(stuck, pk=pk).first()
        if row is None:
            return False
        # The bump is the mark of this requeue: the next one comes only after waiting the bound again.
        kind.model.objects.filter(pk=pk).update(updated_at=now)
        if not kind.enqueue(pk):
            transaction.set_rollback(True)
            return False
        found, details = _found(row, now)
        if reason:  # an organizer's, who said why
            said = f"{found}; queued again by {actor if isinstance(actor, str) else actor.get_username()}: {reason}"
        else:
            reason = said = f"{found}; queued again by the {actor}"
        record(actor, kind.action, row, reason, status=row.status, found=found, **details)
    if kind is SUBMISSIONS:
        logger.warning("submission %s: %s", pk, said, extra={"submission_id": pk})
    else:
        logger.warning(
            "judge run %s of submission %s: %s",
            pk,
            row.submission_id,
            said,
            extra={"submission_id": row.submission_id, "judge_run_id": pk},
        )
    return True


def _found(row: Submission | JudgeRun, now: datetime) -> tuple[str, dict]:
    """What the row was found doing, as the audit event and the log say it, and its figures."""
    if row.status == Status.RUNNING:  # the same value for both kinds
        lapsed = now - row.lease_expires_at
        return (
            f"lease of attempt {row.attempts} lapsed {_duration(lapsed)} ago in running (its worker stopped)",
            {"attempt": row.attempts, "lapsed_seconds": int(lapsed.total_seconds())},
        )
    if row.status == JudgeStatus.INCOMPLETE:
        return f"automatic resume overdue by {_duration(now - row.resume_at)}", {}
    waited = now - (row.created_at if isinstance(row, Submission) else row.updated_at)
    return f"waited {_duration(waited)} in {row.status}", {"waited_seconds": int(waited.total_seconds())}


def _duration(delta: timedelta) -> str:
    return duration_text(max(0, int(delta.total_seconds())))
