"""Capacity of a deployment: classic-scoring throughput of the service's image, as an operator runs it.

Starts the image's ``web`` and ``worker`` containers (host network) on a scratch PostgreSQL database and
a scratch Redis database, imports the real Movie101v2 release with the image's own commands, uploads
K test-split files at once through the API, and reports the time from upload to finished per
submission and the submissions per hour the workers sustain. Uploads are stored on a shared volume, as
S3 would be shared in production. docs/deploy.md records the figures.

    scripts/build-image movie101v2-leaderboard:bench      # LOCAL_BASE=1 without a registry
    .venv/bin/python bench/deployment_capacity.py --image movie101v2-leaderboard:bench \\
        --data ../shared/movie101v2 --submissions 12 --concurrency 1 2

Sends nothing but to 127.0.0.1. Run by hand; it takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import requests
import yaml

DATABASE = "bench_capacity"
REDIS_DB = 9


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def docker(*args: str, check: bool = True) -> str:
    completed = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and completed.returncode:
        raise SystemExit(f"docker {' '.join(args[:3])}... failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def manage_in_container(image: str, docker_args: list[str], data: Path, *args: str) -> str:
    """A management command in a one-off container, with the annotations mounted at /data."""
    return docker("run", "--rm", *docker_args, "-v", f"{data.resolve()}:/data:ro", image, "python", "manage.py", *args)


def logs(name: str) -> str:
    completed = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
    return completed.stdout + completed.stderr


def read_split(data: Path, language: str) -> dict[str, str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from evaluation.movie101v2 import read_split as read

    return read(data, "test", language)


def shuffled_predictions(references: dict[str, str], seed: int) -> dict[str, str]:
    """Plausible but wrong narrations, different for every submission: other clips' references."""
    ids = sorted(references)
    narrations = [references[clip_id] for clip_id in ids]
    random.Random(seed).shuffle(narrations)
    return dict(zip(ids, narrations, strict=True))


def run_once(image: str, data: Path, submissions: int, concurrency: int, language: str) -> dict:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], capture_output=True, check=False)
    port = free_port()
    volume = f"movie101v2-bench-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "PORT": str(port),
        "WORKER_CONCURRENCY": str(concurrency),
        "SWEEP_INTERVAL": "3600",
    }
    env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    common = ["--network", "host", "--init", "-v", f"{volume}:/var/lib/movie101v2", *env_args]
    names = []
    try:
        docker("run", "--rm", *common, image, "release")
        bundle = Path(docker("volume", "inspect", volume, "--format", "{{.Mountpoint}}").strip()) / "bundle"
        manage_in_container(
            image,
            common,
            data,
            "import_movie101v2",
            "/data",
            "--write-bundle",
            "/var/lib/movie101v2/bundle",
            "--no-load",
        )
        spec = yaml.safe_load((bundle / "challenge.yaml").read_text(encoding="utf-8"))
        for phase in spec["phases"]:
            phase["max_submissions_per_day"] = phase["max_submissions_total"] = submissions + 10
        (bundle / "challenge.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
        manage_in_container(
            image, common, data, "load_challenge", "/var/lib/movie101v2/bundle", "--reason", "capacity bench"
        )
        # issue_token prints the token alone on its last line.
        token = (
            manage_in_container(image, common, data, "issue_token", "bench", "--team", "Bench").strip().splitlines()[-1]
        )

        started = time.monotonic()
        for role in ("web", "worker"):
            name = f"movie101v2-bench-{role}-{uuid.uuid4().hex[:6]}"
            docker("run", "-d", "--name", name, *common, image, role)
            names.append(name)
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=5).status_code == 200 and " ready." in logs(names[1]):
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() - started > 180:
                raise SystemExit("the containers did not get ready")
            time.sleep(0.5)
        ready_in = time.monotonic() - started

        references = read_split(data, language)
        headers = {"Authorization": f"Token {token}"}
        uploaded_at, ids = {}, []
        for index in range(submissions):
            body = json.dumps(shuffled_predictions(references, index), ensure_ascii=False).encode()
            at = time.monotonic()
            response = requests.post(
                f"{base}/api/v1/challenges/movie101v2/phases/test/submissions/",
                headers=headers,
                data={"language": language},
                files={"predictions": ("p.json", body)},
                timeout=120,
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
            uploaded_at[ids[-1]] = at
        first_upload = min(uploaded_at.values())
        finished_at = {}
        while len(finished_at) < len(ids):
            for submission_id in ids:
                if submission_id in finished_at:
                    continue
                body = requests.get(f"{base}/api/v1/submissions/{submission_id}/", headers=headers, timeout=10).json()
                if body["status"] in ("finished", "failed"):
                    if body["status"] != "finished":
                        raise SystemExit(f"submission {submission_id} failed: {body['error']}")
                    finished_at[submission_id] = time.monotonic()
            time.sleep(0.5)
        spans = [finished_at[i] - uploaded_at[i] for i in ids]
        wall = max(finished_at.values()) - first_upload
        return {
            "concurrency": concurrency,
            "submissions": submissions,
            "ready_s": ready_in,
            "wall_s": wall,
            "per_hour": submissions / wall * 3600,
            "median_s": statistics.median(spans),
            "first_s": spans[0],
        }
    finally:
        if names:
            docker("rm", "-f", *names, check=False)
        docker("volume", "rm", "-f", volume, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="movie101v2-leaderboard:latest")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "movie101v2")
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--language", default="en", choices=("en", "zh"))
    args = parser.parse_args()
    print(
        "| worker concurrency | submissions | cold start to ready (s) | wall (s) | submissions/hour "
        "| median upload to finished (s) | first (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for concurrency in args.concurrency:
        row = run_once(args.image, args.data, args.submissions, concurrency, args.language)
        print(
            f"| {row['concurrency']} | {row['submissions']} | {row['ready_s']:.1f} | {row['wall_s']:.1f} "
            f"| {row['per_hour']:.0f} | {row['median_s']:.1f} | {row['first_s']:.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
