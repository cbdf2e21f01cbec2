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
from functools import cached_property, partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from evaluation.errors import EvaluationError
from evaluation.judge import (
    JudgeConfig,
    JudgeConfigError,
    JudgeResult,
    Template,
    TemplateError,
    judge_identity,
    run_judge,
    templates_for,
    templates_from_data,
)
from leaderboard.audit.services import ActionRefused, record, require_reason
from leaderboard.challenges.models import Phase, ReferenceSet
from leaderboard.statemachine import conditional_transition
from leaderboard.submissions.models import Result, Submission
from leaderboard.submissions.services import ScoringFailed, read_predictions

from .cache import DatabaseJudgeCache
from .models import ACCOUNTING_FIELDS, JUDGE_TRANSITIONS, JudgeRun, JudgeStatus

logger = logging.getLogger(__name__)

#: Failure details kept per run for organizers; the counts are always complete.
MAX_STORED_FAILURES = 500


def transition(run_id: int, from_statuses, to_status: str, *, condition: Q | None = None, **changes: Any) -> bool:
    return conditional_transition(JudgeRun, JUDGE_TRANSITIONS, run_id, from_statuses, to_status,
                                  condition=condition, **changes)


# -- which judge ----------------------------------------------------------------


@dataclass(frozen=True)
class JudgeSetup:
    """The judge a phase uses for a language, or why it has none."""

    config: JudgeConfig | None
    templates: dict[str, Template] = field(default_factory=dict)
    reason: str = ""

    @cached_property
    def identity(self) -> dict[str, Any] | None:
        """What the boards publish: model, temperature, template hashes, parsers, signature."""
        if self.config is None:
            return None
        return judge_identity(self.config.model, self.config.temperature, self.templates)


NOT_CONFIGURED = (
    "No LLM judge is configured for this phase, so L1 and L2 are not computed; the classic metrics are final."
)


def judge_setup(phase: Phase, language: str) -> JudgeSetup:
    """The phase's judge settings over the ``JUDGE_*`` defaults, for every entry point."""
    if not phase.judge_enabled:
        return JudgeSetup(None, reason="The organizers turned the LLM judge off for this phase: "
                                       "L1 and L2 are not computed; the classic metrics are final.")
    values = dict(settings.JUDGE_DEFAULTS)
    if phase.judge_api_key_env:
        values["api_key"] = os.environ.get(phase.judge_api_key_env, "")
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
        return JudgeSetup(None, reason="The LLM judge of this phase is misconfigured, so L1 and L2 are not "
                                       "computed yet; the organizers have been told.")
    if config is None:
        return JudgeSetup(None, reason=NOT_CONFIGURED)
    return JudgeSetup(config, templates)


# -- starting and resuming -------------------------------------------------------


def start_judging(result: Result, *, promote_when_complete: bool = False) -> JudgeRun:
    """Create the judge stage of a new result and queue it. Call inside the result's transaction."""
    submission = result.submission
    setup = judge_setup(submission.phase, submission.language)
    if setup.config is None:
        run = JudgeRun.objects.create(
            result=result, submission=submission, status=JudgeStatus.NOT_CONFIGURED, reason=setup.reason,
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
        signature=setup.identity["signature"],
        total_clips=result.clips,
    )
    transaction.on_commit(partial(enqueue_judging, run.pk))
    return run


def enqueue_judging(run_id: int, *, countdown: float | None = None) -> bool:
    """Queue a judge run on the judge queue. A broker outage leaves it queued, for ``resume_judging``."""
    from workers.tasks import judge_result

    try:
        judge_result.apply_async((run_id,), countdown=countdown)
    except Exception:
        logger.exception("could not queue judge run %s", run_id)
        return False
    return True


def resume(run_id: int) -> bool:
    """Ask the judge again for what is missing: an organizer's resume of an incomplete run."""
    with transaction.atomic():
        resumed = transition(
            run_id,
            (JudgeStatus.INCOMPLETE, JudgeStatus.NOT_CONFIGURED, JudgeStatus.CANCELLED),
            JudgeStatus.QUEUED,
            reason="",
            resume_at=None,
            lease_expires_at=None,
        )
        if resumed:
            transaction.on_commit(partial(enqueue_judging, run_id))
    return resumed


def cancel(run_id: int) -> bool:
    cancelled = transition(run_id, (JudgeStatus.QUEUED, JudgeStatus.RUNNING, JudgeStatus.INCOMPLETE),
                           JudgeStatus.CANCELLED, finished_at=timezone.now(), lease_expires_at=None, resume_at=None)
    if cancelled:
        _notify_scores_final(run_id)
    return cancelled


def resume_by_organizer(actor, run: JudgeRun, reason: str) -> None:
    """An organizer's resume, with the audit event in the same transaction."""
    _organizer_action(actor, run, reason, "judge.resume", resume, JudgeStatus.QUEUED,
                      "only an incomplete, cancelled or unconfigured run can be resumed")


def cancel_by_organizer(actor, run: JudgeRun, reason: str) -> None:
    _organizer_action(actor, run, reason, "judge.cancel", cancel, JudgeStatus.CANCELLED,
                      "only a queued, running or incomplete run can be cancelled")


