"""``python -m evaluation``: what a participant runs offline."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import DEMO_DATA, DEMO_PREDICTIONS, ROOT
from tests.support.venvs import import_all


def run(*args, check=False):
    return subprocess.run(
        [sys.executable, "-m", "evaluation", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=check,
    )


@pytest.fixture(scope="module")
def demo_references(tmp_path_factory):
    path = tmp_path_factory.mktemp("refs") / "val-zh.json"
    run("references", "--data", DEMO_DATA, "--split", "val", "--language", "zh", "--output", path, check=True)
    return path


def test_references_are_written_from_a_dataset_folder(demo_references):
    references = json.loads(demo_references.read_text(encoding="utf-8"))
    assert len(references) == 10
    assert references["9100000000000000001_12_18"].startswith("暴风雨来临前，[林海]")


def test_score_json_is_one_object_and_matches_the_library(demo_references):
    import evaluation

    completed = run(
        "score",
        "--references",
        demo_references,
        "--predictions",
        DEMO_PREDICTIONS / "val-zh.json",
        "--language",
        "zh",
        "--json",
        check=True,
    )
    output = json.loads(completed.stdout)
    assert set(output) >= {"language", "clips", "metrics", "versions", "reference_hash"}
    references = json.loads(demo_references.read_text(encoding="utf-8"))
    predictions = json.loads((DEMO_PREDICTIONS / "val-zh.json").read_text(encoding="utf-8"))
    assert output["metrics"] == evaluation.score(references, predictions, "zh").metrics


def test_score_table_names_every_metric(demo_references):
    completed = run(
        "score",
        "--references",
        demo_references,
        "--predictions",
        DEMO_PREDICTIONS / "val-zh.json",
        "--language",
        "zh",
        check=True,
    )
    for label in ("BLEU-1", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "references  sha256:"):
        assert label in completed.stdout


def test_validate_reports_problems_and_exits_1(demo_references, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"9100000000000000001_12_18": 5, "9100000000000000001_12_18": "dup"}', encoding="utf-8")
    completed = run("validate", "--references", demo_references, "--predictions", bad)
    assert completed.returncode == 1
    assert "Duplicate clip ids (1)" in completed.stderr and "without a narration (9)" in completed.stderr


def test_score_refuses_an_invalid_file_with_the_same_problems(demo_references, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    completed = run("score", "--references", demo_references, "--predictions", bad, "--language", "zh", "--json")
    assert completed.returncode == 1
    report = json.loads(completed.stdout)
    assert report["ok"] is False and report["problems"][0]["code"] == "not_an_object"


def test_validate_accepts_the_demo_file(demo_references):
    completed = run("validate", "--references", demo_references, "--predictions", DEMO_PREDICTIONS / "val-zh.json")
    assert completed.returncode == 0 and completed.stdout.startswith("OK: 10 narrations")


def test_a_missing_file_is_a_clear_error(demo_references):
    completed = run("validate", "--references", demo_references, "--predictions", "/nonexistent.json")
    assert completed.returncode == 2 and "cannot read the predictions /nonexistent.json" in completed.stderr


def test_the_evaluation_package_imports_no_django():
    # Participants run it without Django installed (tests/evaluation/test_install_scorer.py does, in fresh virtualenvs).
    completed = import_all(Path(sys.executable).parent, "evaluation", forbid=("django", "leaderboard", "workers"))
    assert completed.returncode == 0, completed.stderr
    assert "ok evaluation.judge.runner" in completed.stdout.splitlines()


def test_the_client_asks_for_the_terminal_language():
    from evaluation.client.api import accept_language

    assert accept_language({"LANG": "zh_CN.UTF-8"}).startswith("zh-CN")
    assert accept_language({"LANGUAGE": "zh_TW:en", "LANG": "en_US.UTF-8"}).startswith("zh-CN")
    assert accept_language({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert accept_language({"LANG": "zh_CN.UTF-8", "MOVIE101V2_LANGUAGE": "en"}) == "en"
    assert accept_language({}) == "en"
