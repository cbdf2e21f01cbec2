"""Processes the service tests start: real Celery workers and others on the tests' database and broker.
Service layer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .data import ROOT


def database_url() -> str:
    """The URL of the database the tests use, for a process they start."""
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or "postgres"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{params['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database_url(),
        VAR_DIR=os.environ["VAR_DIR"],
        PYTHONUNBUFFERED="1",
    )
    # Worker tests are about the service around the scorer, and start workers dozens of times: without
    # a warm-up (each start would score every open reference set) and with one METEOR process each,
    # they start in seconds. tests/service/test_worker_warmup.py runs a worker on the production defaults;
    # tests/evaluation covers METEOR on several processes.
    env.setdefault("WORKER_WARM_REFERENCE_SETS", "0")
    env.setdefault("EVALUATION_METEOR_PROCESSES", "1")
    env.update(extra)
    if any(name.startswith("JUDGE_") for name in extra):
        env["TEST_JUDGE_ENV"] = "1"
    if "AWS_STORAGE_BUCKET_NAME" in extra:
        env["TEST_STORAGE_ENV"] = "1"
    return env


QUEUES = ("classic", "rescore", "judge")


def purge_queues(queues=QUEUES) -> None:
    from workers.celery import app

    with app.connection_for_write() as connection:
        for queue in queues:
            connection.default_channel.queue_purge(queue)


class WorkerProcess:
    def __init__(
        self, log_path: Path, concurrency: int = 1, queues: str = "classic,rescore", purge: bool = True, **env: str
    ):
        self.log_path = log_path
        self.concurrency = concurrency
        self.queues = queues
        self.purge = purge
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        if self.purge:
            purge_queues()
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "--queues",
                self.queues,
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"test-{self.queues.replace(',', '-')}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=process_env(**self.env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the Celery worker did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()

    def kill(self) -> None:
        """SIGKILL the whole worker, its pool processes and their Java with it: a lost machine or the OOM killer."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def pool_pids(self) -> list[int]:
        """The worker's pool processes: its main process's children (their Java processes are theirs)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):  # gone meanwhile
                continue
            if int(fields[1]) == self.process.pid:  # the parent's pid follows the state
                pids.append(int(stat.parent.name))
        return pids

    def wait_for_output(self, text: str, timeout: float = 60) -> bool:
        """Whether the worker's log shows ``text`` within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            time.sleep(0.2)
        return text in self.output()

    def output(self) -> str:
        return self.log_path.read_text()


class BeatProcess:
    """A real ``celery beat``: it sends the sweep every ``SWEEP_INTERVAL`` seconds of its environment."""

    def __init__(self, log_path: Path, **env: str):
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO"],
            cwd=ROOT,
            env=process_env(CELERY_BEAT_SCHEDULE_FILENAME=str(self.log_path.with_suffix(".schedule")), **self.env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Sending due task" in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"Celery beat did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        if getattr(self, "log", None):
            self.log.close()


def drop_unacked() -> None:
    """Forget the messages killed workers left unacknowledged: Redis would hand them out again after its
    visibility timeout, to whatever worker runs on the tests' database then."""
    from workers.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        if hasattr(channel, "unacked_key"):  # Redis; the folder broker keeps none
            channel.client.delete(channel.unacked_key, channel.unacked_index_key)


def wait_for_status(submission_id: int, statuses=("finished", "failed"), timeout: float = 300):
    from leaderboard.submissions.models import Submission

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        submission = Submission.objects.get(pk=submission_id)
        if submission.status in statuses:
            return submission
        time.sleep(0.25)
    raise AssertionError(f"submission {submission_id} still {submission.status} after {timeout} s")
