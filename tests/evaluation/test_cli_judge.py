"""``python -m evaluation score`` with the LLM judge, run as a participant runs it, against a loopback judge.

Each score run costs ~10 s of classic metrics (METEOR starts Java), so the runs are few and made once
per module, two at a time; the tests below check their outputs. Every run gets an environment without
the caller's ``JUDGE_*`` variables, so a judge configured on the machine cannot leak in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import pytest

from evaluation.cli import NO_JUDGE_REASON
from evaluation.judge import templates_for, templates_from_data
from evaluation.metrics import CLASSIC_METRICS, STAGE_METRICS
from tests.support.data import DEMO_DATA, DEMO_PREDICTIONS, ROOT
from tests.support.judge_server import FakeJudge, Fault, scores_for

PREDICTIONS = DEMO_PREDICTIONS / "val-en.json"
MODEL = "fake-judge-cli"
ENV_MODEL = "fake-judge-from-env"
#: The templates file of the env-configured run: the released protocol's comma answers.
COMMA_TEMPLATES = {
    "l1": {
        "en": {
            "user": "Reference: {reference}\nGenerated: {prediction}\nRate environment and character 0-5: e,c",
            "parser": "comma",
        }
    },
    "l2": {
        "en": {"user": "Reference: {reference}\nGenerated: {prediction}\nGive a plot score 0-5.", "parser": "comma"}
    },
}


def clean_env(**judge_variables: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("JUDGE_")}
    return env | judge_variables


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    #: Requests the run's judge received during this run.
    judge_calls: int

    @property
    def output(self) -> dict:
        assert self.stdout.strip(), f"no output; stderr:\n{self.stderr}"
        return json.loads(self.stdout)


def run_score(references, *args, env, judge: FakeJudge | None = None) -> Run:
    before = judge.calls if judge else 0
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation",
            "score",
            "--references",
            str(references),
            "--predictions",
            str(PREDICTIONS),
            "--language",
            "en",
            "--json",
            *map(str, args),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr, (judge.calls - before) if judge else 0)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-judge") / "val-en.refs.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation",
            "references",
            "--data",
            str(DEMO_DATA),
            "--split",
            "val",
            "--language",
            "en",
            "-o",
            str(path),
        ],
        cwd=ROOT,
        env=clean_env(),
        check=True,
        capture_output=True,
        timeout=120,
    )
    references = json.loads(path.read_text(encoding="utf-8"))
    predictions = json.loads(PREDICTIONS.read_text(encoding="utf-8"))
    assert len(references) == 10
    return path, references, predictions


@pytest.fixture(scope="module")
def runs(split, tmp_path_factory):
    """Six score runs: judged with a cache file and again with it; judged from JUDGE_* by a judge whose
    answers never parse; without a judge; and by a judge whose responses are cut off. Three chains run
    side by side."""
    path, _, _ = split
    folder = tmp_path_factory.mktemp("cli-judge-runs")
    cache = folder / "judge.sqlite3"
    templates = folder / "templates.json"
    templates.write_text(json.dumps(COMMA_TEMPLATES), encoding="utf-8")
    with (
        FakeJudge() as judge,
        FakeJudge(answer=lambda prompt: "It is a fine narration.") as garbage,
        FakeJudge() as broken,
    ):
        # Every response a 200 whose JSON body stops mid-way, as a dying proxy sends it.
        broken.fault_rule = lambda prompt, index: Fault(body=b'{"id": "chatcmpl-1", "choices": [{"ind')
        flags = [
            "--judge-base-url",
            judge.base_url,
            "--judge-model",
            MODEL,
            "--judge-cache",
            cache,
            "--judge-concurrency",
            2,
            "--judge-temperature",
            0,
        ]

        def cached_chain():
            first = run_score(path, *flags, env=clean_env(), judge=judge)
            first_requests = list(judge.requests)
            second = run_score(path, *flags, env=clean_env(), judge=judge)
            return {"first": first, "first_requests": first_requests, "second": second}

        def other_chain():
            from_env = run_score(
                path,
                "--judge-templates",
                templates,
                judge=garbage,
                env=clean_env(JUDGE_BASE_URL=garbage.base_url, JUDGE_MODEL=ENV_MODEL, JUDGE_API_KEY="sk-env-only"),
            )
            no_judge = run_score(path, env=clean_env())
            return {"from_env": from_env, "garbage_requests": list(garbage.requests), "no_judge": no_judge}

        def broken_chain():
            # No transport retries, so the run does not wait out a backoff per judgment.
            truncated = run_score(
                path,
                "--judge-base-url",
                broken.base_url,
                "--judge-model",
                MODEL,
                judge=broken,
                env=clean_env(JUDGE_MAX_RETRIES="0"),
            )
            return {"truncated": truncated}

        with ThreadPoolExecutor(max_workers=3) as pool:
            chains = [pool.submit(cached_chain), pool.submit(other_chain), pool.submit(broken_chain)]
            results = chains[0].result() | chains[1].result() | chains[2].result()
    return results


def expected_means(references, predictions, templates) -> dict[str, float]:
    """The fake judge's answers averaged exactly (every per-clip value is a multiple of 1/2)."""
    totals = {name: Fraction(0) for name in STAGE_METRICS}
    for clip_id, reference in references.items():
        l1 = scores_for(templates["l1"].messages(reference, predictions[clip_id])[-1]["content"])
        l2 = scores_for(templates["l2"].messages(reference, predictions[clip_id])[-1]["content"])
        totals["l1_environment"] += l1["environment"]
        totals["l1_character"] += l1["character"]
        totals["l1"] += Fraction(l1["environment"] + l1["character"], 2)
        totals["l2"] += l2["plot"]
    return {name: float(total / len(references)) for name, total in totals.items()}


