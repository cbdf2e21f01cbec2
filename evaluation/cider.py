"""CIDEr exactly as pycocoevalcap 1.2's ``Cider`` (n = 4, sigma = 6), the reference side cached.

Everything pycocoevalcap's ``CiderScorer`` derives from the references alone (their n-gram counts,
the document frequencies, each reference's TF-IDF vector, norm and length) is computed once per
reference set and kept, keyed by a hash of the tokenized references: a second submission against the
same references pays only for its own side (its n-grams, its vector and the similarities).

The arithmetic is pycocoevalcap's, operation for operation and in the same order (n-grams in
``precook``'s order, ``numpy.log`` for the IDF, ``numpy.sqrt`` for the norms, the same Gaussian length
penalty, ``numpy.mean`` over n and over clips), so the numbers are bit-identical. One shortcut, exact
too: an n-gram of the hypothesis that the reference lacks adds ``min(h, 0) * 0 = 0`` to a non-negative
sum in pycocoevalcap, and is skipped here.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pycocoevalcap.cider.cider_scorer import precook

N = 4
SIGMA = 6.0
#: Reference sets kept. One Movie101v2 test split costs about 66 MiB (zh) or 52 MiB (en) of a
#: worker's memory; 0 keeps none (the reference side is then computed on every call).
CACHE_SIZE = int(os.environ.get("EVALUATION_CIDER_CACHE_SIZE", "1"))


@dataclass(frozen=True)
class _ReferenceSide:
    document_frequency: dict[tuple[str, ...], float]
    ref_len: np.float64
    #: Per clip, per reference: (n-gram -> TF-IDF weight over all n, norms by n, length).
    vectors: list[list[tuple[dict[tuple[str, ...], float], list[float], int]]]
    idf: dict[float, np.float64]


_cache: OrderedDict[str, _ReferenceSide] = OrderedDict()
_cache_lock = threading.Lock()


def references_key(gts: Mapping[str, Sequence[str]]) -> str:
    """A hash of the tokenized references, in the order of ``gts``."""
    digest = hashlib.sha256()
    for references in gts.values():
        digest.update(len(references).to_bytes(4, "little"))
        for reference in references:
            encoded = reference.encode("utf-8", "surrogatepass")
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
    return digest.hexdigest()


def _idf(side_idf: dict, document_frequency: float, ref_len) -> np.float64:
    # pycocoevalcap: ``df = np.log(max(1.0, self.document_frequency[ngram]))``, then ``ref_len - df``.
    value = side_idf.get(document_frequency)
    if value is None:
        value = side_idf[document_frequency] = ref_len - np.log(max(1.0, document_frequency))
    return value


def _vector(counts, document_frequency, ref_len, idf):
    """pycocoevalcap's ``counts2vec``: the n-grams of all n in one dict, norms by n, the "length"."""
    vector = {}
    norm = [0.0] * N
    length = 0
    get = document_frequency.get
    for ngram, term_freq in counts.items():
        n = len(ngram) - 1
        weight = float(term_freq) * _idf(idf, get(ngram, 0.0), ref_len)
        vector[ngram] = weight
        norm[n] += pow(weight, 2)
        if n == 1:
            length += term_freq
    return vector, [np.sqrt(value) for value in norm], length


def _reference_side(gts: Mapping[str, Sequence[str]]) -> _ReferenceSide:
    crefs = [[precook(reference, N) for reference in references] for references in gts.values()]
    document_frequency: defaultdict[tuple[str, ...], float] = defaultdict(float)
    for refs in crefs:
        for ngram in {ngram for ref in refs for ngram in ref}:
            document_frequency[ngram] += 1
    document_frequency = dict(document_frequency)
    ref_len = np.log(float(len(crefs)))
    idf: dict[float, np.float64] = {}
    # Kept for every later submission: each n-gram stored once (the document frequencies' own key
    # objects), the weights as plain floats (the same doubles, in less memory than numpy scalars).
    canonical = {ngram: ngram for ngram in document_frequency}
    vectors = []
    for refs in crefs:
        clip = []
        for ref in refs:
            vector, norm, length = _vector(ref, document_frequency, ref_len, idf)
            clip.append(({canonical[ngram]: float(weight) for ngram, weight in vector.items()}, norm, length))
        vectors.append(clip)
    return _ReferenceSide(document_frequency, ref_len, vectors, idf)


def reference_side(gts: Mapping[str, Sequence[str]]) -> _ReferenceSide:
    """The cached reference side of ``gts``, computed on a miss."""
    key = references_key(gts)
    with _cache_lock:
        side = _cache.get(key)
        if side is not None:
            _cache.move_to_end(key)
            return side
    side = _reference_side(gts)
    if CACHE_SIZE <= 0:
        return side
    with _cache_lock:
        _cache[key] = side
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return side


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def cider(gts: Mapping[str, Sequence[str]], res: Mapping[str, Sequence[str]]) -> tuple[float, np.ndarray]:
    """Same contract and numbers as ``pycocoevalcap.cider.cider.Cider().compute_score(gts, res)``."""
    assert gts.keys() == res.keys()
    for key in gts:
        assert isinstance(res[key], list) and len(res[key]) == 1
        assert isinstance(gts[key], list) and len(gts[key]) > 0
    side = reference_side(gts)
    document_frequency, ref_len = side.document_frequency, side.ref_len
    # The test side looks up its own n-grams' IDF in a table of its own: the cached one is shared.
    idf = dict(side.idf)
    scores = []
    for hypothesis, ref_vectors in zip(res.values(), side.vectors, strict=True):
        vec, norm, length = _vector(precook(hypothesis[0], N), document_frequency, ref_len, idf)
        score = np.array([0.0 for _ in range(N)])
        for vec_ref, norm_ref, length_ref in ref_vectors:
            score += _similarity(vec, vec_ref, norm, norm_ref, length, length_ref)
        score_avg = np.mean(score)
        score_avg /= len(ref_vectors)
        score_avg *= 10.0
        scores.append(score_avg)
    return np.mean(np.array(scores)), np.array(scores)


def _similarity(vec_hyp, vec_ref, norm_hyp, norm_ref, length_hyp, length_ref) -> np.ndarray:
    """pycocoevalcap's ``sim``: clipped cosine similarity by n, with the Gaussian length penalty."""
    delta = float(length_hyp - length_ref)
    val = np.array([0.0 for _ in range(N)])
    get = vec_ref.get
    for ngram, weight in vec_hyp.items():
        reference_weight = get(ngram)
        if reference_weight is not None:
            n = len(ngram) - 1
            val[n] += min(weight, reference_weight) * reference_weight
    penalty = np.e ** (-(delta**2) / (2 * SIGMA**2))
    for n in range(N):
        if (norm_hyp[n] != 0) and (norm_ref[n] != 0):
            val[n] /= norm_hyp[n] * norm_ref[n]
        val[n] *= penalty
    return val
