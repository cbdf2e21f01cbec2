"""Bootstrap confidence intervals and paired-bootstrap ties, from per-clip statistics.

Every metric is recomputed exactly on each resample from the statistics of
:mod:`evaluation.stats` (corpus BLEU from summed n-gram counts, METEOR by its
own aggregation, the other metrics as means of per-clip scores), never
approximated by a mean of per-clip BLEU or METEOR.

The resamples are a pure function of the clip ids and the
:class:`BootstrapMethod` (its seed included), so the server and
``python -m evaluation score --intervals`` give identical numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from .errors import EvaluationError
from .stats import ClipStats, metric_values, movie_of

#: Names the resampling procedure below; bump it whenever a change could move an interval.
BOOTSTRAP_VERSION = "movie101v2-bootstrap/1"
DEFAULT_SEED = 20240101
UNITS = ("clip", "movie")


@dataclass(frozen=True)
class BootstrapMethod:
    """How intervals and ties are computed; recorded with them.

    ``unit`` "clip" draws clips with replacement; "movie" draws movies with
    replacement and counts every clip of a drawn movie (the clips of one film
    are correlated, so this is the more honest interval).
    """

    unit: Literal["clip", "movie"] = "clip"
    resamples: int = 1000
    seed: int = DEFAULT_SEED
    level: float = 0.95
    version: str = BOOTSTRAP_VERSION

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise EvaluationError(f"unknown bootstrap unit {self.unit!r}; expected one of {', '.join(UNITS)}")
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 1:
            raise EvaluationError(f"resamples must be a positive integer, not {self.resamples!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise EvaluationError(f"the seed must be a non-negative integer, not {self.seed!r}")
        if not 0 < self.level < 1:
            raise EvaluationError(f"the level must be between 0 and 1, not {self.level!r}")
        if self.version != BOOTSTRAP_VERSION:
            raise EvaluationError(f"bootstrap {self.version!r} is not this code's {BOOTSTRAP_VERSION!r}")

    def to_dict(self) -> dict[str, Any]:
        """``{"method": "bootstrap", "unit", "resamples", "seed", "level", "version"}``."""
        return {"method": "bootstrap", **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BootstrapMethod:
        if data.get("method", "bootstrap") != "bootstrap":
            raise EvaluationError(f"unknown interval method {data.get('method')!r}")
        return cls(**{key: data[key] for key in ("unit", "resamples", "seed", "level", "version") if key in data})


def units(clip_ids: Sequence[str], unit: str) -> tuple[str, ...]:
    """What is drawn: the clips in their order, or the sorted distinct movies."""
    if unit == "clip":
        return tuple(clip_ids)
    return tuple(sorted({movie_of(clip_id) for clip_id in clip_ids}))


def resample_draws(clip_ids: Sequence[str], method: BootstrapMethod) -> np.ndarray:
    """The drawn units, ``(resamples, units)`` indices into :func:`units`.

    Row ``r`` is ``Generator(PCG64(seed)).integers(0, U, size=(resamples, U))[r]``
    with ``U`` the number of units: the same on every machine for a given numpy.
    """
    count = len(units(clip_ids, method.unit))
    generator = np.random.Generator(np.random.PCG64(method.seed))
    return generator.integers(0, count, size=(method.resamples, count))


def resample_counts(clip_ids: Sequence[str], method: BootstrapMethod) -> np.ndarray:
    """How many times each clip is in each resample: ``(resamples, clips)`` integers."""
    draws = resample_draws(clip_ids, method)
    n_units = draws.shape[1]
    offsets = np.arange(method.resamples)[:, None] * n_units
    unit_counts = np.bincount((draws + offsets).ravel(), minlength=method.resamples * n_units).reshape(
        method.resamples, n_units
    )
    if method.unit == "clip":
        return unit_counts
    movie_index = {movie: index for index, movie in enumerate(units(clip_ids, "movie"))}
    clip_movies = np.array([movie_index[movie_of(clip_id)] for clip_id in clip_ids])
    return unit_counts[:, clip_movies]


def bootstrap_values(
    stats: ClipStats, method: BootstrapMethod, metrics: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Each metric on every resample: ``{metric: (resamples,) array}``."""
    return metric_values(stats, resample_counts(stats.clip_ids, method), metrics)


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile interval: numpy's "linear" quantiles at ``(1 - level)/2`` and ``1 - (1 - level)/2``."""
    tail = (1 - level) / 2
    low, high = np.quantile(np.asarray(values, dtype=np.float64), [tail, 1 - tail], method="linear")
    return float(low), float(high)


