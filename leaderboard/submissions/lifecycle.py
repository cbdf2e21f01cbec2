"""The submission's state machine: every status change goes through :func:`transition`.

It is a conditional ``UPDATE ... WHERE status IN (<expected>)``: whichever process gets there
first wins, and a task delivered twice does its work once. Intake creates submissions in
``submitted``; scoring, organizers and the sweep move them on from there.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from leaderboard.statemachine import conditional_transition

from .models import TRANSITIONS, Status, Submission


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


def cancel_submission(submission_id: int) -> bool:
    """Cancel a submission that is waiting or being scored; a running task drops its result."""
    return transition(
        submission_id,
        (Status.SUBMITTED, Status.RUNNING),
        Status.CANCELLED,
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
