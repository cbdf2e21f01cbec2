"""BLEU-1..4 exactly as pycocoevalcap 1.2's ``Bleu(4)`` (``BleuScorer.compute_score(option="closest")``).

What ``BleuScorer.cook_refs`` derives from the references alone (each clip's reference lengths and,
for every n-gram, the most times one of its references has it) is computed once per reference set
and kept, keyed by a hash of the tokenized references (:mod:`evaluation.reference_cache`). A
submission then counts only its own n-grams, as integer ids (:mod:`evaluation.ngrams`).

The counts (test length, the "closest" reference length, the clipped matches by n) are integers, so
they equal pycocoevalcap's whatever the order of counting. The floating-point part is pycocoevalcap's
``compute_score`` operation for operation, in Python floats with ``math.exp`` (numpy's vectorized
``exp`` and ``power`` may round differently), so scores are bit-identical, per clip and in total.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .ngrams import N, NgramTable, counts_by_sentence, reference_ngrams
from .reference_cache import ReferenceCache

#: Reference sets kept (0: none). One costs about the size of its tokenized text a few times over.
CACHE_SIZE = int(os.environ.get("EVALUATION_BLEU_CACHE_SIZE", "1"))
_SMALL, _TINY = 1e-9, 1e-15  # BleuScorer.compute_score's, "so that if guess is 0 still return 0"


@dataclass(frozen=True)
class _ReferenceSide:
    table: NgramTable
    reference_lengths: np.ndarray
    #: The clip of each reference, nondecreasing.
    clip_of_reference: np.ndarray
    #: For k = 1..N: sorted ``clip * table.size(k) + kgram_id``, and cook_refs' ``maxcounts`` for each.
    clip_grams: tuple[np.ndarray, ...]
    max_counts: tuple[np.ndarray, ...]

    @property
    def clips(self) -> int:
        return int(self.clip_of_reference[-1]) + 1 if len(self.clip_of_reference) else 0


@dataclass(frozen=True)
class BleuScores:
    #: Corpus BLEU-1..4.
    totals: list[float]
    #: ``per_clip[n][i]``: BLEU-(n+1) of clip ``i``, as ``BleuScorer.compute_score``'s second value.
    per_clip: list[list[float]]
    #: ``(clips, 6)`` int64, :data:`evaluation.stats.BLEU_FIELDS`: testlen, reflen, correct_1..4.
    clip_stats: np.ndarray


_cache = ReferenceCache()


def clear_cache() -> None:
    _cache.clear()


def bleu(gts: Mapping[str, Sequence[str]], res: Mapping[str, Sequence[str]]) -> BleuScores:
    """The numbers of ``pycocoevalcap.bleu.Bleu(4).compute_score(gts, res)``, and each clip's counts."""
    assert gts.keys() == res.keys()
    for key in gts:
        assert isinstance(res[key], list) and len(res[key]) == 1
        assert isinstance(gts[key], list) and len(gts[key]) >= 1
    side = _cache.get(gts, lambda: _reference_side(gts), CACHE_SIZE)
    hypotheses = side.table.sentences(res[key][0] for key in gts)
    testlen = hypotheses.lengths
    correct = _clipped_matches(side, hypotheses)
    reflen = _closest_reference_lengths(side, testlen)
    stats = np.column_stack([testlen, reflen, *correct]).astype(np.int64)
    totals, per_clip = _scores(stats.tolist())
    return BleuScores(totals, per_clip, stats)


