"""The faster classic scoring gives pycocoevalcap's numbers.

* ROUGE-L (evaluation/rouge.py, a bit-parallel LCS) equals ``pycocoevalcap``'s ``Rouge`` per clip and
  on the mean, on the real test split in both languages and on generated small inputs (ties, empty
  narrations, repeated tokens, several references).
* ``evaluation.score`` runs METEOR in a thread beside the Python metrics: its result (metrics, per-clip
  scores, the statistics the intervals use) equals the plain sequential computation on pycocoevalcap's
  classes, and a failure on either side leaves the warm METEOR process usable.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pycocoevalcap.bleu.bleu_scorer import BleuScorer
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge, my_lcs

import evaluation
from evaluation import cider as cider_module
from evaluation import classic
from evaluation.meteor import MeteorCancelled, shared_meteor
from evaluation.rouge import lcs_length, rouge_l, rouge_l_clip
from evaluation.stats import ClipStats, bleu_clip_stats, parse_meteor_stats
from tests.support.data import shifted_predictions

TOLERANCE = 1e-12


def bounded(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None)


def tokenized(references: dict[str, str], predictions: dict[str, str], language: str):
    ids = sorted(references)
    reference_tokens = classic.tokenize([references[key] for key in ids], language)
    prediction_tokens = classic.tokenize([predictions.get(key, "") for key in ids], language)
    gts = {key: [tokens] for key, tokens in zip(ids, reference_tokens, strict=True)}
    res = {key: [tokens] for key, tokens in zip(ids, prediction_tokens, strict=True)}
    return ids, gts, res


def assert_rouge_equal(gts, res) -> None:
    ours_total, ours = rouge_l(gts, res)
    theirs_total, theirs = Rouge().compute_score(gts, res)
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs), initial=0.0) <= TOLERANCE
    assert abs(ours_total - theirs_total) <= TOLERANCE
    # The same operations in the same order: in fact bit for bit.
    assert ours.tolist() == theirs.tolist() and float(ours_total) == float(theirs_total)


# -- ROUGE-L -------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_rouge_l_equals_pycocoevalcap_on_the_real_test_split(language, real_test_split):
    references = real_test_split[language]
    predictions = shifted_predictions(references)
    # A few clips where the prediction is the reference, and one empty prediction.
    ids = sorted(references)
    for clip_id in ids[::97]:
        predictions[clip_id] = references[clip_id]
    predictions[ids[1]] = ""
    _, gts, res = tokenized(references, predictions, language)
    assert_rouge_equal(gts, res)


words = st.sampled_from(["a", "b", "c", "the", "he", "", "的", "他"])
captions = st.lists(words, max_size=12).map(" ".join)


@bounded(400)
@given(a=st.lists(words, max_size=40), b=st.lists(words, max_size=40))
def test_lcs_length_equals_my_lcs(a, b):
    assert lcs_length(a, b) == my_lcs(a, b) == lcs_length(b, a)


@bounded(400)
@given(candidate=captions, references=st.lists(captions, min_size=1, max_size=4))
def test_rouge_l_clip_equals_calc_score(candidate, references):
    assert rouge_l_clip(candidate, references) == Rouge().calc_score([candidate], references)


@bounded(100)
@given(pairs=st.lists(st.tuples(captions, captions), min_size=1, max_size=12))
def test_rouge_l_equals_compute_score(pairs):
    gts = {f"clip{index}": [reference] for index, (reference, _) in enumerate(pairs)}
    res = {f"clip{index}": [candidate] for index, (_, candidate) in enumerate(pairs)}
    assert_rouge_equal(gts, res)


def test_rouge_l_edge_cases():
    cases = [
        ("", [""]),
        ("a", [""]),
        ("", ["a b"]),
        ("a a a a", ["a"]),
        ("a b a b a b", ["b a b a", "a a a"]),
        ("x y z", ["z y x"]),
        ("a  b", ["a b", "a  b"]),  # a double space is an empty token, for both
        (" ".join("ab" * 100), [" ".join("ba" * 120)]),  # masks wider than a machine word
    ]
    for candidate, references in cases:
        assert rouge_l_clip(candidate, references) == Rouge().calc_score([candidate], references), candidate


# -- CIDEr ---------------------------------------------------------------------------------


def assert_cider_equal(gts, res, theirs=None) -> tuple:
    ours_total, ours = cider_module.cider(gts, res)
    theirs_total, theirs = theirs or Cider().compute_score(gts, res)
    assert np.max(np.abs(ours - theirs), initial=0.0) <= TOLERANCE
    assert abs(ours_total - theirs_total) <= TOLERANCE
    assert ours.tolist() == theirs.tolist() and float(ours_total) == float(theirs_total)
    return theirs_total, theirs


def has_an_ngram(gts) -> bool:
    # pycocoevalcap fails (max() of no document frequencies) when no reference has a word.
    return any(reference.split() for references in gts.values() for reference in references)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_cider_equals_pycocoevalcap_on_the_real_test_split_cold_and_cached(language, real_test_split):
    references = real_test_split[language]
    predictions = shifted_predictions(references)
    ids = sorted(references)
    for clip_id in ids[::97]:
        predictions[clip_id] = references[clip_id]
    predictions[ids[1]] = ""
    _, gts, res = tokenized(references, predictions, language)
    cider_module.clear_cache()
    theirs = assert_cider_equal(gts, res)  # the reference side computed
    assert_cider_equal(gts, res, theirs)  # and reused
    # Another submission against the same (cached) references.
    _, _, other = tokenized(references, {clip_id: references[clip_id] for clip_id in ids}, language)
    assert_cider_equal(gts, other)


@bounded(150)
@given(pairs=st.lists(st.tuples(captions, captions), min_size=1, max_size=12))
def test_cider_equals_compute_score(pairs):
    gts = {f"clip{index}": [reference] for index, (reference, _) in enumerate(pairs)}
    res = {f"clip{index}": [candidate] for index, (_, candidate) in enumerate(pairs)}
    assume(has_an_ngram(gts))
    theirs = assert_cider_equal(gts, res)
    assert_cider_equal(gts, res, theirs)


@bounded(60)
@given(
    clips=st.lists(st.tuples(captions, st.lists(captions, min_size=1, max_size=3)), min_size=1, max_size=8),
)
def test_cider_with_several_references_equals_compute_score(clips):
    gts = {f"clip{index}": references for index, (_, references) in enumerate(clips)}
    res = {f"clip{index}": [candidate] for index, (candidate, _) in enumerate(clips)}
    assume(has_an_ngram(gts))
    assert_cider_equal(gts, res)


@pytest.mark.parametrize("cache_size", [0, 1, 2])
def test_the_cache_tells_reference_sets_apart(cache_size, monkeypatch):
    monkeypatch.setattr(cider_module, "CACHE_SIZE", cache_size)
    first = {"a": ["a b c"], "b": ["c d"]}
    second = {"a": ["a b"], "b": ["c c d"]}
    res = {"a": ["a b c d"], "b": ["c d"]}
    cider_module.clear_cache()
    for gts in (first, second, first, {"a": ["a b c", ""], "b": ["c d"]}):
        assert_cider_equal(gts, res)
    assert len(cider_module._cache) <= cache_size
    assert cider_module.references_key(first) != cider_module.references_key({"a": ["a b", "c"], "b": ["c d"]})


# -- METEOR beside the Python metrics ------------------------------------------------------


def sequential(references, predictions, language):
    """The pre-concurrency protocol: every metric on pycocoevalcap's classes, one after the other."""
    ids, gts, res = tokenized(references, predictions, language)
    scorer = BleuScorer(n=4)
    for key in ids:
        scorer += (res[key][0], gts[key])
    bleu_totals, bleu_per_clip = scorer.compute_score(option="closest", verbose=0)
    meteor_total, meteor_per_clip, meteor_stats = shared_meteor().compute_score_and_stats(gts, res)
    rouge_total, rouge_per_clip = Rouge().compute_score(gts, res)
    cider_total, cider_per_clip = Cider().compute_score(gts, res)
    metrics = {f"bleu_{n + 1}": float(bleu_totals[n]) for n in range(4)}
    metrics.update(meteor=float(meteor_total), rouge_l=float(rouge_total), cider=float(cider_total))
    per_clip = {
        key: {
            **{f"bleu_{n + 1}": float(bleu_per_clip[n][index]) for n in range(4)},
            "meteor": float(meteor_per_clip[index]),
            "rouge_l": float(rouge_per_clip[index]),
            "cider": float(cider_per_clip[index]),
        }
        for index, key in enumerate(ids)
    }
    stats = ClipStats.build(
        ids,
        bleu_clip_stats(scorer.ctest),
        [parse_meteor_stats(line) for line in meteor_stats],
        {"rouge_l": rouge_per_clip, "cider": cider_per_clip},
    )
    return metrics, per_clip, stats


