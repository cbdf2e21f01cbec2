"""Shared fixtures: the real Movie101v2 data, challenge set-ups, and real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leaderboard.challenges.services import MOVIE101V2_BOARDS
from leaderboard.teams.models import Membership, Team

ROOT = Path(__file__).resolve().parent.parent
DEMO_DATA = ROOT / "demo" / "data"
DEMO_PREDICTIONS = ROOT / "demo" / "predictions"


# -- the real data --------------------------------------------------------------


def movie101v2_root() -> Path | None:
    """``$MOVIE101V2_DATA``, else ``../shared/movie101v2`` beside the project."""
    configured = os.environ.get("MOVIE101V2_DATA")
    path = Path(configured) if configured else ROOT.parent / "shared" / "movie101v2"
    if (path / "splits.json").exists():
        return path
    if configured:
        raise RuntimeError(f"MOVIE101V2_DATA={configured} has no splits.json")
    return None


@pytest.fixture(scope="session")
def real_data() -> Path:
    path = movie101v2_root()
    if path is None:
        pytest.skip("the real Movie101v2 annotations are not at ../shared/movie101v2 (set MOVIE101V2_DATA)")
    return path


@pytest.fixture(scope="session")
def real_test_split(real_data) -> dict[str, dict[str, str]]:
    from evaluation.movie101v2 import read_split

    return {language: read_split(real_data, "test", language) for language in ("zh", "en")}


def shifted_predictions(references: dict[str, str]) -> dict[str, str]:
    """Plausible but wrong narrations: each clip gets its predecessor's reference."""
    ids = sorted(references)
    return {clip_id: references[ids[index - 1]] for index, clip_id in enumerate(ids)}


# -- challenges and people ------------------------------------------------------------


def load_test_challenge(references: dict[str, dict[str, str]], *, slug="movie101v2", public=False) -> None:
    """A one-phase challenge (``test``, or ``val`` when ``public``) over ``references``, loaded as a bundle."""
    from leaderboard.challenges.bundles import validate_bundle
    from leaderboard.challenges.services import load_bundle

    phase = {
        "slug": "val" if public else "test",
        "title": "Validation" if public else "Test",
        "references_public": public,
        "starts_at": timezone.now() - timedelta(minutes=1),
        "references": {language: {"narrations": narrations} for language, narrations in references.items()},
        "boards": MOVIE101V2_BOARDS,
    }
    load_bundle(validate_bundle({"slug": slug, "title": slug.title(), "phases": [phase]}, base_dir=ROOT))


@pytest.fixture
def fake_judge():
    """The tests' loopback chat-completions server (tests/judge_server.py)."""
    from .judge_server import FakeJudge

    with FakeJudge() as judge:
        yield judge


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3 server on a loopback port (tests/s3_server.py), for the whole run."""
    from .s3_server import MotoS3Server

    server = MotoS3Server(tmp_path_factory.mktemp("s3") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server, settings, monkeypatch, tmp_path):
    """This test's files go to a fresh private bucket, configured from the AWS_* variables as in production.

    ``s3.env`` holds those variables, for the processes the test starts. MEDIA_ROOT
    points at an empty folder, so a test can check that nothing was written to disk.
    """
    from leaderboard.settings import default_storage_from

    from .s3_server import S3Site

    bucket, location = s3_server.create_bucket(), "leaderboard"
    site = S3Site(server=s3_server, bucket=bucket, location=location,
                  env=s3_server.service_env(bucket, location=location))
    # Credentials reach the storage the way they do in production: from the environment.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, site.env[name])
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_S3_SESSION_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    settings.MEDIA_ROOT = tmp_path / "media"
    # Django's setting_changed handler drops the storages built so far, so the next use builds this one.
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_from(site.env)}
    return site


@pytest.fixture
def demo_challenge(db):
    from django.core.management import call_command

    call_command("load_demo", "--no-user", stdout=open(os.devnull, "w"))
    from leaderboard.challenges.models import Challenge

    return Challenge.objects.get(slug="demo")


@pytest.fixture
def demo_val(demo_challenge):
    return demo_challenge.phases.get(slug="val")


@pytest.fixture
def demo_test(demo_challenge):
    return demo_challenge.phases.get(slug="test")


def make_participant(username: str, team_name: str | None = None):
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    if team_name:
        team, _ = Team.objects.get_or_create(name=team_name)
        Membership.objects.create(user=user, team=team)
    return user


@pytest.fixture
def alice(db):
    return make_participant("alice", "Team A")


@pytest.fixture
def bob(db):
    return make_participant("bob", "Team B")


def api_client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def demo_file(name: str) -> bytes:
    return (DEMO_PREDICTIONS / name).read_bytes()


def upload(client, phase, language: str, data: bytes, name="predictions.json", **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/challenges/{phase.challenge.slug}/phases/{phase.slug}/submissions/",
        {"language": language, "predictions": SimpleUploadedFile(name, data), **fields},
        format="multipart",
    )


# -- real processes -----------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server a test starts."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    def __init__(self, log_path: Path, concurrency: int = 1, queues: str = "classic,rescore", purge: bool = True,
                 **env: str):
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
            [sys.executable, "-m", "celery", "-A", "workers", "worker", "--queues", self.queues,
             "--concurrency", str(self.concurrency), "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "--hostname", f"test-{self.queues.replace(',', '-')}-{os.getpid()}@%h"],
            cwd=ROOT, env=process_env(**self.env), stdout=self.log, stderr=subprocess.STDOUT,
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


@pytest.fixture
def celery_worker(transactional_db, tmp_path) -> Iterator[WorkerProcess]:
    """A real ``celery worker`` process on the test database and broker."""
    worker = WorkerProcess(tmp_path / "worker.log")
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def wait_for_status(submission_id: int, statuses=("finished", "failed"), timeout: float = 300):
    from leaderboard.submissions.models import Submission

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        submission = Submission.objects.get(pk=submission_id)
        if submission.status in statuses:
            return submission
        time.sleep(0.25)
    raise AssertionError(f"submission {submission_id} still {submission.status} after {timeout} s")


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def pytest_report_header(config):
    root = movie101v2_root()
    return [
        f"database: {settings.DATABASES['default']['ENGINE']}",
        f"broker: {settings.CELERY_BROKER_URL.split('@')[-1]}",
        f"real data: {root or 'absent (tests that need it are skipped)'}",
    ]
