"""The participants' client (``movie101v2``, evaluation/client) against the real service on loopback.

The client runs in a subprocess (``python -m evaluation.client``, what the ``movie101v2`` script runs)
against pytest-django's ``live_server``; uploads are scored by a real Celery worker process where a test
needs the scores. Each test has its own config folder (``XDG_CONFIG_HOME``).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leaderboard.challenges.models import Phase, ReferenceSet
from tests.support.data import DEMO_PREDICTIONS, ROOT
from tests.support.processes import WorkerProcess, purge_queues, wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)

OK, ERROR, INVALID, REFUSED, FAILED = 0, 1, 2, 3, 4


class Client:
    def __init__(self, server: str, config_home: Path):
        self.server = server
        self.config_home = config_home
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("MOVIE101V2_")}
        self.env |= {"XDG_CONFIG_HOME": str(config_home), "PYTHONUNBUFFERED": "1"}

    def __call__(self, *args: object, timeout: float = 240) -> subprocess.CompletedProcess:
        completed = subprocess.run(
            [sys.executable, "-m", "evaluation.client", *map(str, args)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert "Traceback" not in completed.stderr, completed.stderr
        return completed

    def json(self, *args: object, expect: int = OK) -> dict:
        completed = self(*args, "--json")
        assert completed.returncode == expect, (completed.returncode, completed.stdout, completed.stderr)
        return json.loads(completed.stdout)


@pytest.fixture
def client(live_server, tmp_path) -> Client:
    return Client(live_server.url, tmp_path / "config")


@pytest.fixture
def logged_in(client, alice, demo_challenge) -> Client:
    token, _ = Token.objects.get_or_create(user=alice)
    completed = client("login", "--server", client.server, "--token", token.key)
    assert completed.returncode == OK, completed.stderr
    return client


def test_login_keeps_the_server_and_token_readable_by_the_user_alone(client, alice):
    token, _ = Token.objects.get_or_create(user=alice)
    refused = client("login", "--server", client.server, "--token", "0" * 40)
    assert refused.returncode == ERROR and "refused the token" in refused.stderr
    path = client.config_home / "movie101v2" / "config.json"
    assert not path.exists()

    assert client("login", "--server", client.server + "/", "--token", token.key).returncode == OK
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"server": client.server, "token": token.key}


def test_phases_lists_the_windows_and_what_the_team_has_left(logged_in):
    listed = logged_in.json("phases")
    (demo,) = [challenge for challenge in listed["challenges"] if challenge["slug"] == "demo"]
    phases = {phase["slug"]: phase for phase in demo["phases"]}
    assert set(phases) == {"val", "test"}
    assert phases["val"]["starts_at"].startswith("2025-01-01") and phases["val"]["quota"]["left_today"] == 20
    assert phases["test"]["quota"]["can_submit"] is True

    text = logged_in("phases", "demo")
    assert text.returncode == OK
    assert "demo/val" in text.stdout and "demo/test" in text.stdout
    assert "20 submissions left today" in text.stdout


def test_validate_offline_with_the_servers_validator(client, demo_challenge, tmp_path):
    # No login needed: the clip list is public; MOVIE101V2_SERVER names the server.
    client.env["MOVIE101V2_SERVER"] = client.server
    good = client("validate", "demo/val", "--language", "en", DEMO_PREDICTIONS / "val-en.json")
    assert good.returncode == OK and good.stdout.startswith("OK: "), good.stderr

    narrations = json.loads((DEMO_PREDICTIONS / "val-en.json").read_text(encoding="utf-8"))
    missing = sorted(narrations)[0]
    del narrations[missing]
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(narrations), encoding="utf-8")
    bad = client("validate", "demo/val", "--language", "en", bad_file)
    assert bad.returncode == INVALID and missing in bad.stderr, bad.stderr

    report = client.json("validate", "demo/val", "--language", "en", bad_file, expect=INVALID)
    assert report["ok"] is False and report["problems"][0]["clip_ids"] == [missing]
    # The upload's answer is the same.
    token, _ = Token.objects.get_or_create(user=_participant())
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    from tests.support.service import upload

    rejected = upload(api, Phase.objects.get(challenge__slug="demo", slug="val"), "en", bad_file.read_bytes())
    assert rejected.status_code == 400
    assert [problem["message"] for problem in rejected.json()["errors"]] == [
        problem["message"] for problem in report["problems"]
    ]


def test_a_hidden_phase_serves_its_clip_ids_and_never_a_reference(client, demo_test):
    references = ReferenceSet.objects.get(phase=demo_test, language="en")
    assert not demo_test.references_public
    response = APIClient().get("/api/v1/challenges/demo/phases/test/clips/en/")
    assert response.status_code == 200
    body = response.json()
    assert body["clips"] == sorted(references.narrations) and body["count"] == len(references.narrations)
    assert body["reference_hash"] == references.content_hash
    text = response.content.decode()
    assert not [narration for narration in references.narrations.values() if narration and narration in text]
    assert APIClient().get("/api/v1/challenges/demo/phases/test/clips/xx/").status_code == 404

    client.env["MOVIE101V2_SERVER"] = client.server
    checked = client("validate", "demo/test", "--language", "en", DEMO_PREDICTIONS / "test-en.jsonl")
    assert checked.returncode == OK, checked.stderr


def test_submit_waits_for_the_scores_and_shows_the_board_place(logged_in, celery_worker, demo_val):
    completed = logged_in(
        "submit", "demo/val", "--language", "en", DEMO_PREDICTIONS / "val-en.json",
        "--method-name", "client run", "--public", "--poll", "0.2", "--json",
        "--character-info", "--no-external-data", "--model-size", "7B",
    )  # fmt: skip
    assert completed.returncode == OK, (completed.stdout, completed.stderr, celery_worker.output()[-2000:])
    submission = json.loads(completed.stdout)
    assert submission["status"] == "finished" and submission["method_name"] == "client run"
    assert (submission["uses_character_info"], submission["external_data"], submission["model_size"]) == (
        True,
        False,
        "7B",
    )
    assert {"bleu_4", "meteor", "rouge_l", "cider"} <= set(submission["scores"])
    assert submission["judge"]["done"] is True
    assert [place["rank"] for place in submission["board_places"]] == [1, 1]

    scores = logged_in("scores", submission["id"])
    assert scores.returncode == OK
    assert "CIDEr" in scores.stdout and "rank 1 of 1" in scores.stdout
    status = logged_in.json("status", submission["id"])
    assert status["status"] == "finished" and "board_places" not in status


def test_a_refusal_exits_3_naming_the_limit(logged_in, demo_val):
    Phase.objects.filter(pk=demo_val.pk).update(max_submissions_per_day=1)
    purge_queues()
    try:
        first = logged_in("submit", "demo/val", "--language", "zh", DEMO_PREDICTIONS / "val-zh.json", "--no-wait")
        assert first.returncode == OK, first.stderr
        second = logged_in("submit", "demo/val", "--language", "zh", DEMO_PREDICTIONS / "val-zh.json")
        assert second.returncode == REFUSED and "used its 1 submissions for today" in second.stderr, second.stderr
        refused = logged_in.json(
            "submit", "demo/val", "--language", "zh", DEMO_PREDICTIONS / "val-zh.json", expect=REFUSED
        )
        assert refused["http"]["status"] == 429 and refused["http"]["code"] == "daily_limit"
    finally:
        purge_queues()  # no worker is to score the first one later


def test_a_failed_scoring_exits_4_with_its_reason(logged_in, demo_val, tmp_path):
    purge_queues()
    uploaded = logged_in.json("submit", "demo/val", "--language", "zh", DEMO_PREDICTIONS / "val-zh.json", "--no-wait")
    ReferenceSet.objects.filter(phase=demo_val, language="zh").delete()  # before any worker runs
    worker = WorkerProcess(tmp_path / "worker.log", purge=False)
    worker.start()
    try:
        assert wait_for_status(uploaded["id"], timeout=120).status == "failed"
    finally:
        worker.stop()
    status = logged_in("status", uploaded["id"])
    assert status.returncode == FAILED and "no longer has references" in status.stdout
    assert logged_in.json("status", uploaded["id"], expect=FAILED)["status"] == "failed"


def test_no_server_or_an_unreachable_one_exits_1_saying_so(tmp_path):
    client = Client("", tmp_path / "config")
    unset = client("status", "1")
    assert unset.returncode == ERROR and "No server" in unset.stderr
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = client.json("phases", "--server", f"http://127.0.0.1:{port}", expect=ERROR)
    assert unreachable["exit_code"] == ERROR and "Cannot reach" in unreachable["error"]


def _participant():
    from tests.support.service import make_participant

    return make_participant("carol", "Team C")
