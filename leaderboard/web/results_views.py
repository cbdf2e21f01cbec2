"""A team's own results (issue 12, "Seeing one's own results"): the per-clip browser of a submission and the
comparison of two or more submissions. The result history is on the submission page
(``templates/web/_result_history.html``, through the ``results`` template tags).

Who sees what is ``rules``': a submission's team and its phase's organizers see these pages (404 for anyone
else); per-clip scores, references and narrations only where ``rules.can_view_clip_scores`` allows (public
references). On a hidden phase the scores are rounded for all but its organizers (``boards.disclosure``).
Queries are in ``submissions.selectors``; every string reaches the page through Django's escaping.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.utils.translation import gettext

from evaluation.metrics import CLASSIC_METRICS, METRICS, STAGE_METRICS
from leaderboard.boards.disclosure import disclosed_intervals, disclosed_scores
from leaderboard.metric_texts import shown_metric
from leaderboard.submissions import rules, selectors
from leaderboard.submissions.models import Submission

CLIPS_PER_PAGE = 100
DIFFERING_CLIPS = 20


def precision(metric: str) -> int:
    info = METRICS.get(metric)
    return info.precision if info is not None else 4


def label(metric: str) -> str:
    return shown_metric(metric).label


def shown(value, metric: str, *, signed: bool = False) -> str:
    """A score at its metric's display precision (``+`` before a positive difference), or an en dash."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return f"{value:+.{precision(metric)}f}" if signed else f"{value:.{precision(metric)}f}"


def submission_clips(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.with_details(), pk=submission_id)
    if not rules.can_view_submission(request.user, submission):
        raise Http404
    context = {"submission": submission, "phase": submission.phase}
    if not rules.can_view_clip_scores(request.user, submission):
        # A hidden phase: no reference, no narration, no per-clip score; the per-movie breakdown is linked.
        return render(request, "web/submission_clips.html", {**context, "hidden": True})
    per_clip = selectors.per_clip_of(submission.current_result_id)
    metrics = selectors.clip_metrics(per_clip)
    metric = request.GET.get("sort")
    if metric not in metrics:
        metric = selectors.default_clip_metric(submission.phase, metrics)
    order = "desc" if request.GET.get("order") == "desc" else "asc"
    narrations = selectors.submission_narrations(submission)
    rows = selectors.clip_rows(submission, per_clip, with_references=True, narrations=narrations or {})
    if metric:
        rows = selectors.sort_clip_rows(rows, metric, descending=order == "desc")
    page = Paginator(rows, CLIPS_PER_PAGE).get_page(request.GET.get("page"))

    def link(**params) -> str:
        return "?" + urlencode({"sort": metric, "order": order, **params})

    context.update(
        {
            "hidden": False,
            "has_scores": bool(per_clip),
            "narrations_missing": narrations is None and bool(per_clip),
            "metric": metric,
            "metric_label": label(metric) if metric else "",
            "order": order,
            "columns": [
                {
                    "name": name,
                    "label": label(name),
                    "current": name == metric,
                    # The sorted column's link turns the order round; another column's sorts it worst first.
                    "link": "?"
                    + urlencode(
                        {"sort": name, "order": ("desc" if order == "asc" else "asc") if name == metric else "asc"}
                    ),
                    "aria_sort": ("ascending" if order == "asc" else "descending") if name == metric else "none",
                }
                for name in metrics
            ],
            "page": page,
            "rows": [{"clip": row, "cells": [shown(row.scores.get(name), name) for name in metrics]} for row in page],
            "previous_link": link(page=page.previous_page_number()) if page.has_previous() else "",
            "next_link": link(page=page.next_page_number()) if page.has_next() else "",
        }
    )
    return render(request, "web/submission_clips.html", context)


