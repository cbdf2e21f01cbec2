"""Reading judge runs, and the judge a phase publishes. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Sum

from evaluation.judge import BUILTIN
from leaderboard.challenges.models import Phase
from leaderboard.submissions.models import Submission

from .models import ACCOUNTING_FIELDS, JudgeRun, JudgeStatus
from .setup import judge_setup, translated_reason


def latest_run(submission: Submission) -> JudgeRun | None:
    """The judge stage of the submission's newest result (a re-score in progress included)."""
    runs = getattr(submission, "_prefetched_objects_cache", {}).get("judge_runs")
    if runs is not None:
        return max(runs, key=lambda run: (run.created_at, run.pk), default=None)
    return submission.judge_runs.order_by("-created_at", "-pk").first()


def accounting_total(submission: Submission) -> dict[str, int]:
    """What every judge run of the submission cost together (the upload's and each re-score's): organizers only."""
    runs: Iterable[JudgeRun] | None = getattr(submission, "_prefetched_objects_cache", {}).get("judge_runs")
    if runs is None:
        sums = submission.judge_runs.aggregate(
            **{name: Sum(name) for name in ACCOUNTING_FIELDS}, failures=Sum("failed_judgments")
        )
        count = submission.judge_runs.count()
        return {name: value or 0 for name, value in sums.items()} | {"runs": count}
    runs = list(runs)
    totals = {name: 0 for name in (*ACCOUNTING_FIELDS, "failures")}
    for run in runs:
        for name, value in run.accounting().items():
            totals[name] += value
    return totals | {"runs": len(runs)}


def submission_judge(submission: Submission, *, with_accounting: bool) -> dict[str, Any] | None:
    """The judge stage the API and the submission page show: the newest run's, and (organizers) its accounting
    beside the total over all the submission's runs."""
    summary = judge_summary(
        latest_run(submission), current_result_id=submission.current_result_id, with_accounting=with_accounting
    )
    if summary is not None and with_accounting:
        summary["accounting_total"] = accounting_total(submission)
    return summary


def judge_summary(
    run: JudgeRun | None, *, current_result_id: int | None, with_accounting: bool
) -> dict[str, Any] | None:
    """What the API and the pages show of a judge stage. Accounting and failure details are for organizers."""
    if run is None:
        return None
    summary = {
        "status": run.status,
        "status_display": run.get_status_display(),
        "reason": translated_reason(run.reason),
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


def published_judge(phase: Phase, languages: Iterable[str]) -> dict[str, Any]:
    """The phase's judge as participants need it to reproduce the stage numbers offline.

    ``templates`` is exactly what ``--judge-templates FILE`` (``templates_from_data``)
    reads: every stage and language, ours or the phase's own, so the file
    gives the boards' template hashes. ``languages`` holds the rest: model,
    temperature, max_tokens, response format, hashes, parsers, signature.
    Never the endpoint (it may be an internal host or carry credentials),
    the key, or the name of the variable holding it.
    """
    described: dict[str, Any] = {}
    templates: dict[str, dict[str, dict[str, str]]] = {}
    for language in languages:
        setup = judge_setup(phase, language)
        if setup.config is None:
            described[language] = {"configured": False, "reason": translated_reason(setup.reason)}
            continue
        identity = setup.identity
        described[language] = {
            "configured": True,
            "reason": "",
            "model": identity.model,
            "temperature": identity.temperature,
            "max_tokens": setup.config.max_tokens,
            "response_format": setup.config.response_format,
            "signature": identity.signature,
            "stages": {
                stage: {
                    **identity.stages[stage],
                    "source": "builtin" if template == BUILTIN.get((stage, language)) else "phase",
                }
                for stage, template in setup.templates.items()
            },
        }
        for stage, template in setup.templates.items():
            templates.setdefault(stage, {})[language] = template.to_dict()
    return {"languages": described, "templates": templates}
