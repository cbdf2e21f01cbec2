"""ROUGE-L exactly as pycocoevalcap 1.2's ``Rouge``, with a fast LCS.

pycocoevalcap computes the longest common subsequence with a pure-Python
table (``my_lcs``, O(m·n) list operations), which dominates ROUGE-L on long
Chinese narrations scored in characters. The length of the LCS is an integer,
so any exact algorithm gives the same number; this one is the bit-parallel LCS
of Allison and Dix (1986) in Hyyrö's formulation (2004), on Python integers:
one addition, a few bitwise operations per token of the shorter side.

Everything around the LCS is pycocoevalcap's, operation for operation, so the
floating-point results are identical: tokens from ``str.split(" ")`` (an empty
caption is one empty token), precision and recall per reference, their maxima,
the F-measure with beta = 1.2, and ``numpy.mean`` over clips.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

BETA = 1.2  # pycocoevalcap.rouge.rouge.Rouge().beta


def lcs_length(a: Sequence, b: Sequence) -> int:
    """The length of a longest common subsequence of ``a`` and ``b`` (items compared with ``==``).

    Bit-parallel: bit ``i`` of a mask stands for ``a[i]``. ``V`` has a 0 at
    each position that ends a match in the current LCS; after all of ``b`` the
    LCS length is the number of zeros among the low ``len(a)`` bits.
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(a)
    if not b:
        return 0
    matches: dict = {}
    for index, item in enumerate(a):
        matches[item] = matches.get(item, 0) | (1 << index)
    full = (1 << m) - 1
    v = full
    get = matches.get
    for item in b:
        match = get(item)
        if match:
            u = v & match
            v = ((v + u) | (v - u)) & full
    return m - v.bit_count()


def rouge_l_clip(candidate: str, references: Sequence[str], beta: float = BETA) -> float:
    """``pycocoevalcap.rouge.rouge.Rouge().calc_score([candidate], references)``."""
    assert len(references) > 0
    token_c = candidate.split(" ")
    prec = []
    rec = []
    for reference in references:
        token_r = reference.split(" ")
        lcs = lcs_length(token_r, token_c)
        prec.append(lcs / float(len(token_c)))
        rec.append(lcs / float(len(token_r)))
    prec_max = max(prec)
    rec_max = max(rec)
    if prec_max != 0 and rec_max != 0:
        return ((1 + beta**2) * prec_max * rec_max) / float(rec_max + beta**2 * prec_max)
    return 0.0


def rouge_l(gts: Mapping[str, Sequence[str]], res: Mapping[str, Sequence[str]]) -> tuple[float, np.ndarray]:
    """Same contract and numbers as ``pycocoevalcap.rouge.rouge.Rouge().compute_score(gts, res)``."""
    assert gts.keys() == res.keys()
    scores = []
    for key in gts:
        hypothesis, references = res[key], gts[key]
        assert isinstance(hypothesis, list) and len(hypothesis) == 1
        assert isinstance(references, list) and len(references) > 0
        scores.append(rouge_l_clip(hypothesis[0], references))
    array = np.array(scores)
    return np.mean(array), array
