"""METEOR's segments split over several Java processes give exactly the numbers of one process.

Each process scores a contiguous part of the segments (``SCORE``); one process then aggregates every
stats line in the original order (``EVAL``), as pycocoevalcap's ``Meteor.compute_score`` does. The
tests compare, on the real test split, the totals, per-clip scores, stats lines and ``ClipStats`` of
1, 2 and 3 processes with each other and with pycocoevalcap's own ``Meteor``, and check that the
failure handling of one process (cancellation, a killed process, a deadline) holds for several.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from pycocoevalcap.meteor.meteor import Meteor as UpstreamMeteor

import evaluation
from evaluation import classic
from evaluation.meteor import Meteor, MeteorCancelled, MeteorError, split_evenly
from tests.support.data import shifted_predictions


@pytest.fixture(scope="module")
def one():
    meteor = Meteor(processes=1)
    yield meteor
    meteor.close()


@pytest.fixture(scope="module")
def two():
    # Every call is split (by default only calls of 10,000 segments are), and both processes are up.
    meteor = Meteor(processes=2, split_segments=1)
    assert meteor.wait_ready()
    yield meteor
    meteor.close()


@pytest.fixture(scope="module")
def upstream():
    meteor = UpstreamMeteor()
    yield meteor
    meteor.meteor_p.kill()
    meteor.meteor_p.wait()


def tokenized_split(references: dict[str, str], language: str):
    ids = sorted(references)
    predictions = shifted_predictions(references)
    predictions[ids[3]] = ""  # an empty narration among them
    predictions[ids[5]] = references[ids[5]]  # and a perfect one
    reference_tokens = classic.tokenize([references[key] for key in ids], language)
    prediction_tokens = classic.tokenize([predictions[key] for key in ids], language)
    gts = {key: [tokens] for key, tokens in zip(ids, reference_tokens, strict=True)}
    res = {key: [tokens] for key, tokens in zip(ids, prediction_tokens, strict=True)}
    return predictions, gts, res


def subset(references: dict[str, str], step: int = 7) -> dict[str, str]:
    return {clip_id: references[clip_id] for clip_id in sorted(references)[::step]}


def test_split_evenly_keeps_order_and_balance():
    assert split_evenly(list(range(7)), 2) == [[0, 1, 2, 3], [4, 5, 6]]
    assert split_evenly(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert split_evenly([1], 2) == [[1]]  # never an empty part: a process with nothing to do is not asked
    for parts in (1, 2, 3, 5):
        pieces = split_evenly(list(range(23)), parts)
        assert [item for piece in pieces for item in piece] == list(range(23))
        assert max(map(len, pieces)) - min(map(len, pieces)) <= 1


@pytest.mark.parametrize("language", ["zh", "en"])
def test_two_processes_give_one_process_and_pycocoevalcap_numbers(language, real_test_split, one, two, upstream):
    _, gts, res = tokenized_split(subset(real_test_split[language]), language)
    single = one.compute_score_and_stats(gts, res)
    double = two.compute_score_and_stats(gts, res)
    assert all(pid is not None for pid in two.pids) and len(set(two.pids)) == 2  # both really ran
    assert double == single  # total, per-clip scores and stats lines, bit for bit
    theirs_total, theirs_per_clip = upstream.compute_score(gts, res)
    assert double[0] == theirs_total
    assert double[1] == [float(value) for value in theirs_per_clip]


def test_three_processes_and_an_uneven_split(real_test_split, one):
    _, gts, res = tokenized_split(subset(real_test_split["en"], step=29), "en")
    assert len(gts) % 3 != 0
    three = Meteor(processes=3, split_segments=1)
    assert three.wait_ready()
    try:
        assert three.compute_score_and_stats(gts, res) == one.compute_score_and_stats(gts, res)
        small = dict(list(gts.items())[:2]), dict(list(res.items())[:2])  # fewer clips than processes
        assert three.compute_score_and_stats(*small) == one.compute_score_and_stats(*small)
    finally:
        three.close()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_score_with_two_processes_keeps_every_number_and_clip_stats(language, real_test_split, one, two):
    references = subset(real_test_split[language], step=5)
    predictions, _, _ = tokenized_split(references, language)
    single = evaluation.score(references, predictions, language, meteor=one)
    double = evaluation.score(references, predictions, language, meteor=two)
    assert double.metrics == single.metrics
    assert double.per_clip == single.per_clip
    assert double.stats.to_json_dict() == single.stats.to_json_dict()


@pytest.mark.slow
@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_full_split_on_two_processes_equals_one(language, real_test_split, one, two, upstream):
    _, gts, res = tokenized_split(real_test_split[language], language)
    double = two.compute_score_and_stats(gts, res)
    assert double == one.compute_score_and_stats(gts, res)
    theirs_total, theirs_per_clip = upstream.compute_score(gts, res)
    assert (double[0], double[1]) == (theirs_total, [float(value) for value in theirs_per_clip])


def test_a_cancel_during_the_call_stops_both_processes_and_the_next_call_works(real_test_split, two):
    _, gts, res = tokenized_split(subset(real_test_split["en"], step=2), "en")
    small = dict(list(gts.items())[:20]), dict(list(res.items())[:20])
    expected = two.compute_score(*small)
    cancel = threading.Event()
    outcome = {}

    def run():
        try:
            outcome["value"] = two.compute_score_and_stats(gts, res, cancel=cancel)
        except BaseException as exc:
            outcome["error"] = exc

    caller = threading.Thread(target=run)
    caller.start()
    while caller.is_alive() and not two._lock.locked():
        time.sleep(0.01)
    time.sleep(0.3)  # into the conversation (if it is already over, the assertions below say so)
    old_pids = two.pids
    cancel.set()
    caller.join(timeout=120)
    assert not caller.is_alive()
    assert isinstance(outcome.get("error"), MeteorCancelled)
    assert two.pids == [None, None]  # both killed: their conversations were cut half-way
    for pid in old_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert two.compute_score(*small) == expected


@pytest.mark.parametrize("victim", [0, 1])
def test_a_killed_process_is_replaced(victim, real_test_split, two):
    _, gts, res = tokenized_split(subset(real_test_split["en"], step=50), "en")
    expected = two.compute_score_and_stats(gts, res)
    old_pids = two.pids
    os.kill(old_pids[victim], signal.SIGKILL)
    assert two.compute_score_and_stats(gts, res) == expected
    assert two.wait_ready()  # a dead helper is left out of the call and started again beside it
    assert two.pids[victim] not in (None, old_pids[victim])
    assert two.compute_score_and_stats(gts, res) == expected


def test_a_deadline_kills_every_process_and_the_next_call_works(real_test_split, one):
    _, gts, res = tokenized_split(subset(real_test_split["en"], step=100), "en")
    meteor = Meteor(processes=2, timeout=0.05, split_segments=1)
    try:
        meteor.start()
        stuck = [pid for pid in meteor.pids if pid is not None]  # the helper waits for the first to load
        assert stuck
        with pytest.raises(MeteorError, match="did not answer within"):
            meteor.compute_score(gts, res)
        assert meteor.pids == [None, None]
        for pid in stuck:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        meteor.timeout = 600
        assert meteor.compute_score_and_stats(gts, res) == one.compute_score_and_stats(gts, res)
    finally:
        meteor.close()


def test_the_number_of_processes_comes_from_the_environment(monkeypatch):
    from evaluation import meteor as meteor_module

    monkeypatch.setenv("EVALUATION_METEOR_PROCESSES", "3")
    assert meteor_module._default_processes() == 3
    monkeypatch.delenv("EVALUATION_METEOR_PROCESSES")
    assert meteor_module._default_processes() == (2 if (os.cpu_count() or 1) >= 2 else 1)
    with pytest.raises(ValueError):
        Meteor(processes=0)


def test_a_big_call_starts_the_helpers_and_waits_for_them_to_load(real_test_split, one, monkeypatch):
    _, gts, res = tokenized_split(subset(real_test_split["en"], step=100), "en")
    meteor = Meteor(processes=2, split_segments=1)
    asked = []
    score_chunk = meteor._score_chunk
    monkeypatch.setattr(
        meteor, "_score_chunk", lambda process, *args: asked.append(process) or score_chunk(process, *args)
    )
    try:
        meteor.start()
        assert meteor.pids[0] is not None and meteor.pids[1] is None  # helpers start with a big call
        assert meteor.compute_score_and_stats(gts, res) == one.compute_score_and_stats(gts, res)
        # Both scored a part: the call waited for the helper to load (which asks first is up to the threads).
        assert sorted(map(id, asked)) == sorted(map(id, meteor._processes))
    finally:
        meteor.close()
    assert meteor.pids == [None, None]


def test_only_a_big_call_is_split_and_starts_the_helpers(real_test_split, one):
    _, gts, res = tokenized_split(subset(real_test_split["en"], step=20), "en")
    meteor = Meteor(processes=2, split_segments=len(gts))
    assert meteor.heap == "1g" and meteor._processes[1].heap == "512m"  # the first does most of the work
    try:
        small = dict(list(gts.items())[:-1]), dict(list(res.items())[:-1])
        assert meteor.compute_score_and_stats(*small) == one.compute_score_and_stats(*small)
        assert meteor.pids[1] is None  # one segment short of a split: no helper was started
        assert meteor.compute_score_and_stats(gts, res) == one.compute_score_and_stats(gts, res)
        assert None not in meteor.pids  # the big call started it
    finally:
        meteor.close()
