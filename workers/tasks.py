"""Celery tasks: glue between the broker and leaderboard services.

Tasks take ids, never objects, and are idempotent: the services claim their
row with a conditional UPDATE, so a message delivered twice works once.
Classic scoring runs on the ``classic`` queue, the LLM judge on ``judge``.
The services queue them by name (``leaderboard.queueing``), never importing this module.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from leaderboard import queueing
from leaderboard.judging import finishing, lifecycle, runner
from leaderboard.notifications import services as notifications
from leaderboard.submissions import moderation, requeue, scoring
from leaderboard.submissions.files import ScoringFailed

from .celery import app

logger = logging.getLogger(__name__)


@app.task(
    bind=True,
    name=queueing.SCORE_SUBMISSION,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.SCORING_SOFT_TIME_LIMIT,
    time_limit=settings.SCORING_HARD_TIME_LIMIT,
    max_retries=None,
)
def score_submission(self, submission_id: int) -> str:
    try:
        outcome = scoring.score_submission(submission_id)
    except SoftTimeLimitExceeded:
        logger.error("submission %s: soft time limit exceeded", submission_id)
        scoring.record_failure(submission_id, "time_limit")
        return scoring.Outcome.FAILED
    except Exception:
        logger.exception("submission %s: unexpected error while scoring", submission_id)
        scoring.record_failure(submission_id, "internal")
        raise
    if outcome.outcome == scoring.Outcome.BUSY:
        # Another attempt holds the submission. If that attempt died (a pool
        # process killed: this is its message, redelivered at once), its lease
        # runs out within LEASE_SECONDS and this retry takes over; otherwise it
        # finds the submission done and does nothing.
        raise self.retry(countdown=outcome.retry_in_seconds)
    return outcome.outcome


@app.task(
    name=queueing.RESCORE_SUBMISSION,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.SCORING_SOFT_TIME_LIMIT,
    time_limit=settings.SCORING_HARD_TIME_LIMIT,
)
def rescore_submission(submission_id: int, request_key: str = "") -> str:
    try:
        result = scoring.rescore(submission_id, request_key)
    except ScoringFailed as failure:
        logger.error("submission %s: re-score failed: %s", submission_id, failure.reason)
        moderation.record_rescore_failure(submission_id, request_key, failure.reason)
        return "failed"
    return "rescored" if result else "skipped"


@app.task(
    bind=True,
    name=queueing.JUDGE_RESULT,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.JUDGE_SOFT_TIME_LIMIT,
    time_limit=settings.JUDGE_HARD_TIME_LIMIT,
    max_retries=None,
)
def judge_result(self, run_id: int) -> str:
    try:
        outcome = runner.judge_result(run_id)
    except SoftTimeLimitExceeded:
        logger.error("judge run %s: soft time limit exceeded", run_id)
        outcome = finishing.record_interruption(
            run_id, f"it took longer than the limit of {settings.JUDGE_SOFT_TIME_LIMIT} seconds"
        )
    except Exception:
        logger.exception("judge run %s: unexpected error", run_id)
        outcome = finishing.record_interruption(run_id, "an internal error (the organizers can see it in the logs)")
    if outcome.outcome == finishing.Outcome.BUSY:
        raise self.retry(countdown=outcome.retry_in_seconds)
    if outcome.resume_in_seconds is not None:
        # The failed clips are asked again later; the answers so far are cached.
        lifecycle.enqueue_judging(run_id, countdown=outcome.resume_in_seconds)
    return outcome.outcome


@app.task(
    name=queueing.NOTIFY_SUBMISSION,
    acks_late=True,
    reject_on_worker_lost=True,
    # A mail server that is down or refuses for now: try again later. The
    # marker of a sent email is written with the send, so a retry never sends twice.
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def notify_submission(submission_id: int, kind: str) -> str:
    return notifications.notify_submission(submission_id, kind)


@app.task(name="workers.tasks.send_digests", acks_late=True)
def send_digests() -> int:
    return notifications.send_digests()


@app.task(name="workers.tasks.requeue_waiting", acks_late=True)
def requeue_waiting() -> dict[str, list]:
    done = requeue.requeue_waiting(
        timedelta(seconds=settings.SWEEP_WAITING_AFTER), requeue.SWEEP_ACTOR, only_idle_queues=True
    )
    return {"submissions": done.submissions, "judge_runs": done.judge_runs, "busy_queues": done.busy_queues}