def intervals(
    stats: ClipStats, method: BootstrapMethod, metrics: Sequence[str] | None = None
) -> dict[str, tuple[float, float]]:
    """``{metric: (low, high)}``: the bootstrap percentile interval of every metric the stats give."""
    return {
        name: percentile_interval(values, method.level)
        for name, values in bootstrap_values(stats, method, metrics).items()
    }


def _check_paired(entries: Sequence[ClipStats]) -> None:
    first = entries[0].clip_ids
    for entry in entries[1:]:
        if entry.clip_ids != first:
            raise EvaluationError("paired comparisons need the same clips in the same order")


def p_value_from_values(full_a: float, full_b: float, resampled_a: np.ndarray, resampled_b: np.ndarray) -> float:
    """Two-sided paired-bootstrap p-value of ``a - b`` (see :func:`paired_p_value`)."""
    observed = full_a - full_b
    deltas = np.asarray(resampled_a) - np.asarray(resampled_b)
    extreme = int(np.count_nonzero(np.abs(deltas - observed) >= abs(observed)))
    return (extreme + 1) / (len(deltas) + 1)


def paired_p_value(stats_a: ClipStats, stats_b: ClipStats, metric: str, method: BootstrapMethod) -> float:
    """Two-sided p-value that ``metric`` differs between two entries, by a paired bootstrap.

    Both entries are evaluated on the SAME resamples ``r = 1..R``. With
    ``d = m_a - m_b`` on the full set and ``d_r`` on resample ``r``, the
    bootstrap distribution of ``d_r`` is shifted to be centred on 0 (the null
    hypothesis of no difference) and::

        p = (1 + #{r : |d_r - d| >= |d|}) / (R + 1)

    Identical statistics give ``d = d_r = 0`` and so ``p = 1``; ``p`` is never
    below ``1 / (R + 1)``.
    """
    _check_paired([stats_a, stats_b])
    counts = resample_counts(stats_a.clip_ids, method)
    full_a = metric_values(stats_a, None, [metric])[metric][0]
    full_b = metric_values(stats_b, None, [metric])[metric][0]
    resampled_a = metric_values(stats_a, counts, [metric])[metric]
    resampled_b = metric_values(stats_b, counts, [metric])[metric]
    return p_value_from_values(full_a, full_b, resampled_a, resampled_b)


@dataclass(frozen=True)
class Tie:
    """An entry's place in the tie groups of a ranking."""

    #: 1 for the first group; consecutive entries with equal groups are tied.
    group: int
    #: The paired p-value against the entry ranked just above; None for the first entry.
    p_value_vs_above: float | None


def tie_groups(
    ordered_entries: Sequence[ClipStats], metric: str, method: BootstrapMethod, alpha: float = 0.05
) -> list[Tie]:
    """Tie groups of entries in ranking order, by paired bootstraps between neighbours.

    An entry joins the group of the entry just above it when their difference
    is not significant (``p >= alpha``), and starts the next group otherwise.
    Every entry is evaluated once, on the same resamples.
    """
    if not ordered_entries:
        return []
    _check_paired(ordered_entries)
    counts = resample_counts(ordered_entries[0].clip_ids, method)
    full = [metric_values(entry, None, [metric])[metric][0] for entry in ordered_entries]
    resampled = [metric_values(entry, counts, [metric])[metric] for entry in ordered_entries]
    ties = [Tie(1, None)]
    for index in range(1, len(ordered_entries)):
        p = p_value_from_values(full[index - 1], full[index], resampled[index - 1], resampled[index])
        group = ties[-1].group if p >= alpha else ties[-1].group + 1
        ties.append(Tie(group, p))
    return ties
