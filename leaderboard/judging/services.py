"""The judge stage: L1 and L2 for a result, after its classic metrics.

A result's :class:`JudgeRun` moves through ``JUDGE_TRANSITIONS`` by
conditional UPDATEs, like a submission. Every answer goes to the database
cache as it arrives, so a run that stops (time limit, lost worker, flaky
endpoint) loses nothing: the next attempt asks only what is missing.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from functools import cached_property, partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, IntegerField, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from evaluation.errors import EvaluationError
from evaluation.judge import (
    JudgeConfig,
    JudgeConfigError,
    JudgeIdentity,
    JudgeResult,
    Template,
    TemplateError,
    run_judge,
    templates_for,
    templates_from_data,
)
from leaderboard import queueing
from leaderboard.audit.services import ActionRefused, record, require_reason
from leaderboard.challenges.models import JUDGE_API_KEY_ENV_HELP, Phase, ReferenceSet, is_judge_api_key_env
from leaderboard.notifications.services import enqueue_on_commit
from leaderboard.statemachine import claim_lease, conditional_transition, lease_retry_seconds
from leaderboard.submissions.files import ScoringFailed, read_predictions
from leaderboard.submissions.models import Result, Submission

from .cache import DatabaseJudgeCache
from .models import ACCOUNTING_FIELDS, JUDGE_TRANSITIONS, JudgeRun, JudgeStatus

logger = logging.getLogger(__name__)

#: Failure details kept per run for organizers; the counts are always complete.
MAX_STORED_FAILURES = 500

#: How often (seconds) a running attempt writes its progress and costs, and learns whether it still holds the run.
PROGRESS_SECONDS = 1.0


def transition(run_id: int, from_statuses, to_status: str, *, condition: Q | None = None, **changes: Any) -> bool:
    return conditional_transition(
        JudgeRun, JUDGE_TRANSITIONS, run_id, from_statuses, to_status, condition=condition, **changes
    )


# -- which judge ----------------------------------------------------------------


@dataclass(frozen=True)
class JudgeSetup:
    """The judge a phase uses for a language, or why it has none."""

    config: JudgeConfig | None
    templates: dict[str, Template] = field(default_factory=dict)
    reason: str = ""
    #: Which variable the key came from (never the key), or why none is sent: organizers only.
    key_source: str = ""
    #: The default JUDGE_API_KEY was withheld from the phase's endpoint (another origin).
    key_withheld: bool = False

    @cached_property
    def identity(self) -> JudgeIdentity | None:
        """What the boards publish: model, temperature, template hashes, parsers, signature."""
        if self.config is None:
            return None
        return JudgeIdentity.of(self.config.model, self.config.temperature, self.templates)


NOT_CONFIGURED = (
    "No LLM judge is configured for this phase, so L1 and L2 are not computed; the classic metrics are final."
)


def judge_setup(phase: Phase, language: str) -> JudgeSetup:
    """The phase's judge settings over the ``JUDGE_*`` defaults, for every entry point."""
    if not phase.judge_enabled:
        return JudgeSetup(
            None,
            reason="The organizers turned the LLM judge off for this phase: "
            "L1 and L2 are not computed; the classic metrics are final.",
        )
    values = dict(settings.JUDGE_DEFAULTS)
    key_withheld = False
    if phase.judge_api_key_env:
        if not is_judge_api_key_env(phase.judge_api_key_env):
            # Stored before names were checked: reading it could send any worker secret to the endpoint.
            logger.error(
                "phase %s: judge_api_key_env %r is refused: only %s",
                phase,
                phase.judge_api_key_env,
                JUDGE_API_KEY_ENV_HELP,
            )
            return JudgeSetup(None, reason=MISCONFIGURED)
        values["api_key"] = os.environ.get(phase.judge_api_key_env, "")
        key_source = phase.judge_api_key_env
    elif phase.judge_base_url and not _same_origin(phase.judge_base_url, values.get("base_url")):
        # The default key belongs to JUDGE_BASE_URL's server; a phase pointing elsewhere names its own.
        values["api_key"] = ""
        key_withheld = True
        key_source = (
            "none: JUDGE_API_KEY is only sent to the origin of JUDGE_BASE_URL, and this phase names no key variable"
        )
    else:
        key_source = "JUDGE_API_KEY"
    try:
        config = JudgeConfig.from_values(
            values,
            base_url=phase.judge_base_url or None,
            model=phase.judge_model or None,
            temperature=phase.judge_temperature,
            max_tokens=phase.judge_max_tokens,
        )
        templates = templates_for(language, templates_from_data(phase.judge_templates))
    except (JudgeConfigError, TemplateError) as exc:
        logger.error("phase %s: the judge is misconfigured: %s", phase, exc)
        return JudgeSetup(None, reason=MISCONFIGURED)
    if config is None:
        return JudgeSetup(None, reason=NOT_CONFIGURED)
    return JudgeSetup(config, templates, key_source=key_source, key_withheld=key_withheld)


