"""The Procfile's processes, as production runs them, taking a real test-split submission to the boards.

:func:`procfile_processes` and :func:`submission_reaches_the_stage_boards` are the one implementation
of that run: tests/service/test_procfile.py runs it from the interpreter running the tests (the dev
``.venv``), tests/service/test_install_service.py from a fresh virtualenv holding only requirements.txt.
Service layer.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from leaderboard.boards.disclosure import precision_of, rounds_for
from leaderboard.challenges.models import Phase

from .data import ROOT, procfile, shifted_predictions, stop_process_group
from .judge_server import FakeJudge, expected_stage_metrics
from .network import free_port
from .processes import database_url, purge_queues
from .service import load_test_challenge
from .venvs import clean_env

#: The Procfile's processes, in the order they are started; ``release`` runs to its end first.
PROCESSES = ("release", "web", "worker", "judge", "beat")
#: Beat sends the organizers' digest this often (s) while the processes run, so that a test sees the
#: scheduled task reach the worker instead of waiting a day for it.
DIGEST_INTERVAL = 2


@dataclass
class RunningProcfile:
    #: The web process's URL.
    base: str
    #: Each process's output (stdout and stderr).
    logs: dict[str, Path]

    def tail(self, name: str, chars: int = 3000) -> str:
        return self.logs[name].read_text()[-chars:]


@contextmanager
def procfile_processes(
    bin_dir: Path, log_dir: Path, judge: FakeJudge, *, env: Mapping[str, str] | None = None
) -> Iterator[RunningProcfile]:
    """collectstatic, then every Procfile process, each run as its line says with ``sh -c`` and with
    ``bin_dir`` (a virtualenv's ``bin``) first on PATH and no other virtualenv on it: ``python``,
    ``gunicorn`` and ``celery`` are that virtualenv's. Production settings (``DEBUG=0``) on the tests'
    database and broker, with ``judge`` as the judge, and ``env`` on top (e.g. a bucket's variables).
    Yields once the web answers ``/healthz``, both workers are ready and a task beat sent has run on
    the worker; stops them all on exit."""
    port = free_port()
    env = clean_env(
        bin_dir,
        {
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
            "JUDGE_BASE_URL": judge.base_url,
            "JUDGE_MODEL": "fake-judge-procfile",
            "EMAIL_DIGEST_INTERVAL": str(DIGEST_INTERVAL),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(log_dir / "celerybeat-schedule"),
            **(env or {}),
        },
    )
    for command in ("python", "gunicorn", "celery"):
        found = shutil.which(command, path=env["PATH"])
        assert found and Path(found).parent == bin_dir, f"{command} on the processes' PATH is {found}, not {bin_dir}'s"

    logs = {name: log_dir / f"{name}.log" for name in ("collectstatic", *PROCESSES)}

    def start(name: str, command: str) -> subprocess.Popen:
        with open(logs[name], "w") as log:
            return subprocess.Popen(
                ["sh", "-c", command], cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT
            )

    def finished(name: str, command: str) -> None:
        process = start(name, command)
        try:
            returncode = process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        assert returncode == 0, f"{name} exited {returncode}:\n{logs[name].read_text()[-3000:]}"

    finished("collectstatic", "python manage.py collectstatic --noinput -v0")
    purge_queues()
    finished("release", procfile()["release"])
    with ExitStack() as stack:
        processes = {}
        for name in PROCESSES[1:]:
            processes[name] = start(name, procfile()[name])
            stack.callback(stop_process_group, processes[name], 30)
        running = RunningProcfile(f"http://127.0.0.1:{port}", logs)
        deadline = time.monotonic() + 120
        while not _all_up(running):
            exited = {name: process.returncode for name, process in processes.items() if process.poll() is not None}
            if exited or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Procfile processes did not come up (exited: {exited}):\n"
                    + "\n".join(f"--- {name}\n{running.tail(name, 2000)}" for name in PROCESSES)
                )
            time.sleep(0.3)
        yield running


def _all_up(running: RunningProcfile) -> bool:
    try:
        if requests.get(f"{running.base}/healthz", timeout=5).status_code != 200:
            return False
    except (requests.ConnectionError, requests.Timeout):  # gunicorn still importing the app
        return False
    return bool(
        all(" ready." in running.logs[name].read_text() for name in ("worker", "judge"))
        and "Sending due task send-digests" in running.logs["beat"].read_text()
        and re.search(r"workers\.tasks\.send_digests\[[-0-9a-f]+\] succeeded", running.logs["worker"].read_text())
    )


def submission_reaches_the_stage_boards(
    running: RunningProcfile, judge: FakeJudge, user, references: dict[str, str], language: str
) -> None:
    """Upload plausible but wrong narrations for a test split through the API of ``running``, and see the
    worker finish it with classic scores on the l1 board and the judge process bring the loopback judge's
    exact stage means to the l1 and l2 boards."""
    base = running.base
    load_test_challenge({language: references})
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    predictions = shifted_predictions(references)

    started = time.monotonic()
    response = requests.post(
        f"{base}/api/v1/challenges/movie101v2/phases/test/submissions/",
        headers=headers,
        data={"language": language, "public": "true", "method_name": "previous clip"},
        files={"predictions": (f"test-{language}.json", json.dumps(predictions, ensure_ascii=False).encode())},
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
    assert body["status"] == "finished", (body["error"], running.tail("worker"))
    assert body["result"]["clips"] == len(references) and body["clip_scores_url"] is None
    assert all(isinstance(body["scores"][name], float) for name in ("bleu_4", "meteor", "rouge_l", "cider"))

    board = requests.get(
        f"{base}/api/v1/challenges/movie101v2/phases/test/leaderboards/{language}/l1/", timeout=10
    ).json()
    assert board["rows"][0]["submission_id"] == submission_id
    assert board["rows"][0]["scores"]["cider"] == body["scores"]["cider"]
    # Every score shown has its interval, computed by the worker; the CSV download holds the same row.
    row = board["rows"][0]
    assert set(row["intervals"]) == set(row["scores"]) and row["tie_group"] == 1
    assert all(low <= row["scores"][name] <= high for name, (low, high) in row["intervals"].items())
    csv_text = requests.get(
        f"{base}/api/v1/challenges/movie101v2/phases/test/leaderboards/{language}/l1/?format=csv", timeout=10
    ).text
    assert csv_text.splitlines()[1].split(",")[3] == row["team"]
    page = requests.get(f"{base}/c/movie101v2/test/{language}/l1/", timeout=10)
    assert page.status_code == 200 and "previous clip" in page.text
    assert requests.get(f"{base}/static/css/site.css", timeout=10).status_code == 200
    print(
        f"\nProcfile web+worker, real test split ({len(references):,} clips, {language}): "
        f"upload to finished in {elapsed:.1f} s"
    )

    # The judge process takes the stage scores from the loopback judge to both stage boards.
    while time.monotonic() - started < 900:
        body = requests.get(f"{base}/api/v1/submissions/{submission_id}/", headers=headers, timeout=10).json()
        if body["judge"]["status"] not in ("queued", "running"):
            break
        time.sleep(1)
    judged_in = time.monotonic() - started - elapsed
    assert body["judge"]["status"] == "complete", (body["judge"], running.tail("judge"))
    assert judge.calls == 2 * len(references)
    exact = expected_stage_metrics(references, predictions, language)
    # The test phase hides its references: its organizers see the exact means, everyone else (the team
    # included) sees them rounded to the boards' precision.
    phase = Phase.objects.get(challenge__slug="movie101v2", slug="test")
    organizer = get_user_model().objects.create_user("procfile-organizer")
    phase.challenge.organizers.add(organizer)
    assert rounds_for(user, phase) and not rounds_for(organizer, phase)
    precision = precision_of(phase)
    rounded = {name: round(value, precision(name)) for name, value in exact.items()}
    organizer_headers = {"Authorization": f"Token {Token.objects.create(user=organizer).key}"}
    for stage in ("l1", "l2"):
        url = f"{base}/api/v1/challenges/movie101v2/phases/test/leaderboards/{language}/{stage}/"
        board = requests.get(url, timeout=10).json()
        assert board["judge"]["model"] == "fake-judge-procfile"
        assert board["rows"][0]["submission_id"] == submission_id
        assert board["rows"][0]["scores"][stage] == rounded[stage]
        organizers_board = requests.get(url, headers=organizer_headers, timeout=10).json()
        assert organizers_board["rows"][0]["scores"][stage] == exact[stage]
        # The judge's stage metrics got their intervals when the judge process stored them.
        low, high = organizers_board["rows"][0]["intervals"][stage]
        assert low <= exact[stage] <= high
    assert {name: body["scores"][name] for name in exact} == rounded
    print(f"Procfile judge process: {2 * len(references):,} judgments against the loopback judge in {judged_in:.1f} s")
