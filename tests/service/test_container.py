"""The image as an operator runs it: built here, one container per role, a real test-split submission.

The image is built by ``scripts/build-image`` (on a machine without an image registry, from a base made of
Debian packages: ``LOCAL_BASE=1``, as CI does). Its containers use host networking and talk to the
PostgreSQL and Redis the tests already use, on 127.0.0.1; nothing else is contacted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.support.cli import score_json
from tests.support.data import ROOT, shifted_predictions
from tests.support.network import free_port
from tests.support.processes import database_url, purge_queues
from tests.support.service import load_test_challenge

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="session")
def docker():
    if not docker_available():
        if os.environ.get("REQUIRE_DOCKER"):
            raise RuntimeError("REQUIRE_DOCKER is set but no Docker daemon answers (start dockerd)")
        pytest.skip("no Docker daemon (set REQUIRE_DOCKER=1 to make this an error)")


@pytest.fixture(scope="session")
def image(docker) -> str:
    """The service's image: $CONTAINER_IMAGE if given, else built now from the working tree."""
    if os.environ.get("CONTAINER_IMAGE"):
        return os.environ["CONTAINER_IMAGE"]
    tag = "movie101v2-leaderboard:test"
    env = {**os.environ, "LOCAL_BASE": os.environ.get("LOCAL_BASE", "1")}
    started = time.monotonic()
    completed = subprocess.run(
        [str(ROOT / "scripts" / "build-image"), tag], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    size = json.loads(
        subprocess.run(["docker", "image", "inspect", tag], capture_output=True, text=True, check=True).stdout
    )[0]["Size"]
    print(f"\nimage {tag}: {size / 1e6:.0f} MB, built in {time.monotonic() - started:.0f} s")
    return tag


class Containers:
    """Containers started by one test, removed afterwards whatever happens."""

    def __init__(self, image: str, env: dict[str, str]):
        self.image = image
        self.env = env
        self.names: list[str] = []

    def _env_args(self, extra: dict[str, str]) -> list[str]:
        args = []
        for name, value in {**self.env, **extra}.items():
            args += ["-e", f"{name}={value}"]
        return args

    def run(self, *command: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "run", "--rm", "--init", "--network", "host", *self._env_args(extra_env), self.image, *command],
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self, role: str, **extra_env: str) -> str:
        name = f"movie101v2-test-{role}-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            [
                "docker",
                "run",
                "-d",
                "--init",
                "--name",
                name,
                "--network",
                "host",
                *self._env_args(extra_env),
                self.image,
                role,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.names.append(name)
        return name

    def logs(self, name: str) -> str:
        completed = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60)
        return completed.stdout + completed.stderr

    def running(self, name: str) -> bool:
        completed = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True, timeout=60
        )
        return completed.stdout.strip() == "true"

    def remove_all(self) -> None:
        if self.names:
            subprocess.run(["docker", "rm", "-f", *self.names], capture_output=True, timeout=120)


@pytest.fixture
def containers(image, transactional_db, tmp_path, s3):
    """Containers on the tests' PostgreSQL and Redis, storing their files in a private bucket of moto's S3
    server, as production shares S3 between web and worker machines."""
    from django.conf import settings

    env = {
        **s3.env,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": "container-test-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "1",
        "LOG_LEVEL": "INFO",
    }
    purge_queues()
    running = Containers(image, env)
    try:
        yield running
    finally:
        for name in running.names:  # what a failing test needs to see
            (tmp_path / f"{name}.log").write_text(running.logs(name))
        running.remove_all()


def wait_until(check, timeout: float, what: str, on_timeout=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (requests.ConnectionError, requests.Timeout):
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} after {timeout} s\n{on_timeout()}")