MISCONFIGURED = (
    "The LLM judge of this phase is misconfigured, so L1 and L2 are not computed yet; the organizers have been told."
)


def _origin(url: str | None) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL, the port made explicit; None if there is no URL or it is malformed."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or {"http": 80, "https": 443}.get(scheme)


def _same_origin(url: str, other: str | None) -> bool:
    origin = _origin(url)
    return origin is not None and origin == _origin(other)


# -- starting and resuming -------------------------------------------------------


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
        if promote_when_complete:
            _promote(run)
        return run
    run = JudgeRun.objects.create(
        result=result,
        submission=submission,
        status=JudgeStatus.QUEUED,
        promote_when_complete=promote_when_complete,
        judge=_run_identity(setup),
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
        _notify_scores_final(run_id)
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
        "only an incomplete, cancelled or unconfigured run can be resumed",
    )


def cancel_by_organizer(actor, run: JudgeRun, reason: str) -> None:
    _organizer_action(
        actor,
        run,
        reason,
        "judge.cancel",
        cancel_judge_run,
        JudgeStatus.CANCELLED,
        "only a queued, running or incomplete run can be cancelled",
    )


def _organizer_action(actor, run: JudgeRun, reason: str, action: str, apply, new_status: str, refusal: str) -> None:
    reason = require_reason(reason)
    with transaction.atomic():
        status = JudgeRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
        if not apply(run.pk):
            raise ActionRefused(f"judge run #{run.pk} is {status}: {refusal}.")
        record(actor, action, run, reason, status=[status, new_status])


def _notify_scores_final(run_id: int) -> None:
    """The judge stopped (complete, incomplete, not configured): the team's scores are final; email them once."""
    submission_id = JudgeRun.objects.filter(pk=run_id).values_list("submission_id", flat=True).first()
    if submission_id is not None:
        enqueue_on_commit(submission_id, "finished")


# -- judging ----------------------------------------------------------------------


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


