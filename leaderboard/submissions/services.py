"""Submitting narrations and scoring them.

The status of a submission moves only through :func:`transition`, a
conditional ``UPDATE ... WHERE status = <expected>``: whichever process gets
there first wins, and a task delivered twice does its work once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

import evaluation
from evaluation.errors import EvaluationError
from evaluation.predictions import Problem, file_too_large, no_file
from leaderboard import queueing
from leaderboard.challenges.models import Phase, ReferenceSet
from leaderboard.judging.services import start_judging
from leaderboard.notifications.services import enqueue_on_commit
from leaderboard.statemachine import claim_lease, conditional_transition, lease_retry_seconds
from leaderboard.teams.models import Team
from leaderboard.teams.services import team_of

from . import rules
from .files import FILE_MISSING, NOT_CHARGED, ScoringFailed, read_predictions, validate_predictions
from .models import TRANSITIONS, Result, Status, Submission

logger = logging.getLogger(__name__)


class SubmissionRefused(Exception):
    """The user may not submit here now (not signed in, phase closed, limit...)."""

    def __init__(self, refusal: rules.Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


class SubmissionRejected(Exception):
    """The file is not a valid predictions file. Nothing was stored or charged."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


# -- the state machine ------------------------------------------------------


def transition(
    submission_id: int,
    from_statuses: str | tuple[str, ...],
    to_status: str,
    *,
    condition: Q | None = None,
    **changes: Any,
) -> bool:
    """Move a submission to ``to_status`` if it is in one of ``from_statuses``; see ``conditional_transition``."""
    return conditional_transition(
        Submission, TRANSITIONS, submission_id, from_statuses, to_status, condition=condition, **changes
    )


# -- submitting ---------------------------------------------------------------


@dataclass(frozen=True)
class MethodInfo:
    method_name: str = ""
    method_description: str = ""
    paper_url: str = ""
    code_url: str = ""
    is_public: bool = False

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> MethodInfo:
        """From a form's cleaned data or a serializer's validated data."""
        return cls(
            **{name: fields.get(name) or "" for name in ("method_name", "method_description", "paper_url", "code_url")},
            is_public=bool(fields.get("is_public", False)),
        )


def read_upload(upload: UploadedFile | None, *, oversized_bytes: int | None = None) -> bytes:
    """The uploaded bytes, or a rejection if there are none or too many.

    ``oversized_bytes`` is how far the upload handler read before the cap
    stopped it (see ``leaderboard.uploads``).
    """
    limit = settings.SUBMISSION_MAX_BYTES
    if oversized_bytes is not None:
        raise SubmissionRejected([file_too_large(oversized_bytes, limit)])
    if upload is None:
        raise SubmissionRejected([no_file()])
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise SubmissionRejected([file_too_large(len(data), limit)])
    return data


def submit(
    *,
    user,
    phase: Phase,
    language: str,
    data: bytes,
    filename: str = "",
    method: MethodInfo = MethodInfo(),
) -> Submission:
    """Validate a predictions file and, if it is good, store it and queue its scoring.

    A refused or rejected upload creates nothing and uses none of the limits.
    """
    refuse_unless_eligible(user, phase, language)  # the early answer, before the file is validated
    return _accept(user=user, phase=phase, language=language, data=data, filename=filename, method=method)


def refuse_unless_eligible(user, phase: Phase, language: str) -> None:
    """Raise :class:`SubmissionRefused` if ``rules.submission_refusal`` refuses ``user`` here now.

    An upload asks it twice, through here: early (a cheap answer, before the file is read and
    validated) and again with the team's row locked (the check that counts, see :func:`_accept`).
    """
    refusal = rules.submission_refusal(user, phase, language)
    if refusal is not None:
        raise SubmissionRefused(refusal)


def _accept(*, user, phase: Phase, language: str, data: bytes, filename: str, method: MethodInfo) -> Submission:
    """Validate, then store and queue under the team's row lock, re-checking the rules there."""
    report = validate_predictions(phase, language, data, filename)
    if not report.ok:
        raise SubmissionRejected(report.problems)

    with transaction.atomic():
        # Lock the team row: the uploads of one team queue here, one at a
        # time. The holder counts, creates and commits before the next one
        # counts, so the re-check below sees every earlier submission of the
        # team (READ COMMITTED: a statement after the lock sees what the
        # previous holder committed) and a daily or total limit holds however
        # many uploads race. It also re-reads a ban or an approval decided
        # meanwhile.
        team = Team.objects.select_for_update().get(pk=team_of(user).pk)
        refuse_unless_eligible(user, phase, language)
        submission = Submission(
            phase=phase,
            team=team,
            user=user,
            language=language,
            original_filename=(filename or "")[:255],
            file_size=len(data),
            file_sha256=hashlib.sha256(data).hexdigest(),
            file_format=report.format or "",
            method_name=method.method_name,
            method_description=method.method_description,
            paper_url=method.paper_url,
            code_url=method.code_url,
            is_public=method.is_public,
        )
        submission.predictions_file.save("predictions.json", ContentFile(data), save=False)
        try:
            submission.save()
        except BaseException:
            submission.predictions_file.delete(save=False)
            raise
        transaction.on_commit(partial(enqueue_scoring, submission.pk))
    logger.info("submission %s accepted: %s %s %s bytes", submission.pk, phase, language, len(data))
    return submission