def test_the_image_runs_every_role_and_scores_a_test_split_submission(containers, s3, alice, real_test_split, tmp_path):
    # release: migrations (already applied to the test database: it must say so, not fail).
    release = containers.run("release")
    assert release.returncode == 0, release.stdout + release.stderr
    whoami = containers.run("id", "-u")
    assert whoami.stdout.strip() != "0", "the image must not run as root"
    java = containers.run("java", "-version")
    assert java.returncode == 0 and "openjdk" in java.stderr.lower()

    load_test_challenge(real_test_split)
    token = Token.objects.create(user=alice).key
    headers = {"Authorization": f"Token {token}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    cold_start = time.monotonic()
    web = containers.start("web", PORT=str(port))
    worker = containers.start("worker")
    wait_until(
        lambda: requests.get(f"{base}/readyz", timeout=5).status_code == 200,
        120,
        "web never got ready",
        lambda: containers.logs(web)[-3000:],
    )
    wait_until(
        lambda: " ready." in containers.logs(worker),
        120,
        "the worker never got ready",
        lambda: containers.logs(worker)[-3000:],
    )
    ready_in = time.monotonic() - cold_start
    readiness = requests.get(f"{base}/readyz", timeout=5).json()
    assert readiness["status"] == "ok" and set(readiness["checks"]) == {"database", "broker", "storage"}
    # Static files were collected into the image at build time and are served with DEBUG off.
    assert requests.get(f"{base}/static/css/site.css", timeout=10).status_code == 200

    predictions = shifted_predictions(real_test_split["en"])
    uploaded = time.monotonic()
    response = requests.post(
        f"{base}/api/v1/challenges/movie101v2/phases/test/submissions/",
        headers=headers,
        data={"language": "en", "public": "true", "method_name": "previous clip in a container"},
        files={"predictions": ("test-en.json", json.dumps(predictions).encode())},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    submission_id = response.json()["id"]

    def final():
        body = requests.get(f"{base}/api/v1/submissions/{submission_id}/", headers=headers, timeout=10).json()
        return body if body["status"] in ("finished", "failed") else None

    body = wait_until(final, 600, "the submission did not finish", lambda: containers.logs(worker)[-3000:])
    finished_in = time.monotonic() - uploaded
    assert body["status"] == "finished", (body["error"], containers.logs(worker)[-3000:])

    expected = score_json(tmp_path, real_test_split["en"], predictions, "en")
    assert body["result"]["clips"] == expected["clips"] == 2227
    assert body["result"]["reference_hash"] == expected["reference_hash"]
    for metric, value in expected["metrics"].items():
        # A hidden phase: the team reads its scores at the boards' precision (4 decimals).
        assert body["scores"][metric] == pytest.approx(round(value, 4), abs=1e-12), metric

    board = requests.get(f"{base}/api/v1/challenges/movie101v2/phases/test/leaderboards/en/l1/", timeout=10).json()
    assert board["rows"][0]["submission_id"] == submission_id
    # The web container stored the upload in the bucket; the worker container read it from there.
    from leaderboard.submissions.models import Submission

    stored = Submission.objects.get(pk=submission_id).predictions_file.name
    assert json.loads(s3.read(s3.key(stored))) == predictions

    # Production logs: one JSON object a line, and the worker's task lines name the submission.
    worker_lines = [json.loads(line) for line in containers.logs(worker).splitlines() if line.strip()]
    task_lines = [line for line in worker_lines if line.get("task_id")]
    assert task_lines and all(line.get("submission_id") == submission_id for line in task_lines)
    assert all(containers.running(name) for name in (web, worker))
    print(
        f"\ncontainers: cold start to ready {ready_in:.1f} s; upload to finished (2,227 clips, en) {finished_in:.1f} s"
    )


def test_the_compose_file_is_valid(docker):
    if shutil.which("docker-compose") is None:
        if os.environ.get("REQUIRE_DOCKER"):
            raise RuntimeError("REQUIRE_DOCKER is set but docker-compose is not installed")
        pytest.skip("docker-compose is not installed")
    completed = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "SECRET_KEY": "compose-check",
            "POSTGRES_PASSWORD": "compose-check",
            "S3_SECRET_KEY": "compose-check",
        },
    )
    assert completed.returncode == 0, completed.stderr
    import yaml

    services = yaml.safe_load(completed.stdout)["services"]
    assert set(services) >= {"web", "worker", "judge", "beat", "release", "postgres", "redis", "s3", "s3-bucket"}
    for role in ("web", "worker", "judge", "beat"):
        assert services[role]["environment"]["AWS_STORAGE_BUCKET_NAME"], role
