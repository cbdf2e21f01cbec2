"""Queueing again what still waits: a submission or judge run whose message was lost, e.g. in a broker outage.

Celery beat runs :func:`requeue_waiting` every ``SWEEP_INTERVAL`` seconds (``workers.tasks.requeue_waiting``);
``manage.py requeue_waiting`` runs it by hand. Queueing twice is harmless — scoring and judging claim
their row with a conditional UPDATE, so a second message finds the work done — but each requeue is
recorded, with an audit event and a log line saying how long it waited, and the same one is queued
again only once it has waited the bound anew: a sweep never floods the queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leaderboard.audit.services import record
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
    #: Queues left alone because they hold messages (``only_idle_queues``).
    busy_queues: list[str] = field(default_factory=list)


def requeue_waiting(older_than: timedelta, actor: str, *, only_idle_queues: bool = False) -> Requeued:
    """Queue again each submission left ``submitted`` and each judge run left ``queued`` (or overdue for its
    automatic resume) for ``older_than`` since it got there or was last queued again.

    With ``only_idle_queues`` (the periodic sweep) a queue that still holds messages is left alone: what
    waits may be waiting its turn behind them, not lost. The judge queue in particular holds runs for
    hours when many arrive at once.
    """
    now = timezone.now()
    cutoff = now - older_than
    done = Requeued()
    if only_idle_queues:
        depths = queue_depths(("classic", "judge"))
        # An unreachable broker could not take the messages anyway.
        done.busy_queues = ["classic", "judge"] if depths is None else [queue for queue, n in depths.items() if n]
    if "classic" not in done.busy_queues:
        waiting = Submission.objects.filter(status=Status.SUBMITTED, updated_at__lte=cutoff)
        done.submissions = [
            pk
            for pk in waiting.order_by("created_at", "pk").values_list("pk", flat=True)
            if _requeue_submission(pk, cutoff, now, actor)
        ]
    if "judge" not in done.busy_queues:
        runs = JudgeRun.objects.filter(_judge_run_waiting(cutoff)).order_by("updated_at", "pk")
        done.judge_runs = [pk for pk in runs.values_list("pk", flat=True) if _requeue_judge_run(pk, cutoff, now, actor)]
    return done


def _requeue_submission(pk: int, cutoff: datetime, now: datetime, actor: str) -> bool:
    with transaction.atomic():
        # Locked and re-checked: a sweep and the command running at once queue it once, and a worker
        # that claims it meanwhile (submitted -> running) waits for this transaction, then scores it once.
        submission = (
            Submission.objects.select_for_update()
            .filter(pk=pk, status=Status.SUBMITTED, updated_at__lte=cutoff)
            .first()
        )
        if submission is None:
            return False
        # The bump is the mark of this requeue: the next one comes only after waiting the bound again.
        Submission.objects.filter(pk=pk).update(updated_at=now)
        if not enqueue_scoring(pk):
            transaction.set_rollback(True)
            return False
        waited = now - submission.created_at
        reason = f"waited {_duration(waited)} in submitted; queued again by the {actor}"
        record(actor, "submission.requeue", submission, reason, waited_seconds=int(waited.total_seconds()))
    logger.warning("submission %s %s", pk, reason, extra={"submission_id": pk})
    return True


def _judge_run_waiting(cutoff: datetime) -> Q:
    # An incomplete run's resume message carries a countdown; overdue, it was lost with its worker or broker.
    return Q(updated_at__lte=cutoff) & (
        Q(status=JudgeStatus.QUEUED) | Q(status=JudgeStatus.INCOMPLETE, resume_at__lte=cutoff)
    )


def _requeue_judge_run(pk: int, cutoff: datetime, now: datetime, actor: str) -> bool:
    with transaction.atomic():
        run = JudgeRun.objects.select_for_update().filter(_judge_run_waiting(cutoff), pk=pk).first()
        if run is None:
            return False
        JudgeRun.objects.filter(pk=pk).update(updated_at=now)
        if not enqueue_judging(pk):
            transaction.set_rollback(True)
            return False
        if run.status == JudgeStatus.QUEUED:
            reason = f"waited {_duration(now - run.updated_at)} in queued; queued again by the {actor}"
        else:
            reason = f"automatic resume overdue by {_duration(now - run.resume_at)}; queued again by the {actor}"
        record(actor, "judge.requeue", run, reason, status=run.status)
    logger.warning(
        "judge run %s of submission %s: %s",
        pk,
        run.submission_id,
        reason,
        extra={"submission_id": run.submission_id, "judge_run_id": pk},
    )
    return True


def _duration(delta: timedelta) -> str:
    return duration_text(int(delta.total_seconds()))
