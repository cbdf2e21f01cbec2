"""The hostile corpus (tests/support/hostile.py) through the validator and ``python -m evaluation validate``.

Every refused file gets problems, never an exception, with a message that names what is wrong and
can be printed anywhere; every accepted one passes. Linear time and bounded recursion are checked
by counting, not timing: the characters the validator's scans read, how often it looks for lines,
and a recursion budget it must fit in.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import evaluation.predictions as predictions
import evaluation.text
from evaluation import validate
from evaluation.cli import EXIT_INVALID, EXIT_OK, main
from evaluation.movie101v2 import read_split
from tests.support.data import DEMO_DATA, ROOT
from tests.support.hostile import ACCEPTED, BY_NAME, CASES, LARGE, REFUSED, duplicates, markdown_table, refusal_messages

REFERENCES = read_split(DEMO_DATA, "val", "zh")
IDS = sorted(REFERENCES)
#: How many times the validator's scans may read a file, counting a scan that stops early as a whole read:
#: a constant, whatever the file's size or shape.
READS = 12
#: Frames of recursion the validator may use above its caller: enough for its own calls, far from a parser's.
RECURSION_BUDGET = 120


def assert_printable(problem: predictions.Problem) -> None:
    """A message and its clip ids show as they are in HTML, JSON and a terminal: UTF-8, nothing hidden."""
    for text in (problem.message, *problem.clip_ids):
        assert text.isprintable(), ascii(text)
        text.encode("utf-8")


def frames_in_use() -> int:
    frame, count = sys._getframe(), 0
    while frame is not None:
        frame, count = frame.f_back, count + 1
    return count


@pytest.fixture
def recursion_budget():
    """Python's recursion limit set just above the caller's depth, as deep in a web request's stack."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frames_in_use() + RECURSION_BUDGET)
    yield
    sys.setrecursionlimit(limit)


def test_the_corpus_is_large_and_covers_the_findings():
    assert len(REFUSED) >= 60 and len(ACCEPTED) >= 10
    for name in ("duplicates_45000", "deep_top_level", "deep_value", "deep_json_line", "huge_integer_narration"):
        assert not BY_NAME[name].accepted
    for name in ("surrogate_key", "surrogate_narration", "cut_inside_string_newline", "over_the_size_cap"):
        assert not BY_NAME[name].accepted


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_hostile_file_gets_its_problem_and_no_exception(case, recursion_budget):
    report = validate(case.build(IDS), REFERENCES, filename=case.filename)
    if case.accepted:
        assert report.ok, [problem.message for problem in report.problems]
        assert report.predictions.keys() == REFERENCES.keys()
        return
    assert not report.ok
    assert any(problem.code == case.code and case.expected in problem.message for problem in report.problems), [
        (problem.code, problem.message) for problem in report.problems
    ]
    for problem in report.problems:
        assert_printable(problem)
    # What the API and the CLI's --json send: strict UTF-8.
    json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")


def test_docs_list_the_corpus_with_its_messages():
    table = markdown_table(refusal_messages(REFERENCES))
    docs = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert table in docs, "docs/reliability.md is out of date: paste in what `python -m tests.support.hostile` prints"


# -- linear time: counted, not timed ------------------------------------------------------------


class CountingPattern:
    """A compiled pattern that adds up the length of every string it is given to scan."""

    def __init__(self, pattern, tally: list[int]):
        self.pattern, self.tally = pattern, tally

    def __getattr__(self, name):
        method = getattr(self.pattern, name)
        if name not in ("search", "match", "finditer", "split", "sub"):
            return method

        def scan(*args, **kwargs):
            self.tally[0] += len(args[1] if name == "sub" else args[0])
            return method(*args, **kwargs)

        return scan


@pytest.fixture
def scanned(monkeypatch) -> list[int]:
    """Characters read by every regular expression of the validator and by the JSON parser, in ``scanned[0]``."""
    tally = [0]
    for module in (predictions, evaluation.text):
        for name, value in list(vars(module).items()):
            if isinstance(value, re.Pattern):
                monkeypatch.setattr(module, name, CountingPattern(value, tally))
    real_parse = predictions._parse

    def counted_parse(text):
        tally[0] += len(text)
        return real_parse(text)

    monkeypatch.setattr(predictions, "_parse", counted_parse)
    return tally