def judge_result(run_id: int) -> JudgeOutcome:
    """Judge one result: from queued (or a due incomplete run) to complete or incomplete."""
    now = timezone.now()
    lease = timedelta(seconds=settings.JUDGE_HARD_TIME_LIMIT + 60)
    claim = partial(claim_lease, JudgeRun, JUDGE_TRANSITIONS, run_id, now=now, lease=lease)
    claimed = claim(
        (JudgeStatus.QUEUED, JudgeStatus.INCOMPLETE),
        JudgeStatus.RUNNING,
        condition=Q(status=JudgeStatus.QUEUED) | Q(resume_at__lte=now),
        resume_at=None,
    )
    if not claimed:
        # A run whose worker died: its lease ran out.
        claimed = claim(
            JudgeStatus.RUNNING,
            JudgeStatus.RUNNING,
            condition=Q(lease_expires_at__lt=now),
            takeovers=F("takeovers") + 1,
        )
    if not claimed:
        retry = lease_retry_seconds(JudgeRun, run_id, JudgeStatus.RUNNING)
        return JudgeOutcome(Outcome.SKIPPED if retry is None else Outcome.BUSY, retry_in_seconds=retry)

    run = JudgeRun.objects.select_related("submission__phase", "result").get(pk=run_id)
    attempt = run.attempts
    if run.takeovers > settings.JUDGE_MAX_ATTEMPTS:
        return _give_up(
            run_id,
            attempt,
            f"Judging was interrupted {run.takeovers} times (the worker stopped); "
            "the organizers can resume it, and every answer so far is kept.",
        )
    submission = run.submission
    setup = judge_setup(submission.phase, submission.language)
    if setup.config is None:
        if not transition(
            run_id,
            JudgeStatus.RUNNING,
            JudgeStatus.NOT_CONFIGURED,
            condition=Q(attempts=attempt),
            reason=setup.reason,
            lease_expires_at=None,
            finished_at=timezone.now(),
        ):
            return JudgeOutcome(Outcome.SKIPPED)
        if run.promote_when_complete:
            _promote(run)
        _notify_scores_final(run_id)
        return JudgeOutcome(Outcome.NOT_CONFIGURED)

    try:
        references, predictions = _inputs(run)
    except ScoringFailed as failure:
        return _give_up(run_id, attempt, failure.reason)
    JudgeRun.objects.filter(pk=run_id, attempts=attempt).update(
        judge=_run_identity(setup),
        signature=setup.identity.signature,
        total_clips=len(references),
    )
    if setup.key_withheld:
        logger.warning("judge run %s: no key sent to %s (%s)", run_id, setup.config.base_url, setup.key_source)
    book = _AttemptBook(run_id, attempt)
    try:
        judged = run_judge(
            references,
            predictions,
            submission.language,
            setup.config,
            templates=setup.templates,
            cache=_CountingCache(book),
            progress=book.progress,
            should_stop=book.should_stop,
            on_accounting=book.add,
        )
    except EvaluationError as exc:
        logger.exception("judge run %s failed", run_id)
        return _give_up(run_id, attempt, f"The judge could not run: {exc}.")
    finally:
        # Whatever ends the attempt (done, cancelled, taken over, time limit), what it spent counts.
        book.flush_accounting()
    if judged.complete:
        return _complete(run, attempt, judged)
    return _incomplete(run, attempt, judged)


def _inputs(run: JudgeRun) -> tuple[dict[str, str], dict[str, str]]:
    submission = run.submission
    try:
        reference_set = ReferenceSet.objects.get(phase=submission.phase, language=submission.language)
    except ReferenceSet.DoesNotExist:
        raise ScoringFailed("This phase no longer has references for this language.") from None
    if reference_set.content_hash != run.result.reference_hash:
        # Judging new references beside classic numbers from old ones would mix two splits.
        raise ScoringFailed(
            "The phase's references changed after the classic metrics were computed; "
            "this result is not judged. A re-score judges the new references."
        )
    return reference_set.narrations, read_predictions(submission, reference_set.narrations)


def _run_identity(setup: JudgeSetup) -> dict[str, Any]:
    """The identity, plus what only organizers see (the endpoint, where its key came from)."""
    return {**setup.identity.as_dict(), "base_url": setup.config.base_url, "key_source": setup.key_source}


class _AttemptBook:
    """One attempt's running writes: progress while it holds the run, and its costs in any case.

    Costs are added to the run as they accrue (by pk only: a cancelled or taken-over attempt
    still spent them). Progress is written only while the run is ``running`` in this attempt;
    when that UPDATE finds no row, the run was cancelled or taken over and ``should_stop`` says so.
    """

    def __init__(self, run_id: int, attempt: int):
        self.run_id, self.attempt = run_id, attempt
        self.pending: Counter[str] = Counter()
        #: Judgments this attempt found in the cache; written once, as the run's cache hits.
        self.served: int | None = None
        self.served_written = False
        self.last_write = 0.0
        self.lost = False

    def add(self, increments: dict[str, int]) -> None:
        for name, value in increments.items():
            if name == "cache_hits":
                self.served = (self.served or 0) + value
            elif name in ACCOUNTING_FIELDS and value:
                self.pending[name] += value

    def answered(self, judgments: int) -> None:
        self.pending["answered_judgments"] += judgments

    def flush_accounting(self) -> None:
        changes: dict[str, Any] = {name: F(name) + value for name, value in self.pending.items() if value}
        if self.served is not None and not self.served_written:
            # Cache hits: what the cache served minus what this run paid for in earlier attempts
            # (the UPDATE reads answered_judgments before this attempt's answers are added).
            changes["cache_hits"] = Greatest(
                Value(self.served) - F("answered_judgments"), Value(0), output_field=IntegerField()
            )
            self.served_written = True
        if changes:
            JudgeRun.objects.filter(pk=self.run_id).update(**changes)
        self.pending.clear()

    def progress(self, judged_clips: int, total_clips: int) -> None:
        now = time.monotonic()
        if judged_clips != total_clips and now - self.last_write < PROGRESS_SECONDS:
            return
        self.last_write = now
        self.flush_accounting()
        held = JudgeRun.objects.filter(pk=self.run_id, status=JudgeStatus.RUNNING, attempts=self.attempt).update(
            judged_clips=judged_clips, total_clips=total_clips, updated_at=timezone.now()
        )
        if not held and not self.lost:
            logger.info(
                "judge run %s: attempt %s no longer holds the run (cancelled or taken over); stopping",
                self.run_id,
                self.attempt,
            )
            self.lost = True

    def should_stop(self) -> bool:
        return self.lost


