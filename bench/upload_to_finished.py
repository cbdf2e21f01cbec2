"""From upload to finished: one test-split file at a time through the Procfile's web and worker.

Creates a scratch PostgreSQL database and uses a scratch Redis database, migrates, imports the real
Movie101v2 data (``import_movie101v2``: phases val and test, zh and en, open now) and makes one team
with an API token per upload (so no daily limit or near-duplicate check refuses one). It starts the
Procfile's ``web`` once and, for each run, a fresh ``worker`` as production runs them (DEBUG off,
classic scoring only: no judge). Each run then uploads through the API, one after another, each upload
waiting for the previous one to finish:

1. the first upload after the worker start, sent as soon as the worker says it is ready (en in even
   runs, zh in odd ones);
2. a test-split file in en, then one in zh.

Every upload's predictions differ (clip i gets the reference of clip i - k, k counting the uploads).
Times are the server's own: ``finished_at - created_at`` of the submission (the API's 201 is answered
just after ``created_at``); ``started_at - created_at`` is the queue wait. After each task it reads the
pool processes' peak RSS (``VmHWM``, what ``WORKER_MAX_MEMORY_PER_CHILD`` compares) and whether a pool
process was replaced (the cap recycles a process whose peak passed it, and its warm caches go with it).

    .venv/bin/python bench/upload_to_finished.py                    # 5 runs
    .venv/bin/python bench/upload_to_finished.py --repeat 5 --json upload.json

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), Redis on 127.0.0.1:6379, Java and the
real data (``../shared/movie101v2`` or ``$MOVIE101V2_DATA``). Sends nothing but to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.movie101v2 import read_split  # noqa: E402
from tests.support.data import movie101v2_root, start_procfile_process, stop_process_group  # noqa: E402

VENV_BIN = Path(sys.executable).parent
CHALLENGE, PHASE = "movie101v2", "test"
LANGUAGES = ("en", "zh")
KEPT_ENV = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "JAVA_HOME")
GOAL_SECONDS = 5.0
UPLOADS_PER_RUN = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(args: argparse.Namespace, database_url: str, var_dir: Path, port: int) -> dict:
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    # EVALUATION_* and WORKER_* pass through: what a deployment would set for the worker.
    env.update({name: value for name, value in os.environ.items() if name.startswith(("EVALUATION_", "WORKER_"))})
    env.update(
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        DJANGO_SETTINGS_MODULE="leaderboard.settings",
        PYTHONPATH=str(ROOT),
        DEBUG="0",
        SECRET_KEY="bench-upload-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        REDIS_URL=args.redis,
        VAR_DIR=str(var_dir),
        PORT=str(port),
        WEB_CONCURRENCY=str(args.web_concurrency),
        CELERY_BEAT_SCHEDULE_FILENAME=str(var_dir / "celerybeat-schedule"),
    )
    if args.worker_concurrency:
        env["WORKER_CONCURRENCY"] = str(args.worker_concurrency)
    return env


def manage(env: dict, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def make_teams(count: int) -> list[str]:
    """In a child process with the scratch environment: ``count`` verified accounts with a team and a token each."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from leaderboard.accounts.services import mark_verified
    from leaderboard.teams.services import create_team

    tokens = []
    for number in range(count):
        user = get_user_model().objects.create_user(f"upload-{number:03d}", f"upload-{number:03d}@example.org", None)
        mark_verified(user)
        create_team(user, f"Upload team {number:03d}")
        tokens.append(Token.objects.create(user=user).key)
    return tokens


def child(env: dict, *args: str):
    completed = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- processes -------------------------------------------------------------------------------------


def wait_for(condition, what: str, process: subprocess.Popen, log_path: Path, bound: float = 180) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what}: the process exited {process.returncode}:\n{log_path.read_text()[-3000:]}")
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not happen within {bound} s:\n{log_path.read_text()[-3000:]}")


