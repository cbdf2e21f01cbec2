"""The Procfile's processes, as production runs them, take a real test-split submission to the board."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time

import pytest
import requests
from rest_framework.authtoken.models import Token

from .conftest import ROOT, database_url, load_test_challenge, purge_queues, shifted_predictions
from .judge_server import expected_stage_metrics


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def procfile_processes(transactional_db, tmp_path, fake_judge):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leaderboard.settings",
        "DEBUG": "0",
        "SECRET_KEY": "procfile-test-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        "VAR_DIR": os.environ["VAR_DIR"],
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "1",
        "JUDGE_WORKER_CONCURRENCY": "1",
        "JUDGE_BASE_URL": fake_judge.base_url,
        "JUDGE_MODEL": "fake-judge-procfile",
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}" if (ROOT / ".venv").exists() else os.environ["PATH"],
    }
    subprocess.run([*shlex.split("python manage.py collectstatic --noinput -v0")], cwd=ROOT, env=env, check=True)
    purge_queues()
    processes, logs = {}, {}
    for name in ("release", "web", "worker", "judge"):
        logs[name] = tmp_path / f"{name}.log"
        process = subprocess.Popen(["sh", "-c", procfile()[name]], cwd=ROOT, env=env, start_new_session=True,
                                   stdout=open(logs[name], "w"), stderr=subprocess.STDOUT)
        if name == "release":
            assert process.wait(timeout=120) == 0, logs[name].read_text()
        else:
            processes[name] = process
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200 and all(
                    " ready." in logs[worker].read_text() for worker in ("worker", "judge")):
                break
        except (requests.ConnectionError, requests.Timeout):  # gunicorn still importing the app
            pass
        time.sleep(0.3)
    else:
        raise RuntimeError("the Procfile processes did not come up:\n" + "\n".join(p.read_text()[-2000:] for p in logs.values()))
    yield base, logs
    for process in processes.values():
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_test_split_submission_goes_through_the_procfile_processes(procfile_processes, fake_judge, alice,
                                                                     real_test_split):
    base, logs = procfile_processes
    load_test_challenge(real_test_split)
    token = Token.objects.create(user=alice).key
    headers = {"Authorization": f"Token {token}"}
    predictions = shifted_predictions(real_test_split["zh"])

    started = time.monotonic()
    response = requests.post(
        f"{base}/api/v1/challenges/movie101v2/phases/test/submissions/",
        headers=headers,
        data={"language": "zh", "public": "true", "method_name": "previous clip"},
        files={"predictions": ("test-zh.json", json.dumps(predictions, ensure_ascii=False).encode())},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    submission_id = response.json()["id"]
    while time.monotonic() - started < 600:
        body = requests.get(f"{base}/api/v1/submissions/{submission_id}/", headers=headers, timeout=10).json()
        if body["status"] in ("finished", "failed"):
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert body["status"] == "finished", (body["error"], logs["worker"].read_text()[-3000:])
    assert body["result"]["clips"] == 2227 and body["clip_scores_url"] is None

    board = requests.get(f"{base}/api/v1/challenges/movie101v2/phases/test/leaderboards/zh/l1/", timeout=10).json()
    assert board["rows"][0]["submission_id"] == submission_id
    assert board["rows"][0]["scores"]["cider"] == body["scores"]["cider"]
    page = requests.get(f"{base}/c/movie101v2/test/zh/l1/", timeout=10)
    assert page.status_code == 200 and "previous clip" in page.text
    assert requests.get(f"{base}/static/css/site.css", timeout=10).status_code == 200
    print(f"\nProcfile web+worker, real test split (2,227 clips, zh): upload to finished in {elapsed:.1f} s")

    # The judge process takes the stage scores from the loopback judge to both stage boards.
    while time.monotonic() - started < 900:
        body = requests.get(f"{base}/api/v1/submissions/{submission_id}/", headers=headers, timeout=10).json()
        if body["judge"]["status"] not in ("queued", "running"):
            break
        time.sleep(1)
    judged_in = time.monotonic() - started - elapsed
    assert body["judge"]["status"] == "complete", (body["judge"], logs["judge"].read_text()[-3000:])
    assert fake_judge.calls == 2 * 2227
    expected = expected_stage_metrics(real_test_split["zh"], predictions, "zh")
    for stage in ("l1", "l2"):
        board = requests.get(f"{base}/api/v1/challenges/movie101v2/phases/test/leaderboards/zh/{stage}/",
                             timeout=10).json()
        assert board["judge"]["model"] == "fake-judge-procfile"
        assert board["rows"][0]["submission_id"] == submission_id
        assert board["rows"][0]["scores"][stage] == expected[stage]
    assert {name: body["scores"][name] for name in expected} == expected
    print(f"Procfile judge process: 4,454 judgments against the loopback judge in {judged_in:.1f} s")
