"""The classic metrics equal a direct pycocoevalcap computation under the protocol, to 1e-9.

The reference computation (tests/support/pycocoevalcap_reference.py) is the protocol
written out plainly on top of pycocoevalcap's own classes (its PTBTokenizer,
Bleu, Meteor, Rouge, Cider), sharing no code with ``evaluation``.
"""

from __future__ import annotations

import pytest
from pycocoevalcap.meteor.meteor import Meteor as UpstreamMeteor

import evaluation
from evaluation.metrics import CLASSIC_METRICS
from tests.support.cli import score_json
from tests.support.data import shifted_predictions
from tests.support.pycocoevalcap_reference import direct_pycocoevalcap

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def upstream_meteor():
    meteor = UpstreamMeteor()
    yield meteor
    meteor.meteor_p.kill()
    meteor.meteor_p.wait()


def assert_same(ours: dict[str, float], theirs: dict[str, float]) -> None:
    assert set(ours) >= set(CLASSIC_METRICS)
    for name in CLASSIC_METRICS:
        assert abs(ours[name] - theirs[name]) <= TOLERANCE, (name, ours[name], theirs[name])


PITFALLS = {
    "newline": "[{name}] opens the door.\nThen he leaves.",
    "line_separator": "He looks up\u2028and sees the rain\u2029falling.",
    "triple_bar": "She waves ||| he waves back | again",
    "empty": "",
    "whitespace_only": " \t\r\n ",
    "long": "The camera pans slowly across the crowded street. " * 38,
    "zero_width": "zero\u200bwidth\u200dspaces\ufeffhere",
    "full_width": "ＡＢＣ　１２３，全角",
    "controls": "tab\tvertical\vform\ffeed\x1cfile\x85next",
}


def with_pitfalls(references: dict[str, str], predictions: dict[str, str]) -> dict[str, str]:
    predictions = dict(predictions)
    for clip_id, (_, text) in zip(sorted(references), PITFALLS.items(), strict=False):
        predictions[clip_id] = text.format(name="Cheng Yong")
    return predictions


@pytest.mark.parametrize("language", ["en", "zh"])
def test_slice_of_real_data_equals_pycocoevalcap(language, real_test_split, upstream_meteor):
    all_references = real_test_split[language]
    ids = sorted(all_references)[::7][:320]
    references = {clip_id: all_references[clip_id] for clip_id in ids}
    # A reference with the pitfalls too: |||, a newline, a U+2028.
    references[ids[-1]] += " ||| and\nthen\u2028more"
    predictions = with_pitfalls(references, shifted_predictions(references))

    ours = evaluation.score(references, predictions, language)
    theirs = direct_pycocoevalcap(references, predictions, language, upstream_meteor)
    assert_same(ours.metrics, theirs)
    assert ours.clips == len(references) and ours.missing_clips == 0
    assert set(ours.per_clip) == set(references)
    assert ours.versions["pycocoevalcap"] == "1.2" and ours.versions["evaluation"] == evaluation.__version__


def test_partial_predictions_score_missing_clips_as_empty(real_test_split, upstream_meteor):
    references = dict(sorted(real_test_split["en"].items())[:60])
    predictions = dict(list(shifted_predictions(references).items())[:45])
    with pytest.raises(evaluation.errors.EvaluationError, match="15 clips have no prediction"):
        evaluation.score(references, predictions, "en")
    ours = evaluation.score(references, predictions, "en", allow_partial=True)
    assert ours.missing_clips == 15
    assert_same(ours.metrics, direct_pycocoevalcap(references, predictions, "en", upstream_meteor))


def test_a_line_separator_cannot_shift_captions(real_test_split):
    """Unnormalized, U+2028 makes the PTB tokenizer emit an extra line and misalign every later clip."""
    references = dict(sorted(real_test_split["en"].items())[:20])
    predictions = dict(references)
    first = sorted(references)[0]
    spaced = evaluation.score(references, {**predictions, first: "a b"}, "en")
    separated = evaluation.score(references, {**predictions, first: "a\u2028b"}, "en")
    assert spaced.metrics == separated.metrics
    # Every other clip still matches its own reference perfectly.
    assert all(separated.per_clip[clip_id]["bleu_1"] > 0.99 for clip_id in sorted(references)[1:])


def test_batching_changes_cider_so_the_split_is_scored_whole(real_test_split):
    references = real_test_split["en"]
    ids = sorted(references)[:400]
    subset = {clip_id: references[clip_id] for clip_id in ids}
    predictions = shifted_predictions(subset)
    whole = evaluation.score(subset, predictions, "en").metrics["cider"]
    halves = [
        evaluation.score({k: subset[k] for k in part}, {k: predictions[k] for k in part}, "en").metrics["cider"]
        for part in (ids[:200], ids[200:])
    ]
    assert abs(whole - sum(halves) / 2) > 1e-3


def test_identical_inputs_give_bit_identical_numbers(real_test_split):
    references = dict(sorted(real_test_split["zh"].items())[:100])
    predictions = shifted_predictions(references)
    first = evaluation.score(references, predictions, "zh")
    second = evaluation.score(dict(reversed(references.items())), dict(reversed(predictions.items())), "zh")
    assert first.metrics == second.metrics and first.reference_hash == second.reference_hash


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "zh"])
def test_cli_on_the_full_test_split_equals_pycocoevalcap(language, real_test_split, upstream_meteor, tmp_path):
    references = real_test_split[language]
    predictions = shifted_predictions(references)
    output = score_json(tmp_path, references, predictions, language)  # nothing but one JSON object on stdout
    assert output["language"] == language and output["clips"] == 2227
    assert_same(output["metrics"], direct_pycocoevalcap(references, predictions, language, upstream_meteor))
