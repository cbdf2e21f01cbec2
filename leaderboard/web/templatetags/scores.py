from django import template

from evaluation.metrics import metric_info
from leaderboard.boards.disclosure import disclosed_scores, precision_of
from leaderboard.boards.intervals import ALPHA
from leaderboard.metric_texts import shown_metric

register = template.Library()


@register.filter
def score(scores, metric: str) -> str:
    """A metric's value at its display precision, or an en dash when absent."""
    if not scores:
        return "–"
    value = scores.get(metric)
    if value is None:
        return "–"
    return f"{value:.{metric_info(metric).precision}f}"


@register.filter
def shown_scores(submission, viewer) -> dict:
    """The current result's scores of ``submission`` as ``viewer`` may see them (``boards.disclosure``):
    rounded to the boards' precision on a hidden phase, but for its organizers. Empty without a result."""
    result = submission.current_result
    if result is None:
        return {}
    # One lookup of a phase's board precisions per request, however many of its submissions a page lists.
    cache = getattr(viewer, "_precision_of_phase", None)
    if cache is None:
        cache = {}
        if viewer is not None:
            viewer._precision_of_phase = cache
    if submission.phase_id not in cache:
        cache[submission.phase_id] = precision_of(submission.phase)
    return disclosed_scores(result.metrics, submission.phase, viewer, cache[submission.phase_id])


@register.filter
def metric_label(metric: str) -> str:
    return shown_metric(metric).label


@register.simple_tag
def metric(name: str):
    return shown_metric(name)


@register.filter
def interval(intervals, metric: str) -> str:
    """A metric's 95% interval as "[low, high]" at its display precision, or "" when there is none."""
    bounds = (intervals or {}).get(metric)
    if not bounds:
        return ""
    precision = metric_info(metric).precision
    return f"[{bounds[0]:.{precision}f}, {bounds[1]:.{precision}f}]"


@register.filter
def tied_with_above(row) -> bool:
    """Whether a ranked board row is statistically tied with the ranked row above (and so in its group)."""
    return row.rank is not None and row.p_value_vs_above is not None and row.p_value_vs_above >= ALPHA