def _organizer_action(actor, run: JudgeRun, reason: str, action: str, apply, new_status: str, refusal: str) -> None:
    reason = require_reason(reason)
    with transaction.atomic():
        status = JudgeRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
        if not apply(run.pk):
            raise ActionRefused(f"judge run #{run.pk} is {status}: {refusal}.")
        record(actor, action, run, reason, status=[status, new_status])


def _notify_scores_final(run_id: int) -> None:
    """The judge stopped (complete, incomplete, not configured): the team's scores are final; email them once."""
    from leaderboard.notifications.services import enqueue_on_commit

    submission_id = JudgeRun.objects.filter(pk=run_id).values_list("submission_id", flat=True).first()
    if submission_id is not None:
        enqueue_on_commit(submission_id, "finished")


# -- judging ----------------------------------------------------------------------


class Outcome:
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    NOT_CONFIGURED = "not_configured"
    SKIPPED = "skipped"
    BUSY = "busy"


@dataclass(frozen=True)
class JudgeOutcome:
    outcome: str
    retry_in_seconds: float | None = None
    #: Set when the run is incomplete and will be resumed automatically.
    resume_in_seconds: float | None = None


def judge_result(run_id: int) -> JudgeOutcome:
    """Judge one result: from queued (or a due incomplete run) to complete or incomplete."""
    now = timezone.now()
    lease = timedelta(seconds=settings.JUDGE_HARD_TIME_LIMIT + 60)
    claim = {"started_at": now, "lease_expires_at": now + lease, "attempts": F("attempts") + 1}
    claimed = transition(
        run_id, (JudgeStatus.QUEUED, JudgeStatus.INCOMPLETE), JudgeStatus.RUNNING,
        condition=Q(status=JudgeStatus.QUEUED) | Q(resume_at__lte=now), resume_at=None, **claim,
    )
    if not claimed:
        # A run whose worker died: its lease ran out.
        claimed = transition(run_id, JudgeStatus.RUNNING, JudgeStatus.RUNNING,
                             condition=Q(lease_expires_at__lt=now), takeovers=F("takeovers") + 1, **claim)
    if not claimed:
        current = JudgeRun.objects.filter(pk=run_id).values("status", "lease_expires_at").first()
        if current and current["status"] == JudgeStatus.RUNNING and current["lease_expires_at"]:
            wait = (current["lease_expires_at"] - timezone.now()).total_seconds()
            return JudgeOutcome(Outcome.BUSY, retry_in_seconds=max(1.0, wait + 1))
        return JudgeOutcome(Outcome.SKIPPED)

    run = JudgeRun.objects.select_related("submission__phase", "result").get(pk=run_id)
    attempt = run.attempts
    if run.takeovers > settings.JUDGE_MAX_ATTEMPTS:
        return _give_up(run_id, attempt, f"Judging was interrupted {run.takeovers} times (the worker stopped); "
                                         "the organizers can resume it, and every answer so far is kept.")
    submission = run.submission
    setup = judge_setup(submission.phase, submission.language)
    if setup.config is None:
        if not transition(run_id, JudgeStatus.RUNNING, JudgeStatus.NOT_CONFIGURED, condition=Q(attempts=attempt),
                          reason=setup.reason, lease_expires_at=None, finished_at=timezone.now()):
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
        judge=_run_identity(setup), signature=setup.identity["signature"], total_clips=len(references),
    )
    try:
        judged = run_judge(
            references, predictions, submission.language, setup.config,
            templates=setup.templates, cache=DatabaseJudgeCache(), progress=_progress_writer(run_id, attempt),
        )
    except EvaluationError as exc:
        logger.exception("judge run %s failed", run_id)
        return _give_up(run_id, attempt, f"The judge could not run: {exc}.")
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
        raise ScoringFailed("The phase's references changed after the classic metrics were computed; "
                            "this result is not judged. A re-score judges the new references.")
    return reference_set.narrations, read_predictions(submission, reference_set.narrations)


def _run_identity(setup: JudgeSetup) -> dict[str, Any]:
    """The identity, plus what only organizers see (the endpoint)."""
    return {**setup.identity, "base_url": setup.config.base_url}


