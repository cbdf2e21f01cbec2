"""./run-dev as a developer runs it: the address once everything answers, emails linking to its PORT, and
Ctrl-C leaving no process behind. It runs on its own SQLite file and folder broker in a temporary
VAR_DIR, apart from the tests' database and broker."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.data import ROOT


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` with its command line, including those in sessions of their own (honcho's)."""
    found: dict[int, str] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:  # gone meanwhile
            continue
        for child in map(int, children):
            try:
                found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            found |= descendants(child)
    return found


def alive(pids) -> list[int]:
    alive_pids = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive_pids.append(pid)
    return alive_pids


@pytest.mark.slow
def test_run_dev_prints_the_address_once_up_links_emails_to_its_port_and_stops_everything(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SITE_URL", "EMAIL_BACKEND")
        and not name.startswith(("JUDGE_", "AWS_"))
    }
    env.update(
        PORT=str(port), VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="leaderboard.settings", LOG_LEVEL="INFO"
    )
    log = tmp_path / "run-dev.log"
    with open(log, "w") as out:
        run_dev = subprocess.Popen(
            ["./run-dev"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 300
        while "Ctrl-C stops web and workers." not in log.read_text():
            assert run_dev.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
            seen |= descendants(run_dev.pid)
            time.sleep(0.5)
        output = log.read_text()
        seen |= descendants(run_dev.pid)
        # Printed below the workers' start-up lines, once the site answers and both workers listen.
        banner = output.index(f"Movie101v2 leaderboard: http://127.0.0.1:{port}/")
        assert output.index("classic@") < banner and re.search(r"classic@\S+ ready\.", output[:banner])
        assert re.search(r"judge@\S+ ready\.", output[:banner])
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200

        token = re.search(r"demo API token: (\w+)", output).group(1)
        response = requests.post(
            f"http://127.0.0.1:{port}/api/v1/challenges/demo/phases/val/submissions/",
            headers={"Authorization": f"Token {token}"},
            data={"language": "en"},
            files={"predictions": ("val-en.json", (ROOT / "demo" / "predictions" / "val-en.json").read_bytes())},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        submission_url = f"http://127.0.0.1:{port}/submissions/{response.json()['id']}/"
        while submission_url not in log.read_text():  # the result email, printed by the worker
            assert run_dev.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
            seen |= descendants(run_dev.pid)
            time.sleep(0.5)
    finally:
        seen |= descendants(run_dev.pid)
        os.killpg(run_dev.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
        try:
            returncode = run_dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for pid in [run_dev.pid, *seen]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise
    assert returncode == 130, log.read_text()[-3000:]  # honcho's status after SIGINT
    commands = " ".join(seen.values())
    assert "gunicorn" in commands and "celery" in commands and "meteor" in commands
    assert not alive(seen), ({pid: seen[pid] for pid in alive(seen)}, log.read_text()[-3000:])
