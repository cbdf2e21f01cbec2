"""The plots pages (issue 11): a board's plots, and the distribution of a submission's scores.

The plots are server-side SVG (``boards.plots``), each shown with its data as a table. Who sees what
is the boards' and the rules' business: a board's plots draw the rows ``board_view`` gives the viewer;
per-clip scores appear only where ``rules.can_view_clip_scores`` allows (public references), and per-movie
means of a hidden phase only to its organizers.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from leaderboard.boards import plots
from leaderboard.boards import selectors as boards
from leaderboard.challenges.selectors import phase_or_404
from leaderboard.submissions import rules
from leaderboard.submissions.models import Result, Submission

#: The stage metrics plotted against each other, and the boards they are read from.
SCATTER_METRICS = ("l1", "l2")


def board_plots(request: HttpRequest, challenge: str, phase: str, language: str, stage: str) -> HttpResponse:
    phase_obj = phase_or_404(challenge, phase)
    board_obj = boards.visible_board(request.user, phase_obj, language, stage)
    view = boards.board_view(phase_obj, language, board_obj, viewer=request.user)
    metric = plots.plotted_metric(view.rows, board_obj.columns)
    forest = plots.forest_data(view.rows, metric) if metric else []
    progress = plots.progress_data(view.rows, metric) if metric else []
    phase_boards = list(phase_obj.boards.all())

    def rows_with(metric: str):
        chosen = _board_for(phase_boards, metric)
        if chosen is None:
            return []
        if chosen.pk == board_obj.pk:
            return view.rows
        return boards.board_view(phase_obj, language, chosen, viewer=request.user).rows

    x_metric, y_metric = SCATTER_METRICS
    scatter = plots.scatter_data(rows_with(x_metric), x_metric, rows_with(y_metric), y_metric)
    context = {
        "challenge": phase_obj.challenge,
        "phase": phase_obj,
        "board": board_obj,
        "language": language,
        "view": view,
        "metric": metric,
        "forest": plots.forest_table(forest, metric) if forest else [],
        "forest_svg": mark_safe(plots.forest_svg(forest, metric=metric)) if forest else "",
        "progress": plots.progress_table(progress, metric) if progress else [],
        "progress_svg": mark_safe(plots.progress_svg(progress, metric=metric)) if progress else "",
        "scatter": plots.scatter_table(scatter, x_metric, y_metric),
        "scatter_svg": mark_safe(plots.scatter_svg(scatter, x_metric=x_metric, y_metric=y_metric)) if scatter else "",
        "x_metric": x_metric,
        "y_metric": y_metric,
    }
    return render(request, "web/board_plots.html", context)


def _board_for(phase_boards, metric: str):
    """The phase's board to read ``metric`` from: the one it is primary on, else the first that shows it."""
    return next((board for board in phase_boards if board.primary_metric == metric), None) or next(
        (board for board in phase_boards if metric in board.columns), None
    )


def submission_plots(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.with_details(), pk=submission_id)
    if not rules.can_view_submission(request.user, submission):
        raise Http404
    phase = submission.phase
    clips_visible = rules.can_view_clip_scores(request.user, submission)
    # Per-movie means come from the per-clip scores: on a hidden phase, for its organizers only.
    movies_visible = clips_visible or rules.is_organizer(request.user, phase)
    result_id = submission.current_result_id
    per_clip = Result.objects.only("per_clip").get(pk=result_id).per_clip or {} if result_id and movies_visible else {}
    metrics = plots.clip_metrics(per_clip)
    primary = next((board.primary_metric for board in phase.boards.all() if board.primary_metric in metrics), None)
    metric = request.GET.get("metric")
    if metric not in metrics:
        metric = primary or (metrics[0] if metrics else None)
    context = {
        "submission": submission,
        "phase": phase,
        "clips_visible": clips_visible,
        "movies_visible": movies_visible,
        "has_scores": bool(per_clip),
        "metrics": metrics,
        "metric": metric,
    }
    if metric:
        domain = plots.metric_domain(metric)
        precision = plots.precision_of(metric)
        movies = plots.movie_means(per_clip, metric)
        movie_bins = plots.histogram([mean for _, _, mean in movies], domain)
        context["movies"] = [(movie, clips, plots.fmt(mean, precision)) for movie, clips, mean in movies]
        context["movie_bins"] = plots.histogram_table(movie_bins)
        context["movie_svg"] = mark_safe(
            plots.histogram_svg(movie_bins, metric=metric, unit="movies", plot_id="movie-histogram")
        )
        if clips_visible:
            clip_bins = plots.histogram(plots.clip_values(per_clip, metric), domain)
            context["clip_bins"] = plots.histogram_table(clip_bins)
            context["clip_svg"] = mark_safe(
                plots.histogram_svg(clip_bins, metric=metric, unit="clips", plot_id="clip-histogram")
            )
    return render(request, "web/submission_plots.html", context)
