"""CIDEr exactly as pycocoevalcap 1.2's ``Cider`` (n = 4, sigma = 6), the reference side cached.

Everything pycocoevalcap's ``CiderScorer`` derives from the references alone (their n-gram counts,
the document frequencies, each reference's TF-IDF weights, norms and length) is computed once per
reference set and kept, keyed by a hash of the tokenized references: a second submission against the
same references pays only for its own side (its n-grams, its weights and the similarities).

N-grams are integer ids (:mod:`evaluation.ngrams`) and every per-n-gram quantity is a numpy array:
46,006 clips hold a few hundred MiB instead of pycocoevalcap's gigabytes of tuples and dicts.

The arithmetic is pycocoevalcap's, operation for operation, so the numbers are bit-identical:

* element-wise ``*``, ``/``, ``min`` and ``numpy.sqrt`` are correctly rounded, so arrays give the
  scalars' results;
* the functions that may round differently when vectorized (``numpy.log`` for the IDF, ``pow(w, 2)``
  for the norms, ``np.e ** x`` for the length penalty) are called on scalars, once per distinct value;
* sums are taken term by term in pycocoevalcap's order (an n-gram's first appearance in its sentence),
  by :func:`evaluation.ngrams.sequential_sums`; ``numpy.mean`` over n and over clips as pycocoevalcap.

One shortcut, exact too: an n-gram of the hypothesis that the reference lacks adds
``min(h, 0) * 0 = 0`` to a non-negative sum in pycocoevalcap, and is skipped here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .ngrams import ABSENT, N, NgramTable, Sentences, each_dense_kgram_ids, reference_ngrams, sequential_sums
from .reference_cache import ReferenceCache, references_key

SIGMA = 6.0
#: Reference sets kept; 0 keeps none (the reference side is then computed on every call).
CACHE_SIZE = int(os.environ.get("EVALUATION_CIDER_CACHE_SIZE", "1"))

__all__ = ["CACHE_SIZE", "cider", "clear_cache", "reference_side", "references_key"]


@dataclass(frozen=True)
class _ReferenceSide:
    table: NgramTable
    #: The clip of each reference, nondecreasing.
    clip_of_reference: np.ndarray
    #: pycocoevalcap's ``ref_len``: ``np.log(float(number of clips))``.
    ref_len: np.float64
    #: For k = 1..N, by k-gram id: ``ref_len - np.log(max(1.0, document frequency))``.
    idf: tuple[np.ndarray, ...]
    #: For k = 1..N: sorted ``reference * table.size(k) + kgram_id``, and the n-gram's count there (its
    #: TF-IDF weight is ``float(count) * idf``, computed when needed: the counts are shared with BLEU).
    keys: tuple[np.ndarray, ...]
    counts: tuple[np.ndarray, ...]
    #: ``(references, N)``: each reference's vector norm by n.
    norms: np.ndarray
    #: Each reference's "length": pycocoevalcap counts its bigrams.
    lengths: np.ndarray

    @property
    def clips(self) -> int:
        return int(self.clip_of_reference[-1]) + 1 if len(self.clip_of_reference) else 0


_cache = ReferenceCache()


def reference_side(gts: Mapping[str, Sequence[str]]) -> _ReferenceSide:
    """The cached reference side of ``gts``, computed on a miss."""
    return _cache.get(gts, lambda: _reference_side(gts), CACHE_SIZE)


def clear_cache() -> None:
    _cache.clear()


def cider(gts: Mapping[str, Sequence[str]], res: Mapping[str, Sequence[str]]) -> tuple[np.float64, np.ndarray]:
    """Same contract and numbers as ``pycocoevalcap.cider.cider.Cider().compute_score(gts, res)``."""
    assert gts.keys() == res.keys()
    for key in gts:
        assert isinstance(res[key], list) and len(res[key]) == 1
        assert isinstance(gts[key], list) and len(gts[key]) > 0
    side = reference_side(gts)
    hypotheses = [res[key][0] for key in gts]
    clips = len(hypotheses)
    sentences, vocabulary_size = side.table.sentences_with_all_words(hypotheses)
    known = np.where(sentences.words < len(side.table.vocabulary), sentences.words, ABSENT)
    # One k at a time: on 46k clips each of these arrays is tens of MiB.
    reference_ids = side.table.each_kgram_ids(Sentences(known, sentences.lengths))
    own_ids = each_dense_kgram_ids(sentences, vocabulary_size)
    clip_of_word = sentences.sentence_of_word()
    references_of_clip = np.bincount(side.clip_of_reference, minlength=clips)
    first_reference = np.r_[0, np.cumsum(references_of_clip)[:-1]]
    unknown_idf = _idf_of(side.ref_len, [0.0])[0.0]

    norms = np.zeros((clips, N))
    similarity = np.zeros((len(side.clip_of_reference), N))
    for k, (own, known_ids) in enumerate(zip(own_ids, reference_ids, strict=True), start=1):
        clip, term_freq, reference_id = _distinct_in_order(own, known_ids, clip_of_word)
        del own, known_ids
        known_gram = reference_id != ABSENT
        idf = np.full(len(clip), unknown_idf)
        idf[known_gram] = side.idf[k - 1][reference_id[known_gram]]
        weight = term_freq.astype(np.float64) * idf
        norms[:, k - 1] = np.sqrt(sequential_sums(_squares(weight), clip, clips))
        # Each known n-gram against each reference of its clip: min(h, r) * r where the reference has it.
        clip, weight, reference_id = clip[known_gram], weight[known_gram], reference_id[known_gram]
        repeats = references_of_clip[clip]
        reference = np.repeat(first_reference[clip], repeats) + _ranks(repeats)
        weight, reference_id = np.repeat(weight, repeats), np.repeat(reference_id, repeats)
        size = max(side.table.size(k), 1)
        wanted = reference * size + reference_id
        keys = side.keys[k - 1]
        rows = np.searchsorted(keys, wanted)
        found = rows < len(keys)
        found[found] = keys[rows[found]] == wanted[found]
        rows = rows[found]
        reference_weight = side.counts[k - 1][rows].astype(np.float64) * side.idf[k - 1][reference_id[found]]
        terms = np.minimum(weight[found], reference_weight) * reference_weight
        similarity[:, k - 1] = sequential_sums(terms, reference[found], len(side.clip_of_reference))

    hypothesis_norms = norms[side.clip_of_reference]
    nonzero = (hypothesis_norms != 0) & (side.norms != 0)
    np.divide(similarity, hypothesis_norms * side.norms, out=similarity, where=nonzero)
    hypothesis_lengths = np.maximum(sentences.lengths - 1, 0)
    similarity *= _penalties(hypothesis_lengths[side.clip_of_reference] - side.lengths)[:, None]
    # score = [0.0] * N, then += each reference's similarity, in the clip's order of references.
    score = np.zeros((clips, N))
    rank = _ranks(references_of_clip)
    for step in range(int(references_of_clip.max(initial=0))):
        at = np.flatnonzero(rank == step)
        score[side.clip_of_reference[at]] += similarity[at]
    scores = np.mean(score, axis=1)
    scores /= references_of_clip
    scores *= 10.0
    return np.mean(np.array(scores)), scores


def _reference_side(gts: Mapping[str, Sequence[str]]) -> _ReferenceSide:
    ngrams, sentences, grams = reference_ngrams(gts)
    table, clip_of_reference = ngrams.table, ngrams.clip_of_reference
    reference_count = len(clip_of_reference)
    reference_of_word = sentences.sentence_of_word()
    ref_len = np.log(float(ngrams.clips))
    idf = []
    norms = np.zeros((reference_count, N))
    for k in range(1, N + 1):
        size = max(table.size(k), 1)
        keys = ngrams.keys[k - 1]
        # Document frequency: in how many clips some reference has the n-gram.
        in_clips = np.unique(clip_of_reference[keys // size] * size + keys % size) % size
        frequency = np.bincount(in_clips, minlength=table.size(k)).astype(np.float64)
        idf_of = _idf_of(ref_len, frequency)
        idf.append(np.array([idf_of[value] for value in frequency.tolist()], dtype=np.float64))
        # The norms add the squared weights in the order of first appearance.
        reference, term_freq, gram = _distinct_in_order(grams[k - 1], grams[k - 1], reference_of_word)
        weight = term_freq.astype(np.float64) * idf[-1][gram]
        norms[:, k - 1] = np.sqrt(sequential_sums(_squares(weight), reference, reference_count))
    lengths = np.maximum(ngrams.lengths - 1, 0)
    return _ReferenceSide(table, clip_of_reference, ref_len, tuple(idf), ngrams.keys, ngrams.counts, norms, lengths)


def _distinct_in_order(own_ids: np.ndarray, reference_ids: np.ndarray, sentence_of_word: np.ndarray):
    """Each sentence's distinct k-grams in order of first appearance (``precook``'s dict order).

    ``own_ids`` tell k-grams apart; returns, per distinct k-gram: its sentence, its count there and its
    ``reference_ids`` value (at its first appearance).
    """
    starts = np.flatnonzero(own_ids != ABSENT)
    size = int(own_ids.max(initial=0)) + 1
    keys = sentence_of_word[starts] * size + own_ids[starts]
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    order = np.argsort(first)
    first, counts = starts[first[order]], counts[order]
    return sentence_of_word[first], counts, reference_ids[first]


def _idf_of(ref_len: np.float64, document_frequencies) -> dict[float, np.float64]:
    # pycocoevalcap: ``df = np.log(max(1.0, self.document_frequency[ngram]))``, then ``ref_len - df``.
    return {value: ref_len - np.log(max(1.0, value)) for value in set(document_frequencies)}


def _squares(weights: np.ndarray) -> np.ndarray:
    """``pow(w, 2)`` of numpy scalars, as pycocoevalcap adds them to its norms, once per distinct weight."""
    distinct, index = np.unique(weights, return_inverse=True)
    return np.array([pow(value, 2) for value in distinct], dtype=np.float64)[index.reshape(-1)]


def _penalties(length_differences: np.ndarray) -> np.ndarray:
    """pycocoevalcap's Gaussian length penalty ``np.e ** (-(delta**2) / (2 * sigma**2))``."""
    distinct, index = np.unique(length_differences, return_inverse=True)
    values = [np.e ** (-(float(delta) ** 2) / (2 * SIGMA**2)) for delta in distinct.tolist()]
    return np.array(values, dtype=np.float64)[index.reshape(-1)]


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., count - 1 for each count, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
