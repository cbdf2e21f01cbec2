"""How a judge attempt ends: stage scores stored, or the run left incomplete with a reason.

Every write here is conditioned on the attempt (``attempts``) still holding the run, so a
cancelled, taken-over or late attempt records nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from evaluation.judge import JudgeResult
from leaderboard.boards.breakdowns import compute_breakdown
from leaderboard.boards.intervals import intervals_of, method_of, result_stats
from leaderboard.submissions.models import Result

from .lifecycle import notify_scores_final, promote, refresh_boards_of, transition
from .models import JudgeRun, JudgeStatus

logger = logging.getLogger(__name__)

#: Failure details kept per run for organizers; the counts are always complete.
MAX_STORED_FAILURES = 500


class Outcome(StrEnum):
    """How a judge task ended; a ``str``, so logs, comparisons and Celery's JSON results see the value."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    NOT_CONFIGURED = "not_configured"
    SKIPPED = "skipped"
    BUSY = "busy"


@dataclass(frozen=True)
class JudgeOutcome:
    outcome: Outcome
    retry_in_seconds: float | None = None
    #: Set when the run is incomplete and will be resumed automatically.
    resume_in_seconds: float | None = None


def finish_complete(run: JudgeRun, attempt: int, judged: JudgeResult) -> JudgeOutcome:
    """Every clip judged: merge the stage metrics into the result, in the transaction that completes the run."""
    # The intervals with the stage metrics, resampled before the transaction (a run that lost its
    # attempt meanwhile writes nothing below).
    result_intervals, result_breakdown = _intervals_with_stages(run.result_id, judged)
    with transaction.atomic():
        done = transition(
            run.pk,
            JudgeStatus.RUNNING,
            JudgeStatus.COMPLETE,
            condition=Q(attempts=attempt),
            judged_clips=judged.judged_clips,
            total_clips=judged.clips,
            failed_judgments=0,
            failures=[],
            reason="",
            lease_expires_at=None,
            finished_at=timezone.now(),
        )
        if not done:
            logger.warning("judge run %s changed while it ran (cancelled?); its numbers are dropped", run.pk)
            return JudgeOutcome(Outcome.SKIPPED)
        result = Result.objects.select_for_update().get(pk=run.result_id)
        stage_per_clip = judged.per_clip
        result.metrics = {**result.metrics, **judged.metrics}
        result.per_clip = {
            clip_id: {**scores, **stage_per_clip.get(clip_id, {})} for clip_id, scores in result.per_clip.items()
        }
        result.judge = {key: value for key, value in judged.judge.items()}
        result.intervals = result_intervals or result.intervals
        result.breakdown = result_breakdown or result.breakdown
        result.save(update_fields=["metrics", "per_clip", "judge", "intervals", "breakdown"])
        if run.promote_when_complete:
            promote(run)
        refresh_boards_of(run)
        notify_scores_final(run.pk)
    logger.info(
        "judge run %s complete: %s calls in this attempt, %s judgments served from the cache",
        run.pk,
        judged.accounting["calls"],
        judged.accounting["cache_hits"],
    )
    return JudgeOutcome(Outcome.COMPLETE)


def _intervals_with_stages(result_id: int, judged: JudgeResult) -> tuple[dict, dict]:
    """``Result.intervals`` and ``Result.breakdown`` of the result once ``judged``'s per-clip stage scores
    join its own."""
    result = Result.objects.select_related("submission__phase").get(pk=result_id)
    per_clip = {clip_id: {**scores, **judged.per_clip.get(clip_id, {})} for clip_id, scores in result.per_clip.items()}
    stats = result_stats(result.clip_stats, per_clip)
    return intervals_of(stats, method_of(result.submission.phase)), compute_breakdown(stats)


def finish_incomplete(run: JudgeRun, attempt: int, judged: JudgeResult) -> JudgeOutcome:
    """Some judgments failed: keep what was judged, say why, and resume automatically while resumes are left."""
    resume_at = _automatic_resume_at(run.automatic_resumes)
    recorded = transition(
        run.pk,
        JudgeStatus.RUNNING,
        JudgeStatus.INCOMPLETE,
        condition=Q(attempts=attempt),
        judged_clips=judged.judged_clips,
        total_clips=judged.clips,
        failed_judgments=len(judged.failures),
        failures=[failure.to_dict() for failure in judged.failures[:MAX_STORED_FAILURES]],
        reason=incomplete_reason(judged, resume_at),
        lease_expires_at=None,
        finished_at=timezone.now(),
        resume_at=resume_at,
        automatic_resumes=F("automatic_resumes") + (1 if resume_at else 0),
    )
    if not recorded:
        return JudgeOutcome(Outcome.SKIPPED)
    notify_scores_final(run.pk)
    logger.warning(
        "judge run %s incomplete: %s of %s judgments failed%s",
        run.pk,
        len(judged.failures),
        2 * judged.clips,
        f"; resuming at {resume_at:%H:%M} UTC" if resume_at else "",
    )
    return _incomplete_outcome(resume_at)


