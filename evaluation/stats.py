"""Per-clip sufficient statistics, and each metric of any multiset of clips from them, exactly.

One classic scoring pass keeps, for every clip:

* BLEU: pycocoevalcap's ``BleuScorer`` statistics, ``testlen``, ``reflen``
  (the "closest" rule; one reference per clip, so its length) and
  ``correct_1..4``; ``guess_k`` is ``max(0, testlen - k + 1)`` by
  pycocoevalcap's own definition (``cook_test``), so it is derived, not
  stored. Corpus BLEU-n of a multiset of clips is ``BleuScorer.compute_score``
  on the summed statistics (:func:`bleu_from_totals`).
* METEOR: the 23 statistics METEOR 1.5 prints for a segment
  (:data:`METEOR_FIELDS`). :func:`meteor_from_totals` is Meteor 1.5's own final
  step (``MeteorStats.addStats`` then ``MeteorScorer.computeMetrics``).
* ROUGE-L, CIDEr and the judge's metrics: each clip's score; the metric of a
  multiset is their mean. CIDEr's per-clip scores keep the document
  frequencies of the full reference set.

A multiset of clips is a row of counts (how many times each clip is drawn):
:func:`metric_values` evaluates every metric on many rows at once with matrix
products. :class:`ClipStats` serializes to compact JSON and back exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import EvaluationError
from .metrics import CLASSIC_METRICS, STAGE_METRICS

#: Names the JSON layout of :meth:`ClipStats.to_json_dict`.
STATS_FORMAT = "movie101v2-clip-stats/1"

BLEU_ORDER = 4
#: Stored per clip. ``guess_k`` is derived from ``testlen``.
BLEU_FIELDS = ("testlen", "reflen", "correct_1", "correct_2", "correct_3", "correct_4")
#: Columns of :attr:`ClipStats.bleu`: the stored fields, then ``guess_1..4``.
BLEU_COLUMNS = (*BLEU_FIELDS, "guess_1", "guess_2", "guess_3", "guess_4")
_TINY, _SMALL = 1e-15, 1e-9  # BleuScorer.compute_score's

#: METEOR 1.5's stats line, in its order (``MeteorStats.toString``).
METEOR_FIELDS = (
    "test_length",
    "reference_length",
    "test_function_words",
    "reference_function_words",
    *(
        f"stage{stage}_{side}_{kind}"
        for stage in range(1, 5)
        for kind, side in (
            ("content", "test"),
            ("content", "reference"),
            ("function", "test"),
            ("function", "reference"),
        )
    ),
    "chunks",
    "test_word_matches",
    "reference_word_matches",
)
_M_TL, _M_RL, _M_TF, _M_RF = 0, 1, 2, 3
_M_TC, _M_RC, _M_TFM, _M_RFM = slice(4, 20, 4), slice(5, 20, 4), slice(6, 20, 4), slice(7, 20, 4)
_M_CHUNKS, _M_TWM, _M_RWM = 20, 21, 22

#: ``-l en -norm`` (task "rank"): Meteor 1.5's ``Parameters: 0.85 0.2 0.6 0.75`` and
#: ``Weights: 1.0 0.6 0.8 0.6`` (exact, stem, synonym, paraphrase), as the jar prints them.
METEOR_ALPHA, METEOR_BETA, METEOR_GAMMA, METEOR_DELTA = 0.85, 0.2, 0.6, 0.75
METEOR_WEIGHTS = (1.0, 0.6, 0.8, 0.6)

#: Metrics whose value on a multiset is the mean of per-clip scores, in display order.
MEAN_METRICS = ("rouge_l", "cider", *STAGE_METRICS)
BLEU_METRICS = tuple(f"bleu_{n}" for n in range(1, BLEU_ORDER + 1))


def movie_of(clip_id: str) -> str:
    """The movie of a clip id ``<movie_id>_<start>_<end>``: the part before the first ``_``."""
    return clip_id.split("_", 1)[0]


# -- the metrics from summed statistics -------------------------------------------------


def bleu_from_totals(totals: np.ndarray) -> np.ndarray:
    """Corpus BLEU-1..4 from summed :data:`BLEU_COLUMNS`, as ``BleuScorer.compute_score`` does.

    ``totals`` has shape ``(..., 10)``; the result ``(..., 4)``.
    """
    totals = np.asarray(totals, dtype=np.float64)
    testlen, reflen = totals[..., 0], totals[..., 1]
    correct, guess = totals[..., 2:6], totals[..., 6:10]
    bleus = np.empty((*totals.shape[:-1], BLEU_ORDER))
    product = np.ones(totals.shape[:-1])
    for k in range(BLEU_ORDER):
        product = product * ((correct[..., k] + _TINY) / (guess[..., k] + _SMALL))
        bleus[..., k] = product ** (1.0 / (k + 1))
    ratio = (testlen + _TINY) / (reflen + _SMALL)
    with np.errstate(divide="ignore", over="ignore"):
        penalty = np.where(ratio < 1, np.exp(1 - 1 / np.where(ratio < 1, ratio, 1.0)), 1.0)
    return bleus * penalty[..., None]


def meteor_chunk_columns(meteor: np.ndarray) -> np.ndarray:
    """Per-clip METEOR stats ready to be summed: a perfect segment's chunks set to 0.

    ``MeteorStats.addStats`` adds a segment's chunks only when it is not a
    perfect match (every test and reference word matched, in one chunk).
    """
    meteor = np.asarray(meteor, dtype=np.float64)
    test_total = _stage_sum(meteor, _M_TC, _M_TFM)
    reference_total = _stage_sum(meteor, _M_RC, _M_RFM)
    perfect = (
        (test_total == meteor[..., _M_TL]) & (reference_total == meteor[..., _M_RL]) & (meteor[..., _M_CHUNKS] == 1.0)
    )
    summable = meteor.copy()
    summable[..., _M_CHUNKS] = np.where(perfect, 0.0, meteor[..., _M_CHUNKS])
    return summable


def _stage_sum(stats: np.ndarray, content: slice, function: slice) -> np.ndarray:
    # MeteorStats(String) sums stage by stage, content then function (integers: exact in any order).
    total = np.zeros(stats.shape[:-1])
    for column in range(content.start, content.stop, content.step):
        total = total + stats[..., column] + stats[..., column + (function.start - content.start)]
    return total


def meteor_from_totals(totals: np.ndarray) -> np.ndarray:
    """METEOR from summed stats, as Meteor 1.5's ``MeteorScorer.computeMetrics`` does.

    ``totals`` has shape ``(..., 23)`` (:data:`METEOR_FIELDS`), summed from
    :func:`meteor_chunk_columns` rows (or one segment's raw stats). With
    ``w`` the module weights, ``δ, α, β, γ`` the parameters::

        test_weighted_length = δ·(test_length − test_function_words) + (1 − δ)·test_function_words
        test_weighted_matches = Σ_i test_content_i·w_i·δ + Σ_i test_function_i·w_i·(1 − δ)
        precision = test_weighted_matches / test_weighted_length      (recall: the same on the reference side)
        fmean = 1 / ((1 − α)/precision + α/recall)
        frag = 0 if every word matched in one chunk, else chunks / ((test_word_matches + reference_word_matches)/2)
        score = fmean·(1 − γ·frag^β), 0 when NaN, never below 0
    """
    t = np.asarray(totals, dtype=np.float64)
    delta, alpha = METEOR_DELTA, METEOR_ALPHA
    test_length, reference_length = t[..., _M_TL], t[..., _M_RL]
    test_weighted_length = delta * (test_length - t[..., _M_TF]) + (1.0 - delta) * t[..., _M_TF]
    reference_weighted_length = delta * (reference_length - t[..., _M_RF]) + (1.0 - delta) * t[..., _M_RF]
    test_matches = np.zeros(t.shape[:-1])
    reference_matches = np.zeros(t.shape[:-1])
    for i, weight in enumerate(METEOR_WEIGHTS):
        test_matches = test_matches + t[..., 4 + 4 * i] * weight * delta
    for i, weight in enumerate(METEOR_WEIGHTS):
        reference_matches = reference_matches + t[..., 5 + 4 * i] * weight * delta
    for i, weight in enumerate(METEOR_WEIGHTS):
        test_matches = test_matches + t[..., 6 + 4 * i] * weight * (1.0 - delta)
    for i, weight in enumerate(METEOR_WEIGHTS):
        reference_matches = reference_matches + t[..., 7 + 4 * i] * weight * (1.0 - delta)
    chunks = t[..., _M_CHUNKS]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        precision = test_matches / test_weighted_length
        recall = reference_matches / reference_weighted_length
        fmean = 1.0 / (((1.0 - alpha) / precision) + (alpha / recall))
        perfect = (
            (_stage_sum(t, _M_TC, _M_TFM) == test_length)
            & (_stage_sum(t, _M_RC, _M_RFM) == reference_length)
            & (chunks == 1.0)
        )
        frag = np.where(perfect, 0.0, chunks / ((t[..., _M_TWM] + t[..., _M_RWM]) / 2))
        penalty = METEOR_GAMMA * np.power(frag, METEOR_BETA)
        score = fmean * (1.0 - penalty)
    return np.where(np.isnan(score), 0.0, np.maximum(score, 0.0))


def parse_meteor_stats(line: str) -> list[int]:
    """One METEOR stats line (``"15.0 14.0 4.0 ..."``) as its 23 integer counts."""
    parts = line.split()
    if len(parts) != len(METEOR_FIELDS):
        raise EvaluationError(f"a METEOR stats line has {len(parts)} fields, expected {len(METEOR_FIELDS)}: {line!r}")
    values = []
    for part in parts:
        value = float(part)
        if not value.is_integer() or value < 0:
            raise EvaluationError(f"a METEOR stats line has a non-count field {part!r}: {line!r}")
        values.append(int(value))
    return values


def format_meteor_stats(values: Iterable[int]) -> str:
    """The stats line METEOR itself prints for these counts (Java's ``Double.toString``)."""
    return " ".join(f"{int(value)}.0" for value in values)


def bleu_clip_stats(ctest: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """:data:`BLEU_FIELDS` of each clip from ``BleuScorer.ctest`` (the "closest" reference length)."""
    rows = []
    for comps in ctest:
        testlen = comps["testlen"]
        reflens = comps["reflen"]
        reflen = min((abs(length - testlen), length) for length in reflens)[1] if isinstance(reflens, list) else reflens
        if list(comps["guess"]) != _guess(testlen):
            raise EvaluationError("BleuScorer's guess counts are not max(0, testlen - k + 1)")
        rows.append([testlen, reflen, *comps["correct"]])
    return rows


def _guess(testlen: int) -> list[int]:
    return [max(0, testlen - k + 1) for k in range(1, BLEU_ORDER + 1)]


# -- the statistics of one result ----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ClipStats:
    """The per-clip sufficient statistics of one result, clips in a fixed order (sorted ids)."""

    clip_ids: tuple[str, ...]
    #: ``(clips, 10)`` int64, :data:`BLEU_COLUMNS`.
    bleu: np.ndarray = field(repr=False)
    #: ``(clips, 23)`` int64, :data:`METEOR_FIELDS`.
    meteor: np.ndarray = field(repr=False)
    #: metric -> ``(clips,)`` float64 per-clip scores, for :data:`MEAN_METRICS`.
    means: Mapping[str, np.ndarray] = field(repr=False)

    def __post_init__(self) -> None:
        n = len(self.clip_ids)
        if n == 0:
            raise EvaluationError("statistics need at least one clip")
        if self.bleu.shape != (n, len(BLEU_COLUMNS)) or self.meteor.shape != (n, len(METEOR_FIELDS)):
            raise EvaluationError("the statistics do not have one row per clip")
        for name, values in self.means.items():
            if name not in MEAN_METRICS:
                raise EvaluationError(f"{name} is not a metric averaged over clips")
            if values.shape != (n,):
                raise EvaluationError(f"{name}: expected {n} per-clip scores, got shape {values.shape}")

    @classmethod
    def build(
        cls,
        clip_ids: Sequence[str],
        bleu: Sequence[Sequence[int]],
        meteor: Sequence[Sequence[int]],
        means: Mapping[str, Sequence[float]],
    ) -> ClipStats:
        """From :data:`BLEU_FIELDS` rows, :data:`METEOR_FIELDS` rows and per-clip scores."""
        stored = np.asarray(bleu, dtype=np.int64).reshape(len(clip_ids), len(BLEU_FIELDS))
        guesses = np.maximum(0, stored[:, :1] - np.arange(BLEU_ORDER)[None, :])
        bleu_matrix = np.concatenate([stored, guesses], axis=1)
        meteor_matrix = np.asarray(meteor, dtype=np.int64).reshape(len(clip_ids), len(METEOR_FIELDS))
        ordered = {name: np.asarray(means[name], dtype=np.float64) for name in MEAN_METRICS if name in means}
        unknown = set(means) - set(ordered)
        if unknown:
            raise EvaluationError(f"{', '.join(sorted(unknown))}: not metrics averaged over clips")
        for matrix in (bleu_matrix, meteor_matrix):
            matrix.setflags(write=False)
        for values in ordered.values():
            values.setflags(write=False)
        return cls(tuple(clip_ids), bleu_matrix, meteor_matrix, ordered)

    @property
    def clips(self) -> int:
        return len(self.clip_ids)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics these statistics give, in the order of the scoring protocol."""
        names = (*BLEU_METRICS, "meteor", *self.means)
        order = {name: index for index, name in enumerate((*STAGE_METRICS, *CLASSIC_METRICS))}
        return tuple(sorted(names, key=lambda name: order.get(name, len(order))))

    def movies(self) -> tuple[str, ...]:
        """The movie of each clip, in clip order."""
        return tuple(movie_of(clip_id) for clip_id in self.clip_ids)

    def with_means(
        self, per_clip: Mapping[str, Mapping[str, float]], metrics: Iterable[str] = STAGE_METRICS
    ) -> ClipStats:
        """These statistics plus per-clip scores averaged over clips (the judge's ``l1``, ``l2``...).

        ``per_clip`` is ``{clip_id: {metric: score}}`` and must cover every clip.
        """
        means = dict(self.means)
        for name in metrics:
            try:
                means[name] = [float(per_clip[clip_id][name]) for clip_id in self.clip_ids]
            except KeyError as exc:
                raise EvaluationError(f"{name}: no per-clip score for {exc.args[0]}") from None
        stored = self.bleu[:, : len(BLEU_FIELDS)]
        return ClipStats.build(self.clip_ids, stored, self.meteor, means)

    # -- values ---------------------------------------------------------------------------

    def values(self, counts: np.ndarray | None = None, metrics: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Each metric on each multiset: ``counts`` is ``(resamples, clips)`` (default: the full set once)."""
        return metric_values(self, counts, metrics)

    def totals(self) -> dict[str, float]:
        """Each metric on the full set of clips (equals the result's ``metrics``, to 1e-9)."""
        return {name: float(values[0]) for name, values in self.values().items()}

    def meteor_lines(self) -> list[str]:
        """The stats lines METEOR printed for the clips, to send back in an ``EVAL`` request."""
        return [format_meteor_stats(row) for row in self.meteor.tolist()]

    # -- JSON -----------------------------------------------------------------------------

    def to_json_dict(self) -> dict[str, Any]:
        """Compact and exact: integer columns, per-clip floats as Python writes them, clip ids by movie.

        ``{"format": STATS_FORMAT,
           "clips": [[movie_id, [rest_of_id, ...]], ...],   # runs of consecutive clips of one movie
           "bleu": {field: [int per clip]},                   # BLEU_FIELDS
           "meteor": {field: [int per clip]},                 # METEOR_FIELDS
           "means": {metric: [float per clip]}}``
        """
        runs: list[list[Any]] = []
        for clip_id in self.clip_ids:
            movie, _, rest = clip_id.partition("_")
            suffix = rest if "_" in clip_id else None
            if runs and runs[-1][0] == movie:
                runs[-1][1].append(suffix)
            else:
                runs.append([movie, [suffix]])
        return {
            "format": STATS_FORMAT,
            "clips": runs,
            "bleu": {name: self.bleu[:, i].tolist() for i, name in enumerate(BLEU_FIELDS)},
            "meteor": {name: self.meteor[:, i].tolist() for i, name in enumerate(METEOR_FIELDS)},
            "means": {name: values.tolist() for name, values in self.means.items()},
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> ClipStats:
        if data.get("format") != STATS_FORMAT:
            raise EvaluationError(f"unknown statistics format {data.get('format')!r}; expected {STATS_FORMAT}")
        clip_ids = [
            movie if suffix is None else f"{movie}_{suffix}" for movie, suffixes in data["clips"] for suffix in suffixes
        ]
        bleu = np.column_stack([np.asarray(data["bleu"][name], dtype=np.int64) for name in BLEU_FIELDS])
        meteor = np.column_stack([np.asarray(data["meteor"][name], dtype=np.int64) for name in METEOR_FIELDS])
        return cls.build(clip_ids, bleu, meteor, data.get("means", {}))

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ClipStats:
        return cls.from_json_dict(json.loads(text))

    def same_as(self, other: ClipStats) -> bool:
        """Equal clips and bit-identical statistics."""
        return (
            self.clip_ids == other.clip_ids
            and np.array_equal(self.bleu, other.bleu)
            and np.array_equal(self.meteor, other.meteor)
            and self.means.keys() == other.means.keys()
            and all(np.array_equal(self.means[name], other.means[name]) for name in self.means)
        )


def metric_values(
    stats: ClipStats, counts: np.ndarray | None = None, metrics: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Each metric on each row of ``counts`` (``(resamples, clips)``, how often each clip is drawn).

    BLEU and METEOR sum the statistics of the drawn clips (a matrix product:
    sums of integers below 2**53 are exact in float64) and aggregate them as
    their tools do; the other metrics are means of per-clip scores.
    """
    if counts is None:
        counts = np.ones((1, stats.clips))
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] != stats.clips:
        raise EvaluationError(f"counts must have shape (resamples, {stats.clips}), got {counts.shape}")
    wanted = tuple(stats.metrics if metrics is None else metrics)
    unknown = set(wanted) - set(stats.metrics)
    if unknown:
        raise EvaluationError(f"no statistics for {', '.join(sorted(unknown))}")
    values: dict[str, np.ndarray] = {}
    if any(name in BLEU_METRICS for name in wanted):
        bleu = bleu_from_totals(counts @ stats.bleu.astype(np.float64))
        for k, name in enumerate(BLEU_METRICS):
            values[name] = bleu[:, k]
    if "meteor" in wanted:
        values["meteor"] = meteor_from_totals(counts @ meteor_chunk_columns(stats.meteor))
    sizes = counts.sum(axis=1)
    for name in wanted:
        if name in stats.means:
            values[name] = (counts @ stats.means[name]) / sizes
    return {name: values[name] for name in wanted}
