"""Bootstrap intervals and ties (evaluation.stats, evaluation.intervals).

The metrics of any multiset of clips are computed from per-clip statistics;
these tests check them against the tools themselves (pycocoevalcap's
BleuScorer, METEOR 1.5's own EVAL in the Java process, the corpus numbers),
and one interval against a bootstrap written out here in plain Python.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu_scorer import BleuScorer

import evaluation
from evaluation.classic import tokenize
from evaluation.intervals import (
    BootstrapMethod,
    intervals,
    paired_p_value,
    resample_counts,
    resample_draws,
    tie_groups,
    units,
)
from evaluation.judge import aggregate
from evaluation.meteor import shared_meteor
from evaluation.metrics import CLASSIC_METRICS, STAGE_METRICS
from evaluation.movie101v2 import read_split
from evaluation.stats import ClipStats, meteor_from_totals, metric_values
from tests.support.cli import score_json
from tests.support.data import DEMO_DATA, DEMO_PREDICTIONS, shifted_predictions

TOLERANCE = 1e-9


def demo_inputs(language: str) -> tuple[dict[str, str], dict[str, str]]:
    references = read_split(DEMO_DATA, "val", language)
    predictions = json.loads((DEMO_PREDICTIONS / f"val-{language}.json").read_text(encoding="utf-8"))
    return references, predictions


@pytest.fixture(scope="module", params=["en", "zh"])
def demo(request):
    references, predictions = demo_inputs(request.param)
    return references, predictions, evaluation.score(references, predictions, request.param)


# -- plain-Python references -----------------------------------------------------------


def tokenized_pairs(references, predictions, language):
    """(hypothesis tokens, reference tokens) per clip, in sorted clip order, as the protocol makes them."""
    ids = sorted(references)
    refs = tokenize([references[key] for key in ids], language)
    hyps = tokenize([predictions.get(key, "") for key in ids], language)
    return list(zip(hyps, refs, strict=True))


def pycocoevalcap_bleu(pairs) -> list[float]:
    scorer = BleuScorer(n=4)
    for hypothesis, reference in pairs:
        scorer += (hypothesis, [reference])
    return scorer.compute_score(option="closest", verbose=0)[0]


def plain_bleu_4(clip_stats: list[dict]) -> float:
    """Corpus BLEU-4 from summed per-clip counts, written out plainly (pycocoevalcap's constants)."""
    testlen = sum(s["testlen"] for s in clip_stats)
    reflen = sum(s["reflen"][0] for s in clip_stats)
    product = 1.0
    for k in range(4):
        correct = sum(s["correct"][k] for s in clip_stats)
        guess = sum(s["guess"][k] for s in clip_stats)
        product *= (correct + 1e-15) / (guess + 1e-9)
    score = product ** (1 / 4)
    ratio = (testlen + 1e-15) / (reflen + 1e-9)
    return score * math.exp(1 - 1 / ratio) if ratio < 1 else score


def plain_quantile(values: list[float], q: float) -> float:
    """numpy's "linear" quantile, by hand."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def independent_interval(values: list[float], level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    return plain_quantile(values, tail), plain_quantile(values, 1 - tail)


def clip_lists(clip_ids: list[str], method: BootstrapMethod) -> list[list[int]]:
    """Each resample as an explicit list of clip indices, from the drawn units."""
    draws = resample_draws(clip_ids, method).tolist()
    if method.unit == "clip":
        return draws
    movies = sorted({clip_id.split("_")[0] for clip_id in clip_ids})
    clips_of = {movie: [i for i, clip_id in enumerate(clip_ids) if clip_id.split("_")[0] == movie] for movie in movies}
    return [[i for movie_index in row for i in clips_of[movies[movie_index]]] for row in draws]


def counts_of(lists: list[list[int]], clips: int) -> np.ndarray:
    counts = np.zeros((len(lists), clips))
    for row, indices in enumerate(lists):
        for index in indices:
            counts[row, index] += 1
    return counts


# -- exact aggregation -----------------------------------------------------------------


def test_the_full_set_gives_the_result_s_numbers(demo):
    _, _, result = demo
    totals = result.stats.totals()
    assert set(totals) == set(CLASSIC_METRICS)
    for name in CLASSIC_METRICS:
        assert abs(totals[name] - result.metrics[name]) <= TOLERANCE, name


def test_bleu_of_resampled_clips_equals_pycocoevalcap_on_those_clips(demo):
    references, predictions, result = demo
    pairs = tokenized_pairs(references, predictions, result.language)
    full = pycocoevalcap_bleu(pairs)
    for k in range(4):
        assert abs(result.stats.totals()[f"bleu_{k + 1}"] - full[k]) <= TOLERANCE
    rng = random.Random(7)
    lists = [[rng.randrange(len(pairs)) for _ in pairs] for _ in range(20)]
    ours = metric_values(result.stats, counts_of(lists, len(pairs)), ["bleu_1", "bleu_2", "bleu_3", "bleu_4"])
    for row, indices in enumerate(lists):
        theirs = pycocoevalcap_bleu([pairs[i] for i in indices])
        for k in range(4):
            assert abs(ours[f"bleu_{k + 1}"][row] - theirs[k]) <= TOLERANCE, (row, k)


def test_meteor_aggregation_equals_the_java_eval(demo):
    _, _, result = demo
    stats = result.stats
    java_total, java_segments = shared_meteor().evaluate(stats.meteor_lines())
    assert abs(java_total - result.metrics["meteor"]) <= TOLERANCE
    assert abs(stats.totals()["meteor"] - java_total) <= TOLERANCE
    per_segment = meteor_from_totals(stats.meteor)
    for index, clip_id in enumerate(stats.clip_ids):
        assert abs(per_segment[index] - java_segments[index]) <= TOLERANCE
        assert abs(per_segment[index] - result.per_clip[clip_id]["meteor"]) <= TOLERANCE
    # Resampled multisets: the Java process gets the stats lines repeated as drawn.
    assert_meteor_resamples_equal_java(stats, BootstrapMethod(resamples=5, seed=11))
    assert_meteor_resamples_equal_java(stats, BootstrapMethod(unit="movie", resamples=3, seed=12))


def assert_meteor_resamples_equal_java(stats: ClipStats, method: BootstrapMethod) -> None:
    lines = stats.meteor_lines()
    lists = clip_lists(list(stats.clip_ids), method)
    ours = metric_values(stats, resample_counts(stats.clip_ids, method), ["meteor"])["meteor"]
    for row, indices in enumerate(lists):
        java_total, _ = shared_meteor().evaluate([lines[i] for i in indices])
        assert abs(ours[row] - java_total) <= TOLERANCE, (method, row)


def test_perfect_segments_do_not_add_chunks(demo):
    # Meteor 1.5's addStats skips the chunks of a perfect match: a resample made of
    # perfect clips and one imperfect clip checks that rule against the Java.
    references, _, result = demo
    perfect = evaluation.score(references, dict(references), result.language)
    mixed_lines = perfect.stats.meteor_lines()[:3] + result.stats.meteor_lines()[:1]
    java_total, _ = shared_meteor().evaluate(mixed_lines)
    mixed = ClipStats.build(
        ["a_0_1", "b_0_1", "c_0_1", "d_0_1"],
        np.concatenate([perfect.stats.bleu[:3, :6], result.stats.bleu[:1, :6]]),
        np.concatenate([perfect.stats.meteor[:3], result.stats.meteor[:1]]),
        {},
    )
    assert abs(mixed.totals()["meteor"] - java_total) <= TOLERANCE
    assert perfect.stats.totals()["meteor"] == pytest.approx(perfect.metrics["meteor"], abs=TOLERANCE)


def test_means_of_per_clip_scores_equal_the_corpus_numbers(demo):
    _, _, result = demo
    for name in ("rouge_l", "cider"):
        per_clip = [result.per_clip[clip_id][name] for clip_id in result.stats.clip_ids]
        assert abs(math.fsum(per_clip) / len(per_clip) - result.metrics[name]) <= TOLERANCE
        assert abs(result.stats.totals()[name] - result.metrics[name]) <= TOLERANCE


def test_judge_metrics_are_means_of_their_per_clip_scores(demo):
    _, _, result = demo
    rng = random.Random(3)
    answers = {
        clip_id: {
            "l1": {"environment": rng.randint(0, 5), "character": rng.randint(0, 5)},
            "l2": {"plot": rng.randint(0, 5)},
        }
        for clip_id in result.stats.clip_ids
    }
    judge_metrics, judge_per_clip = aggregate(answers)
    stats = result.stats.with_means(judge_per_clip)
    totals = stats.totals()
    for name in STAGE_METRICS:
        assert abs(totals[name] - judge_metrics[name]) <= TOLERANCE
    assert stats.metrics[: len(STAGE_METRICS)] == STAGE_METRICS
    assert set(intervals(stats, BootstrapMethod(resamples=50))) == set(STAGE_METRICS) | set(CLASSIC_METRICS)


# -- serialization ---------------------------------------------------------------------


def test_statistics_round_trip_through_json_exactly(demo):
    _, _, result = demo
    text = result.stats.to_json()
    back = ClipStats.from_json(text)
    assert back.same_as(result.stats)
    assert back.clip_ids == result.stats.clip_ids
    method = BootstrapMethod(resamples=200)
    assert intervals(back, method) == intervals(result.stats, method)
    assert "stats" not in result.to_dict()
    assert result.to_dict(include_stats=True)["stats"] == json.loads(text)
    assert BootstrapMethod.from_dict(json.loads(json.dumps(method.to_dict()))) == method


# -- reproducibility -------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["clip", "movie"])
def test_intervals_are_reproducible_and_depend_on_the_seed(demo, unit):
    _, _, result = demo
    first = intervals(result.stats, BootstrapMethod(unit=unit, seed=5))
    again = intervals(ClipStats.from_json(result.stats.to_json()), BootstrapMethod(unit=unit, seed=5))
    other = intervals(result.stats, BootstrapMethod(unit=unit, seed=6))
    assert first == again
    seed_5 = resample_counts(result.stats.clip_ids, BootstrapMethod(unit=unit, seed=5))
    assert (seed_5 == resample_counts(result.stats.clip_ids, BootstrapMethod(unit=unit, seed=5))).all()
    assert (seed_5 != resample_counts(result.stats.clip_ids, BootstrapMethod(unit=unit, seed=6))).any()
    if unit == "clip":  # the demo's two movies make only three distinct movie resamples
        assert first != other
    for name, (low, high) in first.items():
        assert low <= high, name


def test_movie_resampling_counts_whole_movies(demo):
    _, _, result = demo
    clip_ids = result.stats.clip_ids
    counts = resample_counts(clip_ids, BootstrapMethod(unit="movie", resamples=100))
    movies = units(clip_ids, "movie")
    assert len(movies) >= 2
    for movie in movies:
        columns = [i for i, clip_id in enumerate(clip_ids) if clip_id.startswith(movie + "_")]
        assert (counts[:, columns] == counts[:, columns[:1]]).all()
    movie_draws = resample_draws(clip_ids, BootstrapMethod(unit="movie", resamples=100))
    assert movie_draws.shape == (100, len(movies))
    clip_counts = resample_counts(clip_ids, BootstrapMethod(resamples=100))
    assert (clip_counts.sum(axis=1) == len(clip_ids)).all()


# -- against an independent bootstrap --------------------------------------------------


def independent_check(references, predictions, result, method):
    """ROUGE-L and BLEU-4 intervals recomputed here from explicit per-resample clip lists."""
    stats = result.stats
    scorer = BleuScorer(n=4)
    for hypothesis, reference in tokenized_pairs(references, predictions, result.language):
        scorer += (hypothesis, [reference])
    clip_bleu = scorer.ctest
    rouge = [result.per_clip[clip_id]["rouge_l"] for clip_id in stats.clip_ids]
    lists = clip_lists(list(stats.clip_ids), method)
    rouge_values = [math.fsum(rouge[i] for i in indices) / len(indices) for indices in lists]
    bleu_values = [plain_bleu_4([clip_bleu[i] for i in indices]) for indices in lists]
    ours = intervals(stats, method, ["rouge_l", "bleu_4"])
    for name, values in (("rouge_l", rouge_values), ("bleu_4", bleu_values)):
        low, high = independent_interval(values, method.level)
        assert abs(ours[name][0] - low) <= TOLERANCE, (name, ours[name], (low, high))
        assert abs(ours[name][1] - high) <= TOLERANCE, (name, ours[name], (low, high))


@pytest.mark.parametrize("unit", ["clip", "movie"])
def test_an_interval_equals_an_independent_bootstrap(demo, unit):
    references, predictions, result = demo
    independent_check(references, predictions, result, BootstrapMethod(unit=unit, seed=99))


def test_values_on_python_random_resamples_equal_a_plain_computation(demo):
    references, predictions, result = demo
    scorer = BleuScorer(n=4)
    for hypothesis, reference in tokenized_pairs(references, predictions, result.language):
        scorer += (hypothesis, [reference])
    rouge = [result.per_clip[clip_id]["rouge_l"] for clip_id in result.stats.clip_ids]
    rng = random.Random(2024)
    lists = [[rng.randrange(result.clips) for _ in range(result.clips)] for _ in range(200)]
    ours = metric_values(result.stats, counts_of(lists, result.clips), ["bleu_4", "rouge_l"])
    for row, indices in enumerate(lists):
        assert abs(ours["bleu_4"][row] - plain_bleu_4([scorer.ctest[i] for i in indices])) <= TOLERANCE
        assert abs(ours["rouge_l"][row] - math.fsum(rouge[i] for i in indices) / len(indices)) <= TOLERANCE


# -- ties ------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["clip", "movie"])
def test_identical_predictions_are_tied_and_a_clearly_better_entry_is_not(demo, unit):
    references, predictions, result = demo
    method = BootstrapMethod(unit=unit)
    again = evaluation.score(references, dict(predictions), result.language)  # another team, same file
    perfect = evaluation.score(references, dict(references), result.language)
    worse = evaluation.score(references, shifted_predictions(references), result.language)
    for metric in CLASSIC_METRICS:
        assert paired_p_value(result.stats, again.stats, metric, method) == 1.0
        assert paired_p_value(perfect.stats, worse.stats, metric, method) < 0.05, metric
    ties = tie_groups([perfect.stats, result.stats, again.stats], "bleu_4", method)
    assert [tie.group for tie in ties] == [ties[0].group, ties[1].group, ties[1].group]
    assert ties[2].p_value_vs_above == 1.0
    assert ties[0].p_value_vs_above is None
    ties = tie_groups([perfect.stats, worse.stats], "cider", method)
    assert ties[0].group != ties[1].group


def test_a_p_value_is_symmetric_and_needs_the_same_clips(demo):
    references, predictions, result = demo
    worse = evaluation.score(references, shifted_predictions(references), result.language)
    method = BootstrapMethod(resamples=300)
    assert paired_p_value(result.stats, worse.stats, "rouge_l", method) == paired_p_value(
        worse.stats, result.stats, "rouge_l", method
    )
    fewer = ClipStats.build(result.stats.clip_ids[1:], result.stats.bleu[1:, :6], result.stats.meteor[1:], {})
    with pytest.raises(evaluation.errors.EvaluationError):
        paired_p_value(result.stats, fewer, "bleu_4", method)


# -- the command line gives the library's intervals ------------------------------------


def test_the_command_line_prints_the_library_s_intervals(tmp_path):
    references, predictions = demo_inputs("zh")
    output = score_json(tmp_path, references, predictions, "zh", "--intervals", "--unit", "movie", "--seed", "17")
    method = BootstrapMethod(unit="movie", seed=17)
    expected = intervals(evaluation.score(references, predictions, "zh").stats, method)
    assert output["intervals"]["method"] == method.to_dict()
    assert output["intervals"]["metrics"] == {name: list(bounds) for name, bounds in expected.items()}


# -- the real test split ---------------------------------------------------------------


@pytest.fixture(scope="module", params=["en", "zh"])
def real_shifted(request, real_test_split):
    references = real_test_split[request.param]
    predictions = shifted_predictions(references)
    return references, predictions, evaluation.score(references, predictions, request.param)


@pytest.mark.slow
def test_real_split_aggregations_are_exact(real_shifted):
    references, predictions, result = real_shifted
    stats = result.stats
    assert stats.clips == 2227
    totals = stats.totals()
    for name in CLASSIC_METRICS:
        assert abs(totals[name] - result.metrics[name]) <= TOLERANCE, name
    full = pycocoevalcap_bleu(tokenized_pairs(references, predictions, result.language))
    for k in range(4):
        assert abs(totals[f"bleu_{k + 1}"] - full[k]) <= TOLERANCE
    java_total, _ = shared_meteor().evaluate(stats.meteor_lines())
    assert abs(totals["meteor"] - java_total) <= TOLERANCE
    assert_meteor_resamples_equal_java(stats, BootstrapMethod(resamples=3, seed=1))
    assert_meteor_resamples_equal_java(stats, BootstrapMethod(unit="movie", resamples=3, seed=2))
    assert ClipStats.from_json(stats.to_json()).same_as(stats)


@pytest.mark.slow
@pytest.mark.parametrize("unit", ["clip", "movie"])
def test_real_split_interval_equals_an_independent_bootstrap(real_shifted, unit):
    references, predictions, result = real_shifted
    independent_check(references, predictions, result, BootstrapMethod(unit=unit, resamples=200, seed=5))