def submit_upload(
    *,
    user,
    phase: Phase,
    language: str,
    upload: UploadedFile | None,
    oversized_bytes: int | None,
    method: MethodInfo,
) -> Submission:
    """:func:`submit` for an uploaded file: what the site, the API and the ``submit`` command call.

    The early answer comes first, so a refused user hears why even without a file (or with one too large).
    """
    refuse_unless_eligible(user, phase, language)
    data = read_upload(upload, oversized_bytes=oversized_bytes)
    return _accept(
        user=user, phase=phase, language=language, data=data, filename=upload.name if upload else "", method=method
    )


def enqueue_scoring(submission_id: int) -> bool:
    """Queue a scoring run. A broker outage leaves the submission waiting, not lost."""
    return queueing.send(
        queueing.SCORE_SUBMISSION,
        submission_id,
        log=logger,
        unsent=f"could not queue submission {submission_id}; it stays submitted until it is queued again",
    )


class ChangeRefused(Exception):
    """The team may not make this change to its submission now (the public flag after the freeze)."""

    def __init__(self, refusal: rules.Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


def update_method(submission: Submission, method: MethodInfo, *, at: datetime | None = None) -> Submission:
    """What a team may change after submitting: the description and the public flag.

    A change of the public flag that ``rules.public_flag_refusal`` forbids
    (the phase is frozen) raises :class:`ChangeRefused` and changes nothing.
    Who may change the submission at all is ``rules.can_change_submission``: ask it first.
    """
    with transaction.atomic():
        # Compare with the stored flag, not ``submission``'s: a bound ModelForm has already set the new one on it.
        stored = Submission.objects.select_for_update(of=("self",)).select_related("phase").get(pk=submission.pk)
        if method.is_public != stored.is_public:
            refusal = rules.public_flag_refusal(stored, at)
            if refusal is not None:
                raise ChangeRefused(refusal)
        Submission.objects.filter(pk=submission.pk).update(
            method_name=method.method_name,
            method_description=method.method_description,
            paper_url=method.paper_url,
            code_url=method.code_url,
            is_public=method.is_public,
            updated_at=timezone.now(),
        )
    submission.refresh_from_db()
    return submission


# -- scoring --------------------------------------------------------------------


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


def duration_text(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60} minutes"


def failure_reasons() -> dict[str, str]:
    return {
        "time_limit": f"Scoring took longer than the limit of {duration_text(settings.SCORING_SOFT_TIME_LIMIT)} "
        f"and was stopped. {NOT_CHARGED} "
        "Please submit again; if it happens twice, contact the organizers.",
        "internal": f"The scorer hit an internal error; the organizers can see it in the logs. {NOT_CHARGED} "
        "Please submit again later.",
        "crashed": f"Scoring was interrupted {settings.SCORING_MAX_ATTEMPTS} times (the worker stopped). "
        f"{NOT_CHARGED} Please contact the organizers.",
        "no_references": f"This phase no longer has references for this language. {NOT_CHARGED} "
        "Please contact the organizers.",
        "file_missing": FILE_MISSING,
    }


def score_submission(submission_id: int) -> ScoringOutcome:
    """Score one submission, from ``submitted`` to ``finished`` or ``failed``."""
    now = timezone.now()
    lease = timedelta(seconds=settings.SCORING_HARD_TIME_LIMIT + 60)
    claimed = claim_lease(
        Submission,
        TRANSITIONS,
        submission_id,
        (Status.SUBMITTED, Status.RUNNING),
        Status.RUNNING,
        now=now,
        lease=lease,
        # A running submission is taken over only once its lease ran out,
        # which happens only when the attempt holding it died.
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
        result = compute_classic(submission)
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
        store_result(submission, result, make_current=True)
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
        return evaluation.score(
            reference_set.narrations, predictions, submission.language, allow_partial=submission.phase.allow_partial
        )
    except EvaluationError as exc:
        logger.exception("submission %s: scoring failed", submission.pk)
        raise ScoringFailed(
            f"Scoring failed: {exc}. This run does not count against your team's limits. "
            "Please submit again later; if it happens twice, contact the organizers."
        ) from exc


def store_result(
    submission: Submission, result: evaluation.ScoreResult, *, make_current: bool, rescore_key: str = ""
) -> Result:
    """Keep a scoring run's numbers and start its judge stage. Call inside a transaction.

    On upload the classic numbers show at once (``make_current``); a re-score
    replaces the current result only once its judge stage is done.
    """
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
    )
    if make_current:
        Submission.objects.filter(pk=submission.pk).update(current_result=stored)
    start_judging(stored, promote_when_complete=not make_current)
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
    try:
        with transaction.atomic():
            stored = store_result(submission, result, make_current=False, rescore_key=request_key)
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


def cancel_submission(submission_id: int) -> bool:
    """Cancel a submission that is waiting or being scored; a running task drops its result."""
    return transition(
        submission_id,
        (Status.SUBMITTED, Status.RUNNING),
        Status.CANCELLED,
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