@pytest.mark.parametrize("count", [1_000, 4_000, 16_000])
def test_duplicate_ids_are_found_in_time_linear_in_the_file(count, scanned, monkeypatch):
    """Finding 1: each duplicate id made the validator read the whole file again."""
    looked_up = []
    real = predictions._key_lines

    def counted(text, wanted):
        looked_up.append(len(wanted))
        return real(text, wanted)

    monkeypatch.setattr(predictions, "_key_lines", counted)
    data = duplicates(count)(IDS)
    report = validate(data, REFERENCES)
    assert report.problems[0].message.startswith(
        f"Duplicate clip ids ({count:,}): 9200000000000000000_0_5 (lines 2, 3)"
    )
    assert looked_up == [predictions.LISTED]  # one pass, for the ids the message shows
    # Parsing, the bracket checks, the key lines and the text checks each read the file a bounded number of times.
    assert scanned[0] <= READS * len(data), scanned[0] / len(data)


def test_the_line_of_every_listed_duplicate_is_right():
    ids = [f"9200000000000000000_{n}_{n + 1}" for n in range(30)]
    text = "{\n" + ",\n".join(f'"{clip_id}": "x"' for clip_id in ids + ids[::-1] + ids[:1]) + "\n}"
    problem = validate(text.encode(), REFERENCES).problems[0]
    assert f"{ids[0]} (lines 2, 61, 62)" in problem.message
    assert f"{ids[9]} (lines 11, 52)" in problem.message and "and 20 more" in problem.message


@pytest.mark.parametrize("name", ["deep_top_level", "deep_value", "deep_objects", "deep_json_line", "many_containers"])
def test_brackets_are_counted_in_one_pass_at_any_depth(name, scanned):
    data = BY_NAME[name].build(IDS)
    validate(data, REFERENCES)
    assert scanned[0] <= READS * len(data), scanned[0] / len(data)


def test_numbers_reach_the_parser_unconverted(monkeypatch):
    """Finding 2: a 5,000-digit integer raised ValueError (and ``int`` takes quadratic time below that)."""
    literals = []

    def number(literal):
        literals.append(literal)
        return predictions._NUMBER

    monkeypatch.setattr(predictions, "_number", number)
    report = validate(BY_NAME["huge_integer_narration"].build(IDS), REFERENCES)
    assert literals == ["1" * 5_000] and [problem.code for problem in report.problems] == ["not_a_string"]


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def references_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("refs") / "val-zh.json"
    path.write_text(json.dumps(REFERENCES, ensure_ascii=False), encoding="utf-8")
    return path


def predictions_file(folder: Path, case) -> Path:
    # The name's suffix decides JSON Lines; the rest of a hostile name is for the service's tests.
    path = folder / ("predictions.jsonl" if case.filename.endswith(".jsonl") else "predictions.json")
    path.write_bytes(case.build(IDS))
    return path


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_cli_names_the_problem_and_exits_1(case, references_file, tmp_path, capsys, recursion_budget):
    path = predictions_file(tmp_path, case)
    status = main(["validate", "--references", str(references_file), "--predictions", str(path)])
    out, err = capsys.readouterr()
    if case.accepted:
        assert status == EXIT_OK and out.startswith("OK: 10 narrations")
    else:
        assert status == EXIT_INVALID and case.expected in err


@pytest.mark.parametrize(
    "name",
    ["deep_top_level", "huge_integer_narration", "surrogate_key", "cut_inside_string_newline", *sorted(LARGE)],
)
def test_the_cli_in_a_process_prints_no_traceback(name, references_file, tmp_path):
    case = BY_NAME[name]
    path = predictions_file(tmp_path, case)
    for output in ([], ["--json"]):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "evaluation",
                "validate",
                "--references",
                references_file,
                "--predictions",
                path,
                *output,
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == EXIT_INVALID, done.stderr
        assert b"Traceback" not in done.stderr
        if output:
            report = json.loads(done.stdout.decode("utf-8"))
            assert any(case.expected in problem["message"] for problem in report["problems"])
        else:
            assert case.expected in done.stderr.decode("utf-8")
