"""The judge stage in the service: a classic-scored submission, its latest judge run, and waiting for one.
Service layer."""

from __future__ import annotations

import time

from leaderboard.judging.models import JudgeRun
from leaderboard.submissions import services
from leaderboard.submissions.models import Submission

from .service import demo_file


def scored_submission(user, phase, language="en", name=None) -> Submission:
    """Upload and compute the classic metrics in-process; the judge run is left queued."""
    submission = services.submit(
        user=user,
        phase=phase,
        language=language,
        data=demo_file(name or f"val-{language}.json"),
        filename="p.json",
        method=services.MethodInfo(method_name="m", is_public=True),
    )
    assert services.score_submission(submission.pk).outcome == services.Outcome.FINISHED
    submission.refresh_from_db()
    return submission


def run_of(submission: Submission) -> JudgeRun:
    return JudgeRun.objects.filter(submission=submission).latest("created_at")


def wait_for_judge(
    submission_id: int, statuses=("complete", "incomplete"), timeout: float = 300, seen: list | None = None
) -> JudgeRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = JudgeRun.objects.filter(submission_id=submission_id).order_by("-created_at").first()
        if run is not None:
            if seen is not None:
                seen.append(run.judged_clips)
            if run.status in statuses:
                return run
        time.sleep(0.2)
    raise AssertionError(f"the judge run of submission {submission_id} is still {run and run.status}")
