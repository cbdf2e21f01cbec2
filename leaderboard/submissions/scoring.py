"""Scoring a submission: queueing it, claiming it, computing its classic metrics, storing them; re-scoring; warm-up.

A run claims its submission with a lease (``running``) and ends it ``finished`` or ``failed``
through ``lifecycle.transition``; the team hears the outcome by email once the scores are final.
The predictions come from ``files.read_predictions``, parsed and validated once, on upload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

import evaluation
from evaluation.errors import EvaluationError
from leaderboard import queueing
from leaderboard.boards.breakdowns import compute_breakdown
from leaderboard.boards.intervals import intervals_of, method_of, stored_stats
from leaderboard.boards.services import refresh_boards
from leaderboard.challenges.models import Phase, ReferenceSet
from leaderboard.judging.lifecycle import start_judging
from leaderboard.notifications.services import enqueue_on_commit
from leaderboard.statemachine import LeaseHeartbeat, claim_lease, lease_duration, lease_retry_seconds
from leaderboard.stored_texts import stored_template

from .files import FILE_MISSING, ScoringFailed, read_predictions
from .lifecycle import transition
from .models import TRANSITIONS, Result, Status, Submission

logger = logging.getLogger(__name__)

#: Held while this process runs ``evaluation.score``: a worker's warm-up (:func:`warm_up`) and its tasks take
#: turns, so a task that arrives during the warm-up waits for one reference set at most, not for a race.
_scoring = threading.Lock()


class Outcome(StrEnum):
    """How a scoring task ended; a ``str``, so logs, comparisons and Celery's JSON results see the value."""

    FINISHED = "finished"
    FAILED = "failed"
    #: Already finished, failed or cancelled: nothing to do.
    SKIPPED = "skipped"
    #: Another attempt holds a live lease; ask again when it expires.
    BUSY = "busy"


@dataclass(frozen=True)
class ScoringOutcome:
    outcome: Outcome
    retry_in_seconds: float | None = None


def enqueue_scoring(submission_id: int) -> bool:
    """Queue a scoring run. A broker outage leaves the submission waiting, not lost."""
    return queueing.send(
        queueing.SCORE_SUBMISSION,
        submission_id,
        log=logger,
        unsent=f"could not queue submission {submission_id}; it stays submitted until it is queued again",
    )


def duration_text(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60} minutes"


# A failure is stored in English, in one of these sentences, and shown in the reader's language
# (leaderboard.stored_texts): the sentences are whole, so that a translation is too.
TIME_LIMIT_SECONDS = stored_template(
    gettext_noop(
        "Scoring took longer than the limit of %(seconds)s seconds and was stopped. This run does not count "
        "against your team's limits. Please submit again; if it happens twice, contact the organizers."
    )
)
TIME_LIMIT_MINUTES = stored_template(
    gettext_noop(
        "Scoring took longer than the limit of %(minutes)s minutes and was stopped. This run does not count "
        "against your team's limits. Please submit again; if it happens twice, contact the organizers."
    )
)
INTERNAL = gettext_noop(
    "The scorer hit an internal error; the organizers can see it in the logs. This run does not count against "
    "your team's limits. Please submit again later."
)
CRASHED = stored_template(
    gettext_noop(
        "Scoring was interrupted %(attempts)s times (the worker stopped). This run does not count against your "
        "team's limits. Please contact the organizers."
    )
)
NO_REFERENCES = gettext_noop(
    "This phase no longer has references for this language. This run does not count against your team's "
    "limits. Please contact the organizers."
)