def _reference_side(gts: Mapping[str, Sequence[str]]) -> _ReferenceSide:
    ngrams, _, _ = reference_ngrams(gts)
    if ngrams.one_reference_per_clip:  # a clip's counts are its reference's: shared with CIDEr
        return _ReferenceSide(ngrams.table, ngrams.lengths, ngrams.clip_of_reference, ngrams.keys, ngrams.counts)
    clip_grams, max_counts = [], []
    for k in range(1, N + 1):
        size = max(ngrams.table.size(k), 1)
        keys, counts = ngrams.keys[k - 1], ngrams.counts[k - 1]
        # From one reference's counts to the clip's: the largest over the clip's references.
        by_clip = ngrams.clip_of_reference[keys // size] * size + keys % size
        order = np.argsort(by_clip, kind="stable")
        by_clip, counts = by_clip[order], counts[order]
        starts = np.flatnonzero(np.r_[True, by_clip[1:] != by_clip[:-1]]) if len(by_clip) else by_clip
        clip_grams.append(by_clip[starts])
        max_counts.append(np.maximum.reduceat(counts, starts) if len(counts) else counts)
    return _ReferenceSide(ngrams.table, ngrams.lengths, ngrams.clip_of_reference, tuple(clip_grams), tuple(max_counts))


def _clipped_matches(side: _ReferenceSide, hypotheses) -> list[np.ndarray]:
    """cook_test's ``correct``: for each k, the sum over the clip's k-grams of min(its count, maxcounts)."""
    clips = len(hypotheses.lengths)
    grams = side.table.kgram_ids(hypotheses)
    clip_of_word = hypotheses.sentence_of_word()
    correct = []
    for k in range(1, N + 1):
        size = max(side.table.size(k), 1)
        keys, counts = counts_by_sentence(grams[k - 1], clip_of_word, size)
        reference_keys = side.clip_grams[k - 1]
        rows = np.searchsorted(reference_keys, keys)
        found = rows < len(reference_keys)
        found[found] = reference_keys[rows[found]] == keys[found]
        matched = np.minimum(counts[found], side.max_counts[k - 1][rows[found]])
        # Sums of integers below 2**53 in float64 are exact.
        sums = np.bincount(keys[found] // size, weights=matched, minlength=clips)
        correct.append(sums.astype(np.int64))
    return correct


def _closest_reference_lengths(side: _ReferenceSide, testlen: np.ndarray) -> np.ndarray:
    """``min((abs(l - testlen), l) for l in reflens)[1]`` for each clip."""
    lengths = side.reference_lengths
    if len(lengths) == len(testlen):  # one reference per clip
        return lengths
    span = int(lengths.max()) + 1
    # (distance, length) compared as pairs: distance * span + length, with length < span.
    ranked = np.abs(lengths - testlen[side.clip_of_reference]) * span + lengths
    starts = np.searchsorted(side.clip_of_reference, np.arange(len(testlen)))
    return np.minimum.reduceat(ranked, starts) % span


def _scores(rows: list[list[int]]) -> tuple[list[float], list[list[float]]]:
    """BleuScorer.compute_score from each clip's (testlen, reflen, correct_1..4), in its float operations."""
    small, tiny = _SMALL, _TINY
    per_clip: list[list[float]] = [[] for _ in range(N)]
    total_testlen = total_reflen = 0
    total_guess, total_correct = [0] * N, [0] * N
    for testlen, reflen, *correct in rows:
        total_testlen += testlen
        total_reflen += reflen
        bleu = 1.0
        for k in range(N):
            guess = max(0, testlen - k)
            total_guess[k] += guess
            total_correct[k] += correct[k]
            bleu *= (float(correct[k]) + tiny) / (float(guess) + small)
            per_clip[k].append(bleu ** (1.0 / (k + 1)))
        ratio = (testlen + tiny) / (reflen + small)
        if ratio < 1:
            for k in range(N):
                per_clip[k][-1] *= math.exp(1 - 1 / ratio)
    totals = []
    bleu = 1.0
    for k in range(N):
        bleu *= float(total_correct[k] + tiny) / (total_guess[k] + small)
        totals.append(bleu ** (1.0 / (k + 1)))
    ratio = (total_testlen + tiny) / (total_reflen + small)
    if ratio < 1:
        for k in range(N):
            totals[k] *= math.exp(1 - 1 / ratio)
    return totals, per_clip