@pytest.mark.parametrize("language", ["zh", "en"])
def test_concurrent_score_equals_the_sequential_computation(language, real_test_split):
    all_references = real_test_split[language]
    references = {clip_id: all_references[clip_id] for clip_id in sorted(all_references)[::5][:300]}
    predictions = shifted_predictions(references)
    predictions[sorted(references)[3]] = ""
    ours = evaluation.score(references, predictions, language)
    metrics, per_clip, stats = sequential(references, predictions, language)
    assert ours.metrics == metrics
    assert ours.per_clip == per_clip
    assert ours.stats.to_json_dict() == stats.to_json_dict()


def test_a_failing_python_metric_cancels_meteor_and_leaves_it_usable(real_test_split, monkeypatch):
    references = dict(sorted(real_test_split["en"].items())[:40])
    predictions = shifted_predictions(references)
    expected = evaluation.score(references, predictions, "en").metrics

    def broken(gts, res):
        raise RuntimeError("CIDEr broke")

    with monkeypatch.context() as patch:
        patch.setattr(classic, "cider", broken)
        with pytest.raises(RuntimeError, match="CIDEr broke"):
            evaluation.score(references, predictions, "en")
    assert evaluation.score(references, predictions, "en").metrics == expected


def test_a_cancelled_meteor_call_raises_and_the_next_call_works():
    gts = {"a": ["the man walks in"], "b": ["she smiles"]}
    res = {"a": ["a man walks"], "b": ["she laughs"]}
    meteor = shared_meteor()
    expected = meteor.compute_score(gts, res)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(MeteorCancelled):
        meteor.compute_score_and_stats(gts, res, cancel=cancel)
    assert meteor.compute_score(gts, res) == expected
