"""How precisely a viewer sees a phase's scores: the one rule of every board, page, API answer and email.

On a phase whose references are hidden (``Phase.references_public`` off), full-precision totals are an
oracle: a file with every narration empty but one gives a ROUGE-L whose value × the clip count is that
clip's own hidden ROUGE-L (docs/reliability.md, "Hidden scores"). Everyone but the phase's organizers
(``rules.is_organizer``) therefore sees such scores rounded to the precision the boards publish: for a
metric, the largest ``Board.precision`` among the phase's boards that show it, ``DEFAULT_PRECISION``
decimals for a metric no board shows. The stored rows and results keep full precision; rounding is
applied where scores leave the service, through :func:`disclosed_scores`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from django.contrib.auth.models import AnonymousUser

from leaderboard.challenges.models import Phase
from leaderboard.submissions import rules

from .models import Board
from .rows import BoardRow

#: Decimals of a metric that none of the phase's boards shows (``Board.precision``'s default).
DEFAULT_PRECISION = 4
#: Where a phase object keeps its boards' precisions for the rest of a request (a list of submissions).
_CACHE = "_metric_precisions"


def metric_precisions(phase: Phase) -> dict[str, int]:
    """Metric -> the largest precision among ``phase``'s boards that show it (primary or secondary)."""
    cached = getattr(phase, _CACHE, None)
    if cached is None:
        cached = {}
        for primary, secondary, precision in Board.objects.filter(phase=phase).values_list(
            "primary_metric", "secondary_metrics", "precision"
        ):
            for metric in [primary, *(secondary or [])]:
                cached[metric] = max(precision, cached.get(metric, precision))
        setattr(phase, _CACHE, cached)
    return cached


def precision_of(phase: Phase) -> Callable[[str], int]:
    """The precision function of ``phase``: metric -> decimals shown to those who see rounded scores."""
    precisions = metric_precisions(phase)
    return lambda metric: precisions.get(metric, DEFAULT_PRECISION)


def rounds_for(viewer, phase: Phase) -> bool:
    """Whether ``viewer`` sees ``phase``'s scores rounded: on a hidden phase, everyone but its organizers.

    ``viewer`` None is no one in particular (an anonymous visitor).
    """
    return not phase.references_public and not rules.is_organizer(viewer or AnonymousUser(), phase)


def round_scores(scores: Mapping[str, float], precision_for_metric: Callable[[str], int]) -> dict[str, float]:
    """``scores`` with each number rounded to its metric's precision (anything not a number kept as it is)."""
    return {
        name: round(value, precision_for_metric(name))
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else value
        for name, value in scores.items()
    }


def round_intervals(
    intervals: Mapping[str, list[float]], precision_for_metric: Callable[[str], int]
) -> dict[str, list[float]]:
    """``intervals`` (metric -> [low, high]) with both ends rounded to their metric's precision."""
    return {name: [round(bound, precision_for_metric(name)) for bound in bounds] for name, bounds in intervals.items()}


def disclosed_intervals(intervals: Mapping[str, list[float]], phase: Phase, viewer) -> dict[str, list[float]]:
    """A result's intervals as ``viewer`` may see them: rounded as :func:`disclosed_scores` rounds scores."""
    if not rounds_for(viewer, phase):
        return dict(intervals)
    return round_intervals(intervals, precision_of(phase))


def disclosed_scores(
    scores: Mapping[str, float],
    phase: Phase,
    viewer,
    precision_for_metric: Callable[[str], int] | None = None,
) -> dict[str, float]:
    """``scores`` (metric -> value) of ``phase`` as ``viewer`` may see them: full precision for the phase's
    organizers and on phases with public references, rounded (:func:`rounds_for`) otherwise."""
    if not rounds_for(viewer, phase):
        return dict(scores)
    return round_scores(scores, precision_for_metric or precision_of(phase))


def disclosed_rows(rows: list[BoardRow], phase: Phase, viewer) -> list[BoardRow]:
    """Board rows as ``viewer`` may see them: ``scores``, ``other_judge_scores`` and ``intervals`` rounded alike."""
    if not rounds_for(viewer, phase):
        return rows
    precision = precision_of(phase)
    return [
        replace(
            row,
            scores=round_scores(row.scores, precision),
            other_judge_scores=round_scores(row.other_judge_scores, precision),
            intervals=round_intervals(row.intervals, precision),
        )
        for row in rows
    ]