def web_up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def descendants(pid: int) -> list[int]:
    found = []
    for child_pid in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found.append(int(child_pid))
        found.extend(descendants(int(child_pid)))
    return found


def pool_processes(shell_pid: int) -> dict[int, int]:
    """The worker's pool processes (the Celery processes whose parent is one too), pid -> peak RSS in KiB."""
    celery = {}
    for pid in [shell_pid, *descendants(shell_pid)]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        fields = {key: value.split() for key, value in (line.split(":", 1) for line in status.splitlines())}
        # The Procfile's line runs under ``sh -c``, whose command line names celery too.
        if b"celery" in command and not command.startswith((b"sh\0", b"java", b"/usr/bin/java")):
            celery[pid] = (int(fields["PPid"][0]), int(fields.get("VmHWM", ["0"])[0]))
    return {pid: peak for pid, (parent, peak) in celery.items() if parent in celery}


# -- uploads ---------------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    language: str
    total: float
    queue_wait: float
    running: float
    client: float


def predictions_file(references: dict[str, str], shift: int) -> bytes:
    ids = sorted(references)
    shifted = {clip: references[ids[(index - shift) % len(ids)]] for index, clip in enumerate(ids)}
    return json.dumps(shifted, ensure_ascii=False).encode()


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def upload_and_wait(base: str, token: str, language: str, data: bytes, label: str, bound: float = 600) -> Timing:
    headers = {"Authorization": f"Token {token}"}
    sent = time.monotonic()
    response = requests.post(
        f"{base}/api/v1/challenges/{CHALLENGE}/phases/{PHASE}/submissions/",
        headers=headers,
        data={"language": language, "public": "true", "method_name": f"bench {label}"},
        files={"predictions": (f"test-{language}.json", data)},
        timeout=300,
    )
    if response.status_code != 201:
        raise SystemExit(f"{label}: upload answered {response.status_code}: {response.text[:500]}")
    submission_id = response.json()["id"]
    deadline = time.monotonic() + bound
    body = {"status": "unknown"}
    while time.monotonic() < deadline:
        try:
            body = requests.get(f"{base}/api/v1/submissions/{submission_id}/", headers=headers, timeout=30).json()
        except requests.RequestException:  # a web process too busy to answer in time: ask again
            continue
        if body["status"] in ("finished", "failed", "cancelled"):
            break
        time.sleep(0.05)
    client = time.monotonic() - sent
    if body["status"] != "finished":
        raise SystemExit(f"{label}: submission {submission_id} is {body['status']}: {body.get('error')}")
    created, started, finished = (parse_time(body[name]) for name in ("created_at", "started_at", "finished_at"))
    return Timing(
        label,
        language,
        total=(finished - created).total_seconds(),
        queue_wait=(started - created).total_seconds(),
        running=(finished - started).total_seconds(),
        client=client,
    )


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def figure(name: str, timings: list[Timing], note: str) -> dict:
    values = [timing.total for timing in timings]
    return {
        "figure": name,
        "unit": "s",
        "higher_is_better": False,
        "project": values,
        "baseline_name": None,
        "baseline": None,
        "goal": f"≤ {GOAL_SECONDS:g} s median",
        "goal_met": statistics.median(values) <= GOAL_SECONDS,
        "identical": None,
        "note": note,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs: each starts a fresh worker and uploads 3 files")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/run_all.py's convention)")
    parser.add_argument("--data", type=Path, default=None, help="the Movie101v2 release (default: as tests find it)")
    parser.add_argument("--web-concurrency", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=0, help="default: the Procfile's")
    parser.add_argument("--database", default="bench_upload")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="server, without a database")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="a scratch Redis database (flushed)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the scratch folder")
    parser.add_argument("--make-teams", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.make_teams is not None:
        print(json.dumps(make_teams(args.make_teams)))
        return 0
    data_root = args.data or movie101v2_root()
    if data_root is None:
        raise SystemExit("the Movie101v2 data is not found: pass --data or set MOVIE101V2_DATA")

    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{args.database}"')
    redis.Redis.from_url(args.redis).flushdb()
    scratch = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(args, f"{args.postgres}/{args.database}", scratch / "var", port)
    references = {language: read_split(data_root, PHASE, language) for language in LANGUAGES}
    web = None
    first: list[Timing] = []
    warm: dict[str, list[Timing]] = {language: [] for language in LANGUAGES}
    starts: list[float] = []
    peaks: list[int] = []
    recycled = 0
    tasks = 0
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput", "-v0")
        manage(env, "import_movie101v2", str(data_root))
        tokens = iter(child(env, "--make-teams", str(args.repeat * UPLOADS_PER_RUN)))
        web_log = scratch / "web.log"
        web = start_procfile_process(env, "web", web_log)
        wait_for(lambda: web_up(base), "the web answering /healthz", web, web_log)
        print(
            f"{len(references['en']):,} clips a file; {args.repeat} runs, each: a fresh worker "
            f"(WORKER_CONCURRENCY={env.get('WORKER_CONCURRENCY', 'Procfile default')}), its first upload, then en, zh"
        )
        shift = 0
        for run in range(args.repeat):
            log_path = scratch / f"worker-{run}.log"
            started = time.monotonic()
            worker = start_procfile_process(env, "worker", log_path)
            try:
                wait_for(lambda: " ready." in log_path.read_text(), "the worker's ready", worker, log_path)  # noqa: B023
                starts.append(time.monotonic() - started)
                plan = [("first", LANGUAGES[run % 2]), *(("warm", language) for language in LANGUAGES)]
                pool_before = pool_processes(worker.pid)
                for kind, language in plan:
                    shift += 1
                    timing = upload_and_wait(
                        base, next(tokens), language, predictions_file(references[language], shift), f"{kind} {run}"
                    )
                    (first if kind == "first" else warm[language]).append(timing)
                    pool_after = pool_processes(worker.pid)
                    tasks += 1
                    recycled += len(set(pool_before) - set(pool_after))
                    peaks.extend(pool_after.values())
                    pool_before = pool_after
                    print(
                        f"run {run} {kind:5} {language}: {timing.total:6.2f} s upload → finished "
                        f"(queue wait {timing.queue_wait:.2f} s, running {timing.running:.2f} s; client saw "
                        f"{timing.client:.2f} s); pool peak RSS "
                        + ", ".join(f"{kib / 1024:.0f}" for kib in pool_after.values())
                        + " MiB",
                        flush=True,
                    )
            finally:
                stop_process_group(worker)
    finally:
        if web is not None:
            stop_process_group(web)
        if not args.keep:
            with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        else:
            print(f"kept: database {args.database}, folder {scratch}")

    load = os.getloadavg()
    memory = f"pool peak RSS up to {max(peaks) / 1024:.0f} MiB; {recycled} pool processes replaced in {tasks} tasks"
    print(f"worker start to ready: {summary(starts)}; {memory}; load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for language in LANGUAGES:
        timings = warm[language]
        print(
            f"{language}: upload → finished {summary([t.total for t in timings])}; "
            f"queue wait {summary([t.queue_wait for t in timings])}"
        )
    print(f"first upload after a worker start: {summary([t.total for t in first])}")
    if args.json:
        records = [
            figure(
                f"upload → finished, test split, {language}",
                warm[language],
                f"queue wait {summary([t.queue_wait for t in warm[language]])}; {memory}",
            )
            for language in LANGUAGES
        ]
        records.append(
            figure(
                "upload → finished, test split, first upload after a worker start",
                first,
                f"en and zh alternately, sent when the worker said ready "
                f"(start to ready: {summary(starts)}); queue wait {summary([t.queue_wait for t in first])}",
            )
        )
        args.json.write_text(json.dumps(records, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
