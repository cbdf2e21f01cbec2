"""Celery tasks: glue between the broker and leaderboard services.

Tasks take ids, never objects, and are idempotent: the service claims the
submission with a conditional UPDATE, so a message delivered twice scores once.
"""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from leaderboard.submissions import services

from .celery import app

logger = logging.getLogger(__name__)


@app.task(
    bind=True,
    name="workers.tasks.score_submission",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.SCORING_SOFT_TIME_LIMIT,
    time_limit=settings.SCORING_HARD_TIME_LIMIT,
    max_retries=None,
)
def score_submission(self, submission_id: int) -> str:
    try:
        outcome = services.score_submission(submission_id)
    except SoftTimeLimitExceeded:
        logger.error("submission %s: soft time limit exceeded", submission_id)
        services.record_failure(submission_id, "time_limit")
        return services.Outcome.FAILED
    except Exception:
        logger.exception("submission %s: unexpected error while scoring", submission_id)
        services.record_failure(submission_id, "internal")
        raise
    if outcome.outcome == services.Outcome.BUSY:
        # Another attempt holds the submission. If that attempt died, its
        # lease runs out and this retry takes over; otherwise it finds the
        # submission done and does nothing.
        raise self.retry(countdown=outcome.retry_in_seconds)
    return outcome.outcome
