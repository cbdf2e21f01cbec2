"""Bootstrap intervals of results and the tie tests between board neighbours (``evaluation.intervals``).

A result's intervals are computed once, when it is written (classic scoring, then again when the judge
adds L1 and L2), and stored on it; a board refresh copies them into its rows and never resamples
anything but the paired tests of neighbours it has not met before (``PairedTest`` keeps each one).

What a result keeps to make them (``Result.clip_stats``) is BLEU's and METEOR's per-clip statistics;
the metrics that are means of per-clip scores (ROUGE-L, CIDEr, the judge's) are read from
``Result.per_clip``, which holds them already.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence

from evaluation.errors import EvaluationError
from evaluation.intervals import BootstrapMethod, intervals, paired_p_value
from evaluation.stats import MEAN_METRICS, ClipStats
from leaderboard.challenges.models import Phase
from leaderboard.submissions.models import Result

from .models import PairedTest

logger = logging.getLogger(__name__)

#: Neighbours whose difference has a p-value at least this share a tie group (95%).
ALPHA = 0.05


def method_of(phase: Phase) -> BootstrapMethod:
    """The phase's bootstrap: its unit (clip or movie), 1,000 resamples, the fixed seed, 95%."""
    return BootstrapMethod(unit=phase.bootstrap_unit)


def method_key(method: BootstrapMethod) -> str:
    return json.dumps(method.to_dict(), sort_keys=True, separators=(",", ":"))


def stored_stats(stats: ClipStats) -> dict:
    """What ``Result.clip_stats`` keeps: the statistics without the per-clip scores ``per_clip`` holds."""
    data = stats.to_json_dict()
    data["means"] = {}
    return data


def result_stats(clip_stats: Mapping | None, per_clip: Mapping[str, Mapping[str, float]]) -> ClipStats | None:
    """A result's statistics with every mean metric all its clips have a score for; None without statistics."""
    if not clip_stats:
        return None
    stats = ClipStats.from_json_dict(clip_stats)
    complete = [name for name in MEAN_METRICS if all(name in per_clip.get(clip_id, {}) for clip_id in stats.clip_ids)]
    return stats.with_means(per_clip, complete) if complete else stats


def intervals_of(stats: ClipStats | None, method: BootstrapMethod) -> dict:
    """``Result.intervals``: ``{"method": ..., "metrics": {metric: [low, high]}}``; empty without statistics."""
    if stats is None:
        return {}
    return {
        "method": method.to_dict(),
        "metrics": {name: [low, high] for name, (low, high) in intervals(stats, method).items()},
    }


def compute_result_intervals(result: Result, method: BootstrapMethod) -> dict:
    """Compute ``result``'s intervals from what it stores (its ``clip_stats`` and ``per_clip`` loaded)."""
    return intervals_of(result_stats(result.clip_stats, result.per_clip), method)


# -- ties ------------------------------------------------------------------------------------------------


def paired_p_values(
    pairs: Iterable[tuple[int | None, int | None, str | None]], method: BootstrapMethod
) -> dict[tuple[int, int, str], float]:
    """The p-value of each (result above, result below, metric): stored ones read, the others computed and kept."""
    wanted = {(above, below, metric) for above, below, metric in pairs if above and below and metric}
    if not wanted:
        return {}
    key = method_key(method)
    stored = PairedTest.objects.filter(
        method=key,
        metric__in={metric for _, _, metric in wanted},
        result_above_id__in={above for above, _, _ in wanted},
        result_below_id__in={below for _, below, _ in wanted},
    ).values_list("result_above_id", "result_below_id", "metric", "p_value")
    known = {(above, below, metric): p for above, below, metric, p in stored if (above, below, metric) in wanted}
    missing = wanted - known.keys()
    if missing:
        stats = _stats_of({result_id for above, below, _ in missing for result_id in (above, below)})
        made = []
        for above, below, metric in sorted(missing):
            p_value = _paired(stats.get(above), stats.get(below), metric, method)
            if p_value is not None:
                known[(above, below, metric)] = p_value
                made.append(
                    PairedTest(result_above_id=above, result_below_id=below, metric=metric, method=key, p_value=p_value)
                )
        PairedTest.objects.bulk_create(made, ignore_conflicts=True)
    return known


def _paired(a: ClipStats | None, b: ClipStats | None, metric: str, method: BootstrapMethod) -> float | None:
    if a is None or b is None or metric not in a.metrics or metric not in b.metrics or a.clip_ids != b.clip_ids:
        return None
    try:
        return paired_p_value(a, b, metric, method)
    except EvaluationError:
        logger.exception("paired test of %s failed", metric)
        return None


def _stats_of(result_ids: Sequence[int] | set[int]) -> dict[int, ClipStats]:
    stats = {}
    for result_id, clip_stats, per_clip in Result.objects.filter(pk__in=result_ids).values_list(
        "pk", "clip_stats", "per_clip"
    ):
        try:
            made = result_stats(clip_stats, per_clip or {})
        except EvaluationError:
            logger.exception("result %s: unreadable clip statistics", result_id)
            continue
        if made is not None:
            stats[result_id] = made
    return stats
