"""One attempt at a judge run: claim it, ask the endpoint for what the cache lacks, then finish.

Every answer goes to the database cache as it arrives, so an attempt that stops (time limit,
lost worker, flaky endpoint) loses nothing: the next attempt asks only what is missing.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from functools import partial
from typing import Any

from django.conf import settings
from django.db.models import F, IntegerField, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext_noop

from evaluation.errors import EvaluationError
from evaluation.judge import run_judge
from leaderboard.challenges.models import ReferenceSet
from leaderboard.statemachine import LeaseHeartbeat, claim_lease, lease_duration, lease_retry_seconds
from leaderboard.submissions.files import ScoringFailed, read_predictions

from .cache import DatabaseJudgeCache
from .finishing import (
    JudgeOutcome,
    Outcome,
    finish_complete,
    finish_incomplete,
    finish_not_configured,
    give_up,
)
from .models import ACCOUNTING_FIELDS, JUDGE_TRANSITIONS, JudgeRun, JudgeStatus
from .setup import judge_setup

logger = logging.getLogger(__name__)

#: How often (seconds) a running attempt writes its progress and costs, and learns whether it still holds the run.
PROGRESS_SECONDS = 1.0


def judge_result(run_id: int) -> JudgeOutcome:
    """Judge one result: from queued (or a due incomplete run) to complete or incomplete."""
    now = timezone.now()
    claim = partial(claim_lease, JudgeRun, JUDGE_TRANSITIONS, run_id, now=now, lease=lease_duration())
    claimed = claim(
        (JudgeStatus.QUEUED, JudgeStatus.INCOMPLETE),
        JudgeStatus.RUNNING,
        condition=Q(status=JudgeStatus.QUEUED) | Q(resume_at__lte=now),
        resume_at=None,
    )
    if not claimed:
        # A run whose worker died: its lease ran out (a live attempt renews it).
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
        return give_up(
            run_id,
            attempt,
            f"Judging was interrupted {run.takeovers} times (the worker stopped); "
            "the organizers can resume it, and every answer so far is kept.",
        )
    submission = run.submission
    setup = judge_setup(submission.phase, submission.language)
    if setup.config is None:
        return finish_not_configured(run, attempt, setup.reason)
    # Renewed until the attempt's work is done: reading the files and asking the judge may take hours.
    with LeaseHeartbeat(JudgeRun, run_id, JudgeStatus.RUNNING, attempt):
        try:
            references, predictions = _inputs(run)
        except ScoringFailed as failure:
            return give_up(run_id, attempt, failure.reason)
        JudgeRun.objects.filter(pk=run_id, attempts=attempt).update(
            judge=setup.run_identity(),
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
            return give_up(run_id, attempt, f"The judge could not run: {exc}.")
        finally:
            # Whatever ends the attempt (done, cancelled, taken over, time limit), what it spent counts.
            book.flush_accounting()
    if judged.complete:
        return finish_complete(run, attempt, judged)
    return finish_incomplete(run, attempt, judged)


def _inputs(run: JudgeRun) -> tuple[dict[str, str], dict[str, str]]:
    submission = run.submission
    try:
        reference_set = ReferenceSet.objects.get(phase=submission.phase, language=submission.language)
    except ReferenceSet.DoesNotExist:
        raise ScoringFailed(gettext_noop("This phase no longer has references for this language.")) from None
    if reference_set.content_hash != run.result.reference_hash:
        # Judging new references beside classic numbers from old ones would mix two splits.
        raise ScoringFailed(
            gettext_noop(
                "The phase's references changed after the classic metrics were computed; "
                "this result is not judged. A re-score judges the new references."
            )
        )
    return reference_set.narrations, read_predictions(submission, reference_set.narrations)


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