def failure_reasons() -> dict[str, str]:
    limit = settings.SCORING_SOFT_TIME_LIMIT
    return {
        "time_limit": TIME_LIMIT_SECONDS % {"seconds": limit}
        if limit < 120
        else TIME_LIMIT_MINUTES % {"minutes": limit // 60},
        "internal": INTERNAL,
        "crashed": CRASHED % {"attempts": settings.SCORING_MAX_ATTEMPTS},
        "no_references": NO_REFERENCES,
        "file_missing": FILE_MISSING,
    }


def score_submission(submission_id: int) -> ScoringOutcome:
    """Score one submission, from ``submitted`` to ``finished`` or ``failed``."""
    now = timezone.now()
    claimed = claim_lease(
        Submission,
        TRANSITIONS,
        submission_id,
        (Status.SUBMITTED, Status.RUNNING),
        Status.RUNNING,
        now=now,
        lease=lease_duration(),
        # A running submission is taken over only once its lease ran out, which happens
        # only when the process of the attempt holding it died (a live one renews it).
        condition=Q(status=Status.SUBMITTED) | Q(lease_expires_at__lt=now),
    )
    if not claimed:
        retry = lease_retry_seconds(Submission, submission_id, Status.RUNNING)
        return ScoringOutcome(Outcome.SKIPPED if retry is None else Outcome.BUSY, retry_in_seconds=retry)

    submission = Submission.objects.select_related("phase").get(pk=submission_id)
    attempt = submission.attempts
    if attempt > settings.SCORING_MAX_ATTEMPTS:
        return _fail(submission_id, attempt, failure_reasons()["crashed"])
    try:
        with LeaseHeartbeat(Submission, submission_id, Status.RUNNING, attempt):
            result = compute_classic(submission)
            # Resampled here, outside the transaction below; the judge's metrics get theirs when it ends.
            result_intervals = intervals_of(result.stats, method_of(submission.phase))
            result_breakdown = compute_breakdown(result.stats)
    except ScoringFailed as failure:
        return _fail(submission_id, attempt, failure.reason)

    with transaction.atomic():
        finished = transition(
            submission_id,
            Status.RUNNING,
            Status.FINISHED,
            condition=Q(attempts=attempt),
            finished_at=timezone.now(),
            lease_expires_at=None,
            error="",
        )
        if not finished:
            logger.warning("submission %s changed while it was scored (cancelled?); result dropped", submission_id)
            return ScoringOutcome(Outcome.SKIPPED)
        store_result(submission, result, make_current=True, intervals=result_intervals, breakdown=result_breakdown)
        # The email goes out once the scores are final: now, or when the judge run ends.
        notify_on_commit(submission_id, "finished")
    logger.info("submission %s finished in %.1f s", submission_id, result.duration_seconds)
    return ScoringOutcome(Outcome.FINISHED)


def compute_classic(submission: Submission) -> evaluation.ScoreResult:
    """The classic metrics of a submission against its phase's current references."""
    try:
        reference_set = ReferenceSet.objects.get(phase=submission.phase, language=submission.language)
    except ReferenceSet.DoesNotExist:
        logger.error(
            "submission %s: phase %s has no %s references", submission.pk, submission.phase, submission.language
        )
        raise ScoringFailed(failure_reasons()["no_references"]) from None
    predictions = read_predictions(submission, reference_set.narrations)
    try:
        with _scoring:
            return evaluation.score(
                reference_set.narrations, predictions, submission.language, allow_partial=submission.phase.allow_partial
            )
    except EvaluationError as exc:
        logger.exception("submission %s: scoring failed", submission.pk)
        raise ScoringFailed(
            f"Scoring failed: {exc}. This run does not count against your team's limits. "
            "Please submit again later; if it happens twice, contact the organizers."
        ) from exc


#: How many clips of each reference set the warm-up scores with real text (the rest as empty narrations): enough
#: to bring METEOR's Java code to speed, while every reference-side cache is still built over the whole set.
WARM_UP_CLIPS = 500


def reference_sets_to_warm(limit: int) -> list[ReferenceSet]:
    """The ``limit`` reference sets of the phases open now that uploads most likely name next: the most
    recently submitted to first, then the later phases (a test phase before its validation phase)."""
    if limit <= 0:
        return []
    open_phases = [phase.pk for phase in Phase.objects.all() if phase.is_open()]
    # The narrations are read by the warm-up, one set at a time: only ``limit`` sets are.
    sets = list(ReferenceSet.objects.filter(phase__in=open_phases).select_related("phase").defer("narrations"))
    latest = {
        (row["phase"], row["language"]): row["latest"]
        for row in Submission.objects.filter(phase__in=open_phases)
        .values("phase", "language")
        .annotate(latest=Max("created_at"))
    }
    never = timezone.now().replace(year=1)
    sets.sort(
        key=lambda reference_set: (
            latest.get((reference_set.phase_id, reference_set.language)) or never,
            reference_set.phase.order,
            reference_set.phase.starts_at,
        ),
        reverse=True,
    )
    return sets[:limit]


def warm_up(reference_sets: list[ReferenceSet], before_each: Callable[[], None] = lambda: None) -> list[str]:
    """Score each reference set once in this process, so its first real submission finds everything warm.

    ``evaluation.score`` fills whatever this process keeps per reference set (tokenized references, the
    BLEU and CIDEr reference sides) and brings METEOR's Java process up to speed. The predictions are
    each clip's predecessor's reference on :data:`WARM_UP_CLIPS` clips and empty elsewhere (the reference
    sides need the whole set, METEOR only some real text). ``before_each`` is called before each set (a
    worker waits there while tasks run). Returns what was warmed, for the log.
    """
    warmed = []
    for reference_set in reference_sets:
        before_each()
        references = reference_set.narrations
        ids = sorted(references)[: WARM_UP_CLIPS + 1]
        predictions = {clip: references[previous] for previous, clip in zip(ids, ids[1:], strict=False)}
        try:
            with _scoring:
                evaluation.score(references, predictions, reference_set.language, allow_partial=True)
        except EvaluationError:
            logger.exception("could not warm up %s %s", reference_set.phase, reference_set.language)
            continue
        warmed.append(f"{reference_set.phase} {reference_set.language}")
    return warmed


def store_result(
    submission: Submission,
    result: evaluation.ScoreResult,
    *,
    make_current: bool,
    rescore_key: str = "",
    intervals: dict | None = None,
    breakdown: dict | None = None,
) -> Result:
    """Keep a scoring run's numbers and start its judge stage. Call inside a transaction.

    On upload the classic numbers show at once (``make_current``); a re-score
    replaces the current result only once its judge stage is done. ``intervals``:
    the result's bootstrap intervals (``boards.intervals.intervals_of``), computed
    here when not given; ``breakdown`` its per-movie and per-genre scores (``boards.breakdowns``), likewise.
    """
    if intervals is None:
        intervals = intervals_of(result.stats, method_of(submission.phase))
    if breakdown is None:
        breakdown = compute_breakdown(result.stats)
    stored = Result.objects.create(
        submission=submission,
        metrics=result.metrics,
        per_clip=result.per_clip,
        clips=result.clips,
        missing_clips=result.missing_clips,
        evaluation_version=result.versions["evaluation"],
        protocol=result.versions["protocol"],
        versions=result.versions,
        reference_hash=result.reference_hash,
        duration_seconds=result.duration_seconds,
        rescore_key=rescore_key,
        clip_stats=stored_stats(result.stats) if result.stats is not None else None,
        intervals=intervals,
        breakdown=breakdown,
    )
    if make_current:
        Submission.objects.filter(pk=submission.pk).update(current_result=stored)
    start_judging(stored, promote_when_complete=not make_current)
    if make_current:
        refresh_boards(submission.phase_id, submission.language, team_id=submission.team_id)
    return stored


def rescore(submission_id: int, request_key: str = "") -> Result | None:
    """Score a finished submission again and keep the new result beside the old ones.

    The boards keep showing the current result until the new one has its
    stage scores (or the phase has no judge); judge answers already in the
    cache cost no calls. ``request_key`` names the re-score request: a second
    delivery of the same request adds nothing. Returns None when the
    submission is not finished or the request already has its result.
    """
    submission = Submission.objects.select_related("phase").get(pk=submission_id)
    if submission.status != Status.FINISHED:
        return None
    if request_key and Result.objects.filter(submission=submission, rescore_key=request_key).exists():
        logger.info("submission %s: re-score %s already done; skipped", submission_id, request_key)
        return None
    result = compute_classic(submission)
    result_intervals = intervals_of(result.stats, method_of(submission.phase))
    result_breakdown = compute_breakdown(result.stats)
    try:
        with transaction.atomic():
            stored = store_result(
                submission,
                result,
                make_current=False,
                rescore_key=request_key,
                intervals=result_intervals,
                breakdown=result_breakdown,
            )
    except IntegrityError:
        # A duplicate delivery of the same request stored its result first.
        logger.info("submission %s: re-score %s stored by another delivery; skipped", submission_id, request_key)
        return None
    logger.info("submission %s re-scored: result %s", submission_id, stored.pk)
    return stored


def enqueue_rescore(submission_id: int, request_key: str = "") -> bool:
    return queueing.send(
        queueing.RESCORE_SUBMISSION,
        submission_id,
        request_key,
        log=logger,
        unsent=f"could not queue the re-score of submission {submission_id}",
    )


def record_failure(submission_id: int, reason_key: str) -> bool:
    """Mark a running submission failed for a reason the task saw (time limit, crash)."""
    return _mark_failed(submission_id, failure_reasons()[reason_key])


def _fail(submission_id: int, attempt: int, reason: str) -> ScoringOutcome:
    _mark_failed(submission_id, reason, condition=Q(attempts=attempt))
    return ScoringOutcome(Outcome.FAILED)


def _mark_failed(submission_id: int, reason: str, condition: Q | None = None) -> bool:
    failed = transition(
        submission_id,
        Status.RUNNING,
        Status.FAILED,
        condition=condition,
        finished_at=timezone.now(),
        lease_expires_at=None,
        error=reason,
    )
    if failed:
        notify_on_commit(submission_id, "failed")
    return failed


def notify_on_commit(submission_id: int, kind: str) -> None:
    """Email the team's submitter the outcome (a Celery task, after the commit; sent once)."""
    enqueue_on_commit(submission_id, kind)