def finish_not_configured(run: JudgeRun, attempt: int, reason: str) -> JudgeOutcome:
    """The phase has no judge (any more): the classic metrics are final, and a re-score's result is promoted."""
    if not transition(
        run.pk,
        JudgeStatus.RUNNING,
        JudgeStatus.NOT_CONFIGURED,
        condition=Q(attempts=attempt),
        reason=reason,
        lease_expires_at=None,
        finished_at=timezone.now(),
    ):
        return JudgeOutcome(Outcome.SKIPPED)
    if run.promote_when_complete and promote(run):
        refresh_boards_of(run)
    notify_scores_final(run.pk)
    return JudgeOutcome(Outcome.NOT_CONFIGURED)


def give_up(run_id: int, attempt: int, reason: str) -> JudgeOutcome:
    """The attempt cannot judge (no references, changed references, a broken endpoint): incomplete, no resume."""
    if transition(
        run_id,
        JudgeStatus.RUNNING,
        JudgeStatus.INCOMPLETE,
        condition=Q(attempts=attempt),
        reason=reason,
        lease_expires_at=None,
        finished_at=timezone.now(),
        resume_at=None,
    ):
        notify_scores_final(run_id)
    return JudgeOutcome(Outcome.INCOMPLETE)


def record_interruption(run_id: int, why: str) -> JudgeOutcome:
    """The task was stopped (time limit, internal error): what it judged is cached; resume it later."""
    run = JudgeRun.objects.filter(pk=run_id).only("automatic_resumes").first()
    if run is None:
        return JudgeOutcome(Outcome.SKIPPED)
    resume_at = _automatic_resume_at(run.automatic_resumes)
    reason = f"Judging stopped: {why}. Every answer so far is kept. " + (
        f"It resumes automatically at {resume_at:%H:%M} UTC." if resume_at else "The organizers can resume it."
    )
    recorded = transition(
        run_id,
        JudgeStatus.RUNNING,
        JudgeStatus.INCOMPLETE,
        reason=reason,
        lease_expires_at=None,
        finished_at=timezone.now(),
        resume_at=resume_at,
        automatic_resumes=F("automatic_resumes") + (1 if resume_at else 0),
    )
    if not recorded:
        return JudgeOutcome(Outcome.SKIPPED)
    notify_scores_final(run_id)
    return _incomplete_outcome(resume_at)


def _automatic_resume_at(automatic_resumes: int) -> datetime | None:
    """When an incomplete run resumes by itself; None once its automatic resumes are spent."""
    if automatic_resumes < settings.JUDGE_AUTO_RESUMES:
        return timezone.now() + timedelta(seconds=settings.JUDGE_RESUME_DELAY)
    return None


def _incomplete_outcome(resume_at: datetime | None) -> JudgeOutcome:
    return JudgeOutcome(Outcome.INCOMPLETE, resume_in_seconds=settings.JUDGE_RESUME_DELAY if resume_at else None)


_FAILURE_KINDS = (
    ("the judge did not answer", "the judge did not answer"),
    ("unreadable answer", "the answer could not be read"),
    ("the judge endpoint refused", "the judge refused the request"),
    ("the judgment failed unexpectedly", "an unexpected error"),
    ("not asked", "not asked, the run stopped early"),
)


def incomplete_reason(judged: JudgeResult, resume_at) -> str:
    """What the team reads: counts by kind, never the judge's words (they may quote the reference)."""
    kinds = Counter(
        next((label for prefix, label in _FAILURE_KINDS if failure.reason.startswith(prefix)), "other")
        for failure in judged.failures
    )
    listing = ", ".join(f"{count:,} {label}" for label, count in kinds.most_common())
    text = (
        f"{len(judged.failures):,} of {2 * judged.clips:,} judgments failed ({listing}); "
        f"{judged.judged_clips:,} of {judged.clips:,} clips are judged. "
        "L1 and L2 need every clip, so they are not shown yet. "
    )
    if resume_at:
        return text + f"Judging resumes automatically at {resume_at:%H:%M} UTC and asks only the failed clips."
    return text + "The organizers can resume it; only the failed clips will be asked again."
