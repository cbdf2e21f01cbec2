"""evaluation.bleu gives pycocoevalcap's BLEU bit for bit, with the reference side cached.

Compared with ``BleuScorer(n=4).compute_score(option="closest")`` (what ``Bleu(4)`` runs): corpus
BLEU-1..4, every clip's BLEU-1..4 and the per-clip counts :class:`evaluation.stats.ClipStats` keeps
(``bleu_clip_stats`` of pycocoevalcap's ``ctest``), on the real test split in both languages (on a
cache miss, on a hit, and for another submission against the cached references) and on generated
inputs: several references per clip, empty predictions and references, repeated words, words the
references lack, runs of whitespace.
"""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocoevalcap.bleu.bleu_scorer import BleuScorer, cook_refs

from evaluation import bleu as bleu_module
from evaluation import classic, ngrams
from evaluation.stats import bleu_clip_stats
from tests.support.data import shifted_predictions


def bounded(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None)


def tokenized(references: dict[str, str], predictions: dict[str, str], language: str):
    ids = sorted(references)
    reference_tokens = classic.tokenize([references[key] for key in ids], language)
    prediction_tokens = classic.tokenize([predictions.get(key, "") for key in ids], language)
    gts = {key: [tokens] for key, tokens in zip(ids, reference_tokens, strict=True)}
    res = {key: [tokens] for key, tokens in zip(ids, prediction_tokens, strict=True)}
    return gts, res


def pycocoevalcap_bleu(gts, res):
    scorer = BleuScorer(n=4)
    for key in gts:
        scorer += (res[key][0], gts[key])
    totals, per_clip = scorer.compute_score(option="closest", verbose=0)
    return totals, per_clip, bleu_clip_stats(scorer.ctest)


def assert_bleu_identical(gts, res) -> None:
    totals, per_clip, clip_stats = pycocoevalcap_bleu(gts, res)
    ours = bleu_module.bleu(gts, res)
    # Bit for bit: == on Python floats, not a tolerance.
    assert ours.totals == totals
    assert ours.per_clip == per_clip
    assert ours.clip_stats.tolist() == clip_stats


class CountedSides:
    """Counts the reference sides computed (cache misses), by wrapping the real function."""

    def __init__(self, monkeypatch):
        self.misses = 0
        compute = bleu_module._reference_side

        def counted(gts):
            self.misses += 1
            return compute(gts)

        monkeypatch.setattr(bleu_module, "_reference_side", counted)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_bleu_equals_pycocoevalcap_on_the_real_test_split_cold_cached_and_for_another_submission(
    language, real_test_split, monkeypatch
):
    references = real_test_split[language]
    ids = sorted(references)
    predictions = shifted_predictions(references)
    for clip_id in ids[::97]:
        predictions[clip_id] = references[clip_id]
    predictions[ids[1]] = ""
    gts, res = tokenized(references, predictions, language)
    sides = CountedSides(monkeypatch)
    bleu_module.clear_cache()

    assert_bleu_identical(gts, res)
    assert sides.misses == 1
    assert_bleu_identical(gts, res)
    assert sides.misses == 1  # the references' side was reused

    # Another submission: each clip's prediction is a clip two places back, some words doubled.
    other_predictions = {
        clip_id: " ".join(word for word in references[ids[index - 2]].split(" ") for _ in range(1 + index % 2))
        for index, clip_id in enumerate(ids)
    }
    _, other = tokenized(references, other_predictions, language)
    assert_bleu_identical(gts, other)
    assert sides.misses == 1


words = st.sampled_from(["a", "b", "c", "the", "he", "的", "他", "a-b", "A"])
separators = st.sampled_from([" ", " ", " ", "  ", "\t", " \n"])
captions = st.lists(st.tuples(words, separators), max_size=14).map(lambda parts: "".join(w + s for w, s in parts))


@bounded(300)
@given(
    clips=st.lists(st.tuples(captions, st.lists(captions, min_size=1, max_size=4)), min_size=1, max_size=10),
    cache_size=st.sampled_from([0, 1, 2]),
)
def test_bleu_equals_pycocoevalcap_on_generated_inputs(clips, cache_size):
    gts = {f"clip{index}": references for index, (_, references) in enumerate(clips)}
    res = {f"clip{index}": [candidate] for index, (candidate, _) in enumerate(clips)}
    bleu_module.CACHE_SIZE, saved = cache_size, bleu_module.CACHE_SIZE
    try:
        assert_bleu_identical(gts, res)
        assert_bleu_identical(gts, res)  # from the cache when it keeps any
        assert len(bleu_module._cache) <= cache_size
    finally:
        bleu_module.CACHE_SIZE = saved


@pytest.mark.parametrize(
    ("prediction", "references"),
    [
        ("", [""]),
        ("", ["a b c"]),
        ("a b c", [""]),
        ("a a a a a", ["a"]),
        ("a a a a a", ["a a", "a a a", "b"]),
        ("x y z w v", ["z y x", "q"]),
        ("a b c d e f", ["a b c d e f", "a b c d e f g h"]),  # ties for the closest length: the shorter wins
        ("a b c d", ["a b c", "a b c d e"]),
        ("the cat the cat the cat", ["the cat sat", "cat the cat the"]),
    ],
)
def test_bleu_edge_cases(prediction, references):
    gts = {"clip": references, "other": ["a b"]}
    res = {"clip": [prediction], "other": ["a b"]}
    assert_bleu_identical(gts, res)


def test_the_cache_tells_reference_sets_apart(monkeypatch):
    monkeypatch.setattr(bleu_module, "CACHE_SIZE", 2)
    sides = CountedSides(monkeypatch)
    bleu_module.clear_cache()
    res = {"a": ["a b c d"], "b": ["c d"]}
    sets = [{"a": ["a b c"], "b": ["c d"]}, {"a": ["a b"], "b": ["c c d"]}, {"a": ["a b", "c"], "b": ["c d"]}]
    for gts in (*sets, sets[2], sets[1], sets[0]):
        assert_bleu_identical(gts, res)
    # Three sets, LRU of two: the third evicts the first, which is computed again at the end.
    assert sides.misses == 4
    assert len(bleu_module._cache) == 2


def test_the_cached_reference_side_is_smaller_than_pycocoevalcaps(real_test_split):
    """The n-grams as integer ids take a fraction of the memory of cook_refs' tuples and dicts."""
    gts, _ = tokenized(real_test_split["zh"], {}, "zh")
    ngrams.clear_cache()  # measured from scratch, the n-gram counts BLEU shares with CIDEr included
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        scorer = BleuScorer(n=4)
        for key in gts:
            scorer.crefs.append(cook_refs(gts[key]))
        theirs = tracemalloc.get_traced_memory()[0] - before
        del scorer
        before = tracemalloc.get_traced_memory()[0]
        side = bleu_module._reference_side(gts)
        ours = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert side.clips == len(gts)
    assert ours * 4 < theirs, (ours, theirs)
