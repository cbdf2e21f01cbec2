"""LOG_FORMAT=json: every line a worker or the web process writes is one JSON object, and a task's lines
name the submission (and judge run) they are about."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import requests

from leaderboard.logging import JsonFormatter, TaskContextFilter, enter_task, leave_task
from tests.support.data import ROOT
from tests.support.judge_server import FakeJudge
from tests.support.judging import set_judge, wait_for_judge
from tests.support.processes import WorkerProcess, process_env, wait_for_status
from tests.support.service import api_client_for, demo_file, upload


def json_lines(text: str) -> list[dict]:
    """Each line of ``text`` as a JSON object; fails naming the first line that is not one."""
    lines = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}\n\n{text[-3000:]}") from None
    return lines


def test_a_worker_writes_json_lines_and_each_task_line_names_its_submission(
    transactional_db, tmp_path, alice, demo_val
):
    alice.email = "alice@example.org"  # so the console email backend prints the result email too
    alice.save()
    with FakeJudge() as judge:
        set_judge(demo_val, base_url=judge.base_url, model="fake-judge-logs")
        worker = WorkerProcess(
            tmp_path / "worker.log", queues="classic,rescore,judge", LOG_FORMAT="json", LOG_LEVEL="INFO"
        )
        worker.start()
        try:
            started = len(worker.output())
            submission_id = upload(api_client_for(alice), demo_val, "en", demo_file("val-en.json")).json()["id"]
            assert wait_for_status(submission_id, timeout=120).status == "finished", worker.output()[-3000:]
            assert wait_for_judge(submission_id, timeout=120).status == "complete", worker.output()[-3000:]
            # The result email is the last task of a submission.
            assert worker.wait_for_output("sent the finished email of submission", timeout=60), worker.output()[-3000:]
            output = worker.output()[started:]
        finally:
            worker.stop()

    lines = json_lines(output)
    run_id = wait_for_judge(submission_id).pk
    for line in lines:
        assert {"time", "level", "logger", "message", "process"} <= set(line), line
        assert line["time"].endswith("+00:00"), line
    task_lines = [line for line in lines if "task" in line]
    by_task = {line["task"] for line in task_lines}
    assert by_task == {
        "workers.tasks.score_submission",
        "workers.tasks.judge_result",
        "workers.tasks.notify_submission",
    }, by_task
    assert all(line["submission_id"] == submission_id and line["task_id"] for line in task_lines), task_lines
    assert all(line["judge_run_id"] == run_id for line in task_lines if line["task"] == "workers.tasks.judge_result")
    # Celery's own lines go through the same handler: the outcome of each task is a tagged JSON line.
    assert [
        line
        for line in task_lines
        if line["logger"] == "celery.app.trace"
        and line["task"] == "workers.tasks.score_submission"
        and "succeeded" in line["message"]
    ]
    # What the worker prints (here the console email backend) becomes a line too.
    assert [
        line for line in task_lines if line["logger"] == "celery.redirected" and "alice@example.org" in line["message"]
    ]


def test_an_exception_is_one_line_with_its_traceback_in_exc():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(TaskContextFilter())
    logger = logging.getLogger("tests.json")
    logger.addHandler(handler)
    logger.propagate = False
    token = enter_task(task="workers.tasks.score_submission", task_id="abc", submission_id=7)
    try:
        try:
            {}["missing"]
        except KeyError:
            logger.exception("scoring failed for %s", "#7")
    finally:
        leave_task(token)
        logger.removeHandler(handler)
    (line,) = json_lines(stream.getvalue())
    assert line["message"] == "scoring failed for #7" and line["level"] == "ERROR" and line["logger"] == "tests.json"
    assert line["submission_id"] == 7 and line["task_id"] == "abc"
    assert line["exc"].startswith("Traceback") and "KeyError: 'missing'" in line["exc"]


def test_gunicorn_writes_its_access_and_error_lines_as_json(transactional_db, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = process_env(
        DJANGO_SETTINGS_MODULE="leaderboard.settings",
        PORT=str(port),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        WEB_CONCURRENCY="1",
    )
    log = tmp_path / "web.log"
    with open(log, "w") as out:
        # As the Procfile runs it: gunicorn.conf.py is read from the directory gunicorn starts in.
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "leaderboard.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise AssertionError(log.read_text())
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
    lines = json_lines(log.read_text())
    assert [line for line in lines if line["logger"] == "gunicorn.access" and '"GET /healthz' in line["message"]]
    assert [line for line in lines if line["logger"] == "gunicorn.error" and "Listening at" in line["message"]]