class _CountingCache(DatabaseJudgeCache):
    """The database cache, counting the answers this attempt paid for as they are stored."""

    def __init__(self, book: _AttemptBook):
        self.book = book

    def put_many(self, entries) -> None:
        entries = list(entries)
        super().put_many(entries)
        self.book.answered(len(entries))


def _complete(run: JudgeRun, attempt: int, judged: JudgeResult) -> JudgeOutcome:
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
        result.save(update_fields=["metrics", "per_clip", "judge"])
        if run.promote_when_complete:
            _promote(run)
        _notify_scores_final(run.pk)
    logger.info(
        "judge run %s complete: %s calls in this attempt, %s judgments served from the cache",
        run.pk,
        judged.accounting["calls"],
        judged.accounting["cache_hits"],
    )
    return JudgeOutcome(Outcome.COMPLETE)


def _incomplete(run: JudgeRun, attempt: int, judged: JudgeResult) -> JudgeOutcome:
    resumes_left = run.automatic_resumes < settings.JUDGE_AUTO_RESUMES
    resume_at = timezone.now() + timedelta(seconds=settings.JUDGE_RESUME_DELAY) if resumes_left else None
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
        automatic_resumes=F("automatic_resumes") + (1 if resumes_left else 0),
    )
    if not recorded:
        return JudgeOutcome(Outcome.SKIPPED)
    _notify_scores_final(run.pk)
    logger.warning(
        "judge run %s incomplete: %s of %s judgments failed%s",
        run.pk,
        len(judged.failures),
        2 * judged.clips,
        f"; resuming at {resume_at:%H:%M} UTC" if resume_at else "",
    )
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


def _give_up(run_id: int, attempt: int, reason: str) -> JudgeOutcome:
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
        _notify_scores_final(run_id)
    return JudgeOutcome(Outcome.INCOMPLETE)


def record_interruption(run_id: int, why: str) -> JudgeOutcome:
    """The task was stopped (time limit, internal error): what it judged is cached; resume it later."""
    run = JudgeRun.objects.filter(pk=run_id).only("automatic_resumes").first()
    if run is None:
        return JudgeOutcome(Outcome.SKIPPED)
    resumes_left = run.automatic_resumes < settings.JUDGE_AUTO_RESUMES
    resume_at = timezone.now() + timedelta(seconds=settings.JUDGE_RESUME_DELAY) if resumes_left else None
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
        automatic_resumes=F("automatic_resumes") + (1 if resumes_left else 0),
    )
    if not recorded:
        return JudgeOutcome(Outcome.SKIPPED)
    _notify_scores_final(run_id)
    return JudgeOutcome(Outcome.INCOMPLETE, resume_in_seconds=settings.JUDGE_RESUME_DELAY if resume_at else None)


def _promote(run: JudgeRun) -> bool:
    """A re-score's result becomes the one the boards show, unless a newer result already is.

    Two re-scores can finish judging in either order (an incomplete one resumes
    later); the newest result wins, whichever run ends last.
    """
    return (
        Submission.objects.filter(
            Q(current_result__isnull=True) | Q(current_result_id__lt=run.result_id),
            pk=run.submission_id,
        ).update(current_result_id=run.result_id, updated_at=timezone.now())
        == 1
    )
