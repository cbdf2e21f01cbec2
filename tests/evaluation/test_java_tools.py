"""Our drivers of METEOR and the PTB tokenizer survive the failures that hang pycocoevalcap's."""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
from pathlib import Path

import pytest

from evaluation import meteor as meteor_module
from evaluation.java import CORENLP_JAR
from evaluation.meteor import Meteor, MeteorError
from evaluation.ptb import TokenizerError, ptb_tokenize

GTS = {"a": ["the man opens the door"], "b": ["a woman walks in the rain"]}
RES = {"a": ["a man opens a door"], "b": ["the woman runs in rain"]}


@pytest.fixture(scope="module")
def warm():
    """The process-wide METEOR, for tests that do not need a fresh one (start-up costs ~5 s)."""
    return meteor_module.shared_meteor()


@pytest.fixture(scope="module")
def expected(warm):
    return warm.compute_score(GTS, RES)


def test_restarts_after_its_process_is_killed(warm, expected):
    os.kill(warm.pid, signal.SIGKILL)
    assert warm.compute_score(GTS, RES) == expected


def test_a_timeout_kills_the_process_and_the_next_call_works(expected):
    meteor = Meteor(timeout=0.05)
    try:
        meteor.start()
        stuck_pid = meteor.pid
        with pytest.raises(MeteorError, match="did not answer within"):
            meteor.compute_score(GTS, RES)
        assert meteor.pid is None  # killed, not left half-way through a conversation
        with pytest.raises(ProcessLookupError):
            os.kill(stuck_pid, 0)
        meteor.timeout = 600
        assert meteor.compute_score(GTS, RES) == expected
    finally:
        meteor.close()


def test_a_java_out_of_memory_error_is_reported_and_recovered_from(expected):
    meteor = Meteor(heap="8m")
    try:
        with pytest.raises(MeteorError, match="OutOfMemoryError|exited"):
            meteor.compute_score(GTS, RES)
        meteor.heap = "2G"
        assert meteor.compute_score(GTS, RES) == expected
    finally:
        meteor.close()


def test_a_newline_is_refused_before_it_reaches_the_process(warm, expected):
    with pytest.raises(ValueError, match="line break"):
        warm.compute_score({"a": ["one\ntwo"]}, {"a": ["one two"]})
    assert warm.compute_score(GTS, RES) == expected


def test_two_hypotheses_are_refused_without_deadlock(warm, expected):
    with pytest.raises(ValueError, match="exactly one hypothesis"):
        warm.compute_score({"a": ["x"]}, {"a": ["x", "y"]})
    assert warm.compute_score(GTS, RES) == expected


def _score_in_child(queue):
    shared = meteor_module.shared_meteor()
    queue.put((shared.compute_score(GTS, RES), shared.pid))


def test_a_forked_process_starts_its_own_meteor(warm, expected):
    parent = warm
    assert parent.compute_score(GTS, RES) == expected
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_score_in_child, args=(queue,))]
    for child in children:
        child.start()
    results = [queue.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
    pids = {pid for _, pid in results}
    assert all(score == expected for score, _ in results)
    assert parent.pid not in pids and None not in pids
    assert parent.compute_score(GTS, RES) == expected


def test_ptb_tokenizer_keeps_captions_in_a_private_folder_and_removes_it(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    package_files = set(CORENLP_JAR.parent.iterdir())
    tokens = ptb_tokenize(["Cheng Yong's van -- it's old!", "", "Mr. Smith (left) waves."])
    assert tokens == ["cheng yong 's van it 's old", "", "mr. smith -lrb- left -rrb- waves"]
    assert list(tmp_path.iterdir()) == []
    assert set(CORENLP_JAR.parent.iterdir()) == package_files


def test_ptb_tokenizer_refuses_line_breaks():
    with pytest.raises(ValueError, match="line break"):
        ptb_tokenize(["one\u2028two"])


def test_ptb_tokenizer_reports_a_failed_java(monkeypatch):
    monkeypatch.setattr("evaluation.ptb.CORENLP_JAR", Path("/nonexistent.jar"))
    with pytest.raises(TokenizerError, match="failed"):
        ptb_tokenize(["hello"])