def _progress_writer(run_id: int, attempt: int):
    last_write = 0.0

    def write(judged_clips: int, total_clips: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        if judged_clips == total_clips or now - last_write >= 1.0:
            last_write = now
            JudgeRun.objects.filter(pk=run_id, attempts=attempt).update(
                judged_clips=judged_clips, total_clips=total_clips, updated_at=timezone.now()
            )

    return write


def _accounting_changes(judged: JudgeResult) -> dict[str, Any]:
    """Add this attempt's costs to the run's."""
    return {name: F(name) + judged.accounting[name] for name in ACCOUNTING_FIELDS}


def _complete(run: JudgeRun, attempt: int, judged: JudgeResult) -> JudgeOutcome:
    with transaction.atomic():
        done = transition(
            run.pk, JudgeStatus.RUNNING, JudgeStatus.COMPLETE, condition=Q(attempts=attempt),
            judged_clips=judged.judged_clips, total_clips=judged.clips, failed_judgments=0, failures=[],
            reason="", lease_expires_at=None, finished_at=timezone.now(), **_accounting_changes(judged),
        )
        if not done:
            logger.warning("judge run %s changed while it ran (cancelled?); its numbers are dropped", run.pk)
            return JudgeOutcome(Outcome.SKIPPED)
        result = Result.objects.select_for_update().get(pk=run.result_id)
        stage_per_clip = judged.per_clip
        result.metrics = {**result.metrics, **judged.metrics}
        result.per_clip = {clip_id: {**scores, **stage_per_clip.get(clip_id, {})}
                           for clip_id, scores in result.per_clip.items()}
        result.judge = {key: value for key, value in judged.judge.items()}
        result.save(update_fields=["metrics", "per_clip", "judge"])
        if run.promote_when_complete:
            _promote(run)
        _notify_scores_final(run.pk)
    logger.info("judge run %s complete: %s calls, %s cached", run.pk, judged.accounting["calls"],
                judged.accounting["cache_hits"])
    return JudgeOutcome(Outcome.COMPLETE)


def _incomplete(run: JudgeRun, attempt: int, judged: JudgeResult) -> JudgeOutcome:
    resumes_left = run.automatic_resumes < settings.JUDGE_AUTO_RESUMES
    resume_at = timezone.now() + timedelta(seconds=settings.JUDGE_RESUME_DELAY) if resumes_left else None
    recorded = transition(
        run.pk, JudgeStatus.RUNNING, JudgeStatus.INCOMPLETE, condition=Q(attempts=attempt),
        judged_clips=judged.judged_clips, total_clips=judged.clips, failed_judgments=len(judged.failures),
        failures=[failure.to_dict() for failure in judged.failures[:MAX_STORED_FAILURES]],
        reason=incomplete_reason(judged, resume_at), lease_expires_at=None, finished_at=timezone.now(),
        resume_at=resume_at, automatic_resumes=F("automatic_resumes") + (1 if resumes_left else 0),
        **_accounting_changes(judged),
    )
    if not recorded:
        return JudgeOutcome(Outcome.SKIPPED)
    _notify_scores_final(run.pk)
    logger.warning("judge run %s incomplete: %s of %s judgments failed%s", run.pk, len(judged.failures),
                   2 * judged.clips, f"; resuming at {resume_at:%H:%M} UTC" if resume_at else "")
    return JudgeOutcome(Outcome.INCOMPLETE,
                        resume_in_seconds=settings.JUDGE_RESUME_DELAY if resume_at else None)


_FAILURE_KINDS = (
    ("the judge did not answer", "the judge did not answer"),
    ("unreadable answer", "the answer could not be read"),
    ("the judge endpoint refused", "the judge refused the request"),
    ("not asked", "not asked after the judge refused"),
)


def incomplete_reason(judged: JudgeResult, resume_at) -> str:
    """What the team reads: counts by kind, never the judge's words (they may quote the reference)."""
    kinds = Counter(
        next((label for prefix, label in _FAILURE_KINDS if failure.reason.startswith(prefix)), "other")
        for failure in judged.failures
    )
    listing = ", ".join(f"{count:,} {label}" for label, count in kinds.most_common())
    text = (f"{len(judged.failures):,} of {2 * judged.clips:,} judgments failed ({listing}); "
            f"{judged.judged_clips:,} of {judged.clips:,} clips are judged. "
            "L1 and L2 need every clip, so they are not shown yet. ")
    if resume_at:
        return text + f"Judging resumes automatically at {resume_at:%H:%M} UTC and asks only the failed clips."
    return text + "The organizers can resume it; only the failed clips will be asked again."


def _give_up(run_id: int, attempt: int, reason: str) -> JudgeOutcome:
    if transition(run_id, JudgeStatus.RUNNING, JudgeStatus.INCOMPLETE, condition=Q(attempts=attempt),
                  reason=reason, lease_expires_at=None, finished_at=timezone.now(), resume_at=None):
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
    recorded = transition(run_id, JudgeStatus.RUNNING, JudgeStatus.INCOMPLETE, reason=reason,
                          lease_expires_at=None, finished_at=timezone.now(), resume_at=resume_at,
                          automatic_resumes=F("automatic_resumes") + (1 if resumes_left else 0))
    if not recorded:
        return JudgeOutcome(Outcome.SKIPPED)
    _notify_scores_final(run_id)
    return JudgeOutcome(Outcome.INCOMPLETE, resume_in_seconds=settings.JUDGE_RESUME_DELAY if resume_at else None)


def _promote(run: JudgeRun) -> bool:
    """A re-score's result becomes the one the boards show, unless a newer result already is.

    Two re-scores can finish judging in either order (an incomplete one resumes
    later); the newest result wins, whichever run ends last.
    """
    return Submission.objects.filter(
        Q(current_result__isnull=True) | Q(current_result_id__lt=run.result_id), pk=run.submission_id,
    ).update(current_result_id=run.result_id, updated_at=timezone.now()) == 1