def test_a_judged_score_has_the_exact_stage_means_beside_the_classic_metrics(runs, split):
    _, references, predictions = split
    first = runs["first"]
    assert first.returncode == 0, first.stderr
    output = first.output
    assert set(output["metrics"]) == set(CLASSIC_METRICS) | set(STAGE_METRICS)
    assert {name: output["metrics"][name] for name in STAGE_METRICS} == expected_means(
        references, predictions, templates_for("en")
    )
    judged = output["judge"]
    assert judged["status"] == "complete" and (judged["clips"], judged["judged_clips"]) == (10, 10)
    assert judged["metrics"] == {name: output["metrics"][name] for name in STAGE_METRICS}
    assert judged["failures"] == [] and judged["failed_judgments"] == 0
    assert judged["accounting"]["calls"] == first.judge_calls == 20
    assert (
        judged["accounting"]["cache_hits"],
        judged["accounting"]["retries"],
        judged["accounting"]["reasks"],
        judged["accounting"]["failures"],
    ) == (0, 0, 0, 0)
    assert judged["judge"]["model"] == MODEL and judged["judge"]["temperature"] == 0.0
    assert judged["versions"]["judge_protocol"] == "movie101v2-judge/1"


def test_the_judge_flags_reach_the_requests(runs):
    requests = runs["first_requests"]
    assert len(requests) == 20
    assert all(request.body["model"] == MODEL and request.body["temperature"] == 0 for request in requests)
    assert all(request.body["response_format"] == {"type": "json_object"} for request in requests)


def test_a_second_run_with_the_same_judge_cache_asks_nothing_and_gives_the_same_numbers(runs):
    first, second = runs["first"], runs["second"]
    assert second.returncode == 0, second.stderr
    assert second.judge_calls == 0
    assert second.output["metrics"] == first.output["metrics"]
    accounting = second.output["judge"]["accounting"]
    assert (accounting["calls"], accounting["cache_hits"]) == (0, 20)
    assert second.output["judge"]["judge"]["signature"] == first.output["judge"]["judge"]["signature"]