def compare(request: HttpRequest) -> HttpResponse:
    ids = selectors.parse_ids(request.GET.getlist("ids"))
    if ids is None:
        return _refused(request, gettext("Submission ids are numbers, separated by commas: ?ids=1,2,3."))
    submissions = selectors.submissions_by_ids(ids)
    # Another team's submission (or one that does not exist) is not found, as on its own page.
    if len(submissions) != len(ids) or not all(rules.can_view_submission(request.user, s) for s in submissions):
        raise Http404
    refusal = selectors.compare_refusal(submissions)
    if refusal:
        return _refused(request, refusal, submissions)
    phase = submissions[0].phase
    results = [submission.current_result for submission in submissions]
    present = {name for result in results if result for name in result.metrics}
    metrics = [name for name in (*STAGE_METRICS, *CLASSIC_METRICS) if name in present] + sorted(present - set(METRICS))
    scores = [disclosed_scores(r.metrics, phase, request.user) if r else {} for r in results]
    intervals = [
        disclosed_intervals((r.intervals or {}).get("metrics", {}), phase, request.user) if r else {} for r in results
    ]
    rows = []
    for name in metrics:
        first = scores[0].get(name)
        cells = []
        for index, values in enumerate(scores):
            value = values.get(name)
            bounds = intervals[index].get(name)
            difference = (
                value - first if index and isinstance(value, float | int) and isinstance(first, float | int) else None
            )
            cells.append(
                {
                    "value": shown(value, name),
                    "interval": f"[{shown(bounds[0], name)}, {shown(bounds[1], name)}]" if bounds else "",
                    "difference": shown(difference, name, signed=True) if difference is not None else "",
                }
            )
        rows.append({"name": name, "label": label(name), "cells": cells})
    context = {
        "submissions": submissions,
        "phase": phase,
        "language": submissions[0].language,
        "rows": rows,
        "rounded": not phase.references_public and not rules.is_organizer(request.user, phase),
        "ids": ",".join(str(submission.pk) for submission in submissions),
        "clips_visible": all(rules.can_view_clip_scores(request.user, s) for s in submissions),
    }
    if context["clips_visible"]:
        context.update(_differing_clips(request, submissions))
    return render(request, "web/compare.html", context)


def _differing_clips(request: HttpRequest, submissions: list[Submission]) -> dict:
    """The clips where the submissions differ most on the chosen metric, with every narration (public phases)."""
    per_clips = [selectors.per_clip_of(submission.current_result_id) for submission in submissions]
    metrics = selectors.clip_metrics(per_clips[0])
    metric = request.GET.get("metric")
    if metric not in metrics:
        metric = selectors.default_clip_metric(submissions[0].phase, metrics)
    if metric is None:
        return {"clip_metrics": [], "clip_metric": None, "differing": []}
    top = selectors.differing_clips(per_clips, metric, DIFFERING_CLIPS)
    narrations = [selectors.submission_narrations(submission) or {} for submission in submissions]
    references = selectors.reference_narrations(submissions[0])
    titles = selectors.movie_titles(selectors.movie_id_of(clip_id) for clip_id, _ in top)
    differing = [
        {
            "clip_id": clip_id,
            "title": titles.get(selectors.movie_id_of(clip_id), ""),
            "movie_id": selectors.movie_id_of(clip_id),
            "difference": shown(difference, metric),
            "reference": references.get(clip_id),
            "entries": [
                {
                    "submission": submission,
                    "narration": narrations[index].get(clip_id),
                    "score": shown(per_clips[index][clip_id].get(metric), metric),
                }
                for index, submission in enumerate(submissions)
            ],
        }
        for clip_id, difference in top
    ]
    return {
        "clip_metrics": [{"name": name, "label": label(name)} for name in metrics],
        "clip_metric": metric,
        "clip_metric_label": label(metric),
        "differing": differing,
    }


def _refused(request: HttpRequest, message: str, submissions: list[Submission] | None = None) -> HttpResponse:
    return render(request, "web/compare.html", {"refusal": message, "submissions": submissions or []}, status=400)
