"""A judge run's life outside its attempts: created with its result, queued, resumed, cancelled.

A result's :class:`JudgeRun` moves through ``JUDGE_TRANSITIONS`` by conditional UPDATEs
(``transition``), like a submission, so an organizer's action and a worker never both win.
An attempt itself runs in ``runner``, and ends in ``finishing``.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leaderboard import queueing
from leaderboard.audit.services import ActionRefused, record, require_reason
from leaderboard.boards.services import refresh_boards
from leaderboard.notifications.services import enqueue_on_commit
from leaderboard.statemachine import conditional_transition
from leaderboard.submissions.models import Result, Submission

from .models import JUDGE_TRANSITIONS, JudgeRun, JudgeStatus
from .setup import judge_setup

logger = logging.getLogger(__name__)


def transition(run_id: int, from_statuses, to_status: str, *, condition: Q | None = None, **changes: Any) -> bool:
    return conditional_transition(
        JudgeRun, JUDGE_TRANSITIONS, run_id, from_statuses, to_status, condition=condition, **changes
    )


def start_judging(result: Result, *, promote_when_complete: bool = False) -> JudgeRun:
    """Create the judge stage of a new result and queue it. Call inside the result's transaction."""
    submission = result.submission
    setup = judge_setup(submission.phase, submission.language)
    if setup.config is None:
        run = JudgeRun.objects.create(
            result=result,
            submission=submission,
            status=JudgeStatus.NOT_CONFIGURED,
            reason=setup.reason,
            total_clips=result.clips,
        )
        if promote_when_complete and promote(run):
            refresh_boards_of(run)
        return run
    run = JudgeRun.objects.create(
        result=result,
        submission=submission,
        status=JudgeStatus.QUEUED,
        promote_when_complete=promote_when_complete,
        judge=setup.run_identity(),
        signature=setup.identity.signature,
        total_clips=result.clips,
    )
    transaction.on_commit(partial(enqueue_judging, run.pk))
    return run


def enqueue_judging(run_id: int, *, countdown: float | None = None) -> bool:
    """Queue a judge run on the judge queue. A broker outage leaves it queued, for ``resume_judging``."""
    return queueing.send(
        queueing.JUDGE_RESULT, run_id, countdown=countdown, log=logger, unsent=f"could not queue judge run {run_id}"
    )


def resume(run_id: int) -> bool:
    """Ask the judge again for what is missing: an organizer's resume of an incomplete run.

    The run starts afresh on lost workers and automatic resumes, so one that gave up after too
    many takeovers can run again. ``attempts`` is kept: it tells a late worker its attempt is over.
    """
    with transaction.atomic():
        resumed = transition(
            run_id,
            (JudgeStatus.INCOMPLETE, JudgeStatus.NOT_CONFIGURED, JudgeStatus.CANCELLED),
            JudgeStatus.QUEUED,
            reason="",
            resume_at=None,
            lease_expires_at=None,
            takeovers=0,
            automatic_resumes=0,
        )
        if resumed:
            transaction.on_commit(partial(enqueue_judging, run_id))
    return resumed


def cancel_judge_run(run_id: int) -> bool:
    cancelled = transition(
        run_id,
        (JudgeStatus.QUEUED, JudgeStatus.RUNNING, JudgeStatus.INCOMPLETE),
        JudgeStatus.CANCELLED,
        finished_at=timezone.now(),
        lease_expires_at=None,
        resume_at=None,
    )
    if cancelled:
        notify_scores_final(run_id)
    return cancelled


def resume_by_organizer(actor, run: JudgeRun, reason: str) -> None:
    """An organizer's resume, with the audit event in the same transaction."""
    _organizer_action(
        actor,
        run,
        reason,
        "judge.resume",
        resume,
        JudgeStatus.QUEUED,
        _("judge run #%(id)s is %(status)s: only an incomplete, cancelled or unconfigured run can be resumed."),
    )


def cancel_by_organizer(actor, run: JudgeRun, reason: str) -> None:
    _organizer_action(
        actor,
        run,
        reason,
        "judge.cancel",
        cancel_judge_run,
        JudgeStatus.CANCELLED,
        _("judge run #%(id)s is %(status)s: only a queued, running or incomplete run can be cancelled."),
    )


def _organizer_action(actor, run: JudgeRun, reason: str, action: str, apply, new_status: str, refusal: str) -> None:
    reason = require_reason(reason)
    with transaction.atomic():
        status = JudgeRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
        if not apply(run.pk):
            raise ActionRefused(refusal % {"id": run.pk, "status": status})
        record(actor, action, run, reason, status=[status, new_status])
        # A frozen board reads which runs had completed by the freeze: a run's status is part of it.
        refresh_boards_of(run)


def notify_scores_final(run_id: int) -> None:
    """The judge stopped (complete, incomplete, not configured): the team's scores are final; email them once."""
    submission_id = JudgeRun.objects.filter(pk=run_id).values_list("submission_id", flat=True).first()
    if submission_id is not None:
        enqueue_on_commit(submission_id, "finished")


def promote(run: JudgeRun) -> bool:
    """A re-score's result becomes the one the boards show, unless a newer result already is.

    Called when the run's judging ends with stage scores or without a judge at all, from its start
    on. Two re-scores can finish judging in either order (an incomplete one resumes later); the
    newest result wins, whichever run ends last.
    """
    return (
        Submission.objects.filter(
            Q(current_result__isnull=True) | Q(current_result_id__lt=run.result_id),
            pk=run.submission_id,
        ).update(current_result_id=run.result_id, updated_at=timezone.now())
        == 1
    )


def refresh_boards_of(run: JudgeRun) -> None:
    """Rank again the boards the run's submission is on: its result got stage scores or became current."""
    phase_id, language, team_id = Submission.objects.values_list("phase_id", "language", "team_id").get(
        pk=run.submission_id
    )
    refresh_boards(phase_id, language, team_id=team_id)
