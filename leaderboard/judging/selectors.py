"""Reading judge runs. Nothing here writes."""

from __future__ import annotations

from typing import Any

from leaderboard.submissions.models import Submission

from .models import JudgeRun, JudgeStatus


def latest_run(submission: Submission) -> JudgeRun | None:
    """The judge stage of the submission's newest result (a re-score in progress included)."""
    runs = getattr(submission, "_prefetched_objects_cache", {}).get("judge_runs")
    if runs is not None:
        return max(runs, key=lambda run: (run.created_at, run.pk), default=None)
    return submission.judge_runs.order_by("-created_at", "-pk").first()


def judge_summary(run: JudgeRun | None, *, current_result_id: int | None, with_accounting: bool) -> dict[str, Any] | None:
    """What the API and the pages show of a judge stage. Accounting and failure details are for organizers."""
    if run is None:
        return None
    summary = {
        "status": run.status,
        "status_display": run.get_status_display(),
        "reason": run.reason,
        "judged_clips": run.judged_clips,
        "total_clips": run.total_clips,
        "progress": round(run.progress, 4),
        "failed_judgments": run.failed_judgments,
        "resume_at": run.resume_at,
        "model": run.model,
        "signature": run.signature,
        "for_current_result": run.result_id == current_result_id,
        "done": run.status in (JudgeStatus.COMPLETE, JudgeStatus.NOT_CONFIGURED, JudgeStatus.CANCELLED)
        or (run.status == JudgeStatus.INCOMPLETE and run.resume_at is None),
    }
    if with_accounting:
        summary["accounting"] = run.accounting()
        summary["base_url"] = run.judge.get("base_url", "")
        summary["run_id"] = run.pk
    return summary
