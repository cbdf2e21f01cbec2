"""The judge stage in the service: a classic-scored submission, its latest judge run, and waiting for one.
Service layer."""

from __future__ import annotations

import time

from leaderboard.challenges.models import JudgeSettings, Phase
from leaderboard.challenges.selectors import judge_settings_of
from leaderboard.judging.models import JudgeRun
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Submission

from .service import demo_file


def set_judge(phase: Phase, **values) -> JudgeSettings:
    """Store ``values`` (``JudgeSettings`` fields: base_url="...", model="...") as the phase's judge settings,
    checked as the admin and the bundle loader check them."""
    settings = judge_settings_of(phase)
    for name, value in values.items():
        setattr(settings, name, value)
    settings.full_clean()
    settings.save()
    return settings


def scored_submission(user, phase, language="en", name=None) -> Submission:
    """Upload and compute the classic metrics in-process; the judge run is left queued."""
    submission = intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=demo_file(name or f"val-{language}.json"),
        filename="p.json",
        method=intake.MethodInfo(method_name="m", is_public=True),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
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