def test_judge_variables_alone_configure_the_judge_with_a_templates_file(runs, split):
    _, references, predictions = split
    run = runs["from_env"]
    judge = run.output["judge"]
    assert judge["judge"]["model"] == ENV_MODEL
    assert {stage: info["parser"] for stage, info in judge["judge"]["stages"].items()} == {"l1": "comma", "l2": "comma"}
    templates = templates_for("en", templates_from_data(COMMA_TEMPLATES))
    asked = sorted(request.prompt for request in runs["garbage_requests"])
    expected = sorted(
        templates[stage].messages(references[clip_id], predictions[clip_id])[-1]["content"]
        for clip_id in references
        for stage in ("l1", "l2")
    )
    assert sorted(set(asked)) == expected
    assert all(
        request.body["model"] == ENV_MODEL and "response_format" not in request.body
        for request in runs["garbage_requests"]
    )
    assert "sk-env-only" not in run.stdout + run.stderr


def test_a_judge_whose_answers_never_parse_exits_3_without_stage_metrics(runs, split):
    _, references, _ = split
    run = runs["from_env"]
    assert run.returncode == 3, run.stderr
    output = run.output
    assert set(output["metrics"]) == set(CLASSIC_METRICS)
    judge = output["judge"]
    assert judge["status"] == "incomplete" and judge["metrics"] == {}
    assert (judge["clips"], judge["judged_clips"], judge["failed_judgments"]) == (10, 0, 20)
    assert sorted((failure["clip_id"], failure["stage"]) for failure in judge["failures"]) == sorted(
        (clip_id, stage) for clip_id in references for stage in ("l1", "l2")
    )
    assert all("unreadable answer after 3 ask(s)" in failure["reason"] for failure in judge["failures"])
    # Three asks per judgment, all counted.
    assert judge["accounting"]["calls"] == run.judge_calls == 60
    assert (judge["accounting"]["reasks"], judge["accounting"]["failures"]) == (40, 20)


def test_without_a_judge_there_are_no_stage_metrics_and_the_exit_code_is_0(runs):
    run = runs["no_judge"]
    assert run.returncode == 0, run.stderr
    output = run.output
    assert set(output["metrics"]) == set(CLASSIC_METRICS)
    # A script sees why L1 and L2 are absent, in the words the text output uses.
    assert output["judge"] == {"status": "not_configured", "reason": NO_JUDGE_REASON}
    assert "--judge-base-url" in NO_JUDGE_REASON and "--judge-model" in NO_JUDGE_REASON


def test_a_judge_that_sends_truncated_bodies_fails_its_judgments_without_a_traceback(runs):
    run = runs["truncated"]
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr
    judge = run.output["judge"]
    assert set(run.output["metrics"]) == set(CLASSIC_METRICS)
    assert judge["status"] == "incomplete" and (judge["judged_clips"], judge["failed_judgments"]) == (0, 20)
    assert all("the endpoint sent an unreadable response" in failure["reason"] for failure in judge["failures"])
    assert judge["accounting"]["calls"] == run.judge_calls == 20


def test_a_half_configured_judge_is_refused_before_scoring():
    # Refused before the classic metrics run, so this costs no METEOR.
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation",
            "score",
            "--references",
            str(PREDICTIONS),
            "--predictions",
            str(PREDICTIONS),
            "--language",
            "en",
            "--judge-model",
            MODEL,
        ],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "half configured" in completed.stderr and "JUDGE_BASE_URL" in completed.stderr


def test_a_bad_templates_file_is_refused_with_the_path_of_the_error(tmp_path):
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps({"l1": {"en": {"user": "only {reference}"}}}), encoding="utf-8")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation",
            "score",
            "--references",
            str(PREDICTIONS),
            "--predictions",
            str(PREDICTIONS),
            "--language",
            "en",
            "--judge-base-url",
            "http://127.0.0.1:9/v1",
            "--judge-model",
            MODEL,
            "--judge-templates",
            str(templates),
        ],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "templates.l1.en.user" in completed.stderr and "{prediction}" in completed.stderr
