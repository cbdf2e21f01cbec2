"""Board requests per second with the rows stored on write, and what that ranking costs each write.

Creates a scratch PostgreSQL database, migrates it, loads the demo challenge, seeds N finished
public submissions of T teams on the demo ``val`` phase in one language (each with a result
carrying every column of the boards, set current) by bulk inserts, then calls
``leaderboard.boards.services.refresh_boards`` (the ranking each write now pays) and times it.
It then starts the Procfile's ``web`` process (``gunicorn leaderboard.wsgi`` from the project
root, so gunicorn.conf.py applies) with DEBUG off, checks that each target answers 200 with the
expected content, and measures ``/healthz``, the board API and the board page with ``wrk``
(Debian package ``wrk``), printing requests/s and p50/p99 latency; then the API and the page again
as a client revalidating an unchanged board (``If-None-Match`` with their ETag: a 304, no body).

    .venv/bin/python bench/board_requests.py                          # 10,000 submissions, 300 teams
    .venv/bin/python bench/board_requests.py --submissions 100000 --duration 30
    .venv/bin/python bench/board_requests.py --repeat 5 --json figures.json --redis-url redis://127.0.0.1:6379/6

``--repeat N`` runs every wrk measurement N times (the targets take turns within each run) and
``--json PATH`` writes bench/run_all.py's figure records: the board API's and the board page's req/s
per run, with /healthz's in the same runs as the baseline (p99 in the note). With ``--redis-url`` (or
$REDIS_URL) the web processes share the boards generation through Redis, as in production.

The seeded results carry the L1/L2 of a judge configured for the bench (JUDGE_BASE_URL and
JUDGE_MODEL set for every process, pointing at a closed port on 127.0.0.1: never contacted), so
the board judge and the results' judge have one signature and the rows are ranked by the board's
primary metric, as on a judged board. ``--no-judge`` leaves the judge unconfigured instead (the
results' judge empty, the board judge's signature empty: they also compare equal).

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and /usr/bin/wrk. Sends nothing
but to 127.0.0.1. Run by hand; it takes a few minutes. docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PHASE = ("demo", "val")
STAGE = "l1"
BENCH_JUDGE = {"JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "JUDGE_MODEL": "bench-judge"}
TEAM_NAME = "Bench team {:05d}"
#: Kept from the caller's environment; everything else the processes see is set here.
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(database_url: str, var_dir: Path, judge: bool, redis_url: str | None = None) -> dict[str, str]:
    """The service's environment: scratch database and files, DEBUG off, no S3; Redis (the shared cache
    of the boards generation, as in production) when ``redis_url`` is given, else a folder under VAR_DIR."""
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="leaderboard.settings",
        PYTHONPATH=str(ROOT),
    )
    if judge:
        env.update(BENCH_JUDGE)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


# -- seeding (runs in a child process with the scratch environment) ------------------------------


def seed(submissions: int, teams: int, language: str, batch: int, seed_value: int) -> dict:
    """Bulk-insert the teams, submissions and results, then time ``refresh_boards``. Not the product path."""
    import random

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from evaluation.metrics import CLASSIC_METRICS, STAGE_METRICS
    from leaderboard.boards.models import Board, BoardEntry
    from leaderboard.boards.services import refresh_boards
    from leaderboard.challenges.models import Phase
    from leaderboard.judging.setup import judge_setup
    from leaderboard.submissions.models import Result, Status, Submission
    from leaderboard.teams.models import Membership, Team

    phase = Phase.objects.get(challenge__slug=PHASE[0], slug=PHASE[1])
    identity = judge_setup(phase, language).identity
    judge = identity.as_dict() if identity is not None else {}
    columns = {name for board in Board.objects.filter(phase=phase) for name in board.columns}
    rng = random.Random(seed_value)
    now = timezone.now()
    started = time.monotonic()
    with transaction.atomic():
        users = get_user_model().objects.bulk_create(
            [get_user_model()(username=f"bench-{i:05d}", password="!") for i in range(teams)], batch_size=batch
        )
        team_rows = Team.objects.bulk_create(
            [Team(name=TEAM_NAME.format(i), created_by=user) for i, user in enumerate(users)], batch_size=batch
        )
        Membership.objects.bulk_create(
            [Membership(team=team, user=user) for team, user in zip(team_rows, users, strict=True)], batch_size=batch
        )
        skill = [rng.random() for _ in range(teams)]
        # Every team submits at least once; the rest go to random teams.
        owners = list(range(teams)) + [rng.randrange(teams) for _ in range(max(submissions - teams, 0))]
        owners = owners[:submissions]
        for start in range(0, submissions, batch):
            chunk = owners[start : start + batch]
            made = Submission.objects.bulk_create(
                [
                    Submission(
                        phase=phase,
                        team=team_rows[owner],
                        user=users[owner],
                        language=language,
                        predictions_file=f"submissions/demo/val/bench-{start + i:06d}.json",
                        original_filename="predictions.json",
                        file_format="json",
                        method_name=f"Method {owner % 17} v{start + i}",
                        is_public=True,
                        status=Status.FINISHED,
                        attempts=1,
                        started_at=now,
                        finished_at=now,
                    )
                    for i, owner in enumerate(chunk)
                ]
            )
            Result.objects.bulk_create(
                [
                    Result(
                        submission=submission,
                        metrics=metrics(rng, skill[owner], columns, CLASSIC_METRICS, STAGE_METRICS),
                        per_clip={},
                        clips=2227,
                        evaluation_version="bench",
                        protocol="movie101v2-bench",
                        reference_hash="",
                        duration_seconds=12.0,
                        judge=judge,
                    )
                    for submission, owner in zip(made, chunk, strict=True)
                ]
            )
        submission_table, result_table = Submission._meta.db_table, Result._meta.db_table
        with connection.cursor() as cursor:
            # bulk_create stamps every row "now": spread the uploads over the past, one every 2 minutes.
            cursor.execute(f"SELECT max(id) FROM {submission_table}")  # noqa: S608
            top = cursor.fetchone()[0]
            cursor.execute(
                f"UPDATE {submission_table} SET created_at = now() - (%s - id) * interval '2 minutes', "  # noqa: S608
                "finished_at = now() - (%s - id) * interval '2 minutes' + interval '15 seconds' "
                "WHERE phase_id = %s",
                [top, top, phase.pk],
            )
            cursor.execute(
                f"UPDATE {submission_table} s SET current_result_id = r.id FROM {result_table} r "  # noqa: S608
                "WHERE r.submission_id = s.id AND s.phase_id = %s",
                [phase.pk],
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have by then
    seeded_s = time.monotonic() - started

    at = time.monotonic()
    refresh_boards(phase)  # every language of the phase, as a bundle reload does
    first_refresh_s = time.monotonic() - at
    full = []
    for _ in range(3):
        at = time.monotonic()
        refresh_boards(phase.pk, language)  # a bundle reload, the phase admin form, an out-of-date view
        full.append(time.monotonic() - at)
    per_write = []
    team_ids = Team.objects.filter(name__in=[TEAM_NAME.format(i) for i in range(3)]).values_list("pk", flat=True)
    for team_id in team_ids:
        at = time.monotonic()
        # What a stored result, a moderation, a ban or a promotion pays: one team's entries read again.
        refresh_boards(phase.pk, language, team_id=team_id)
        per_write.append(time.monotonic() - at)
    board = Board.objects.get(phase=phase, key=STAGE)
    best = max(
        Result.objects.filter(submission__phase=phase, submission__language=language).values_list("metrics", flat=True),
        key=lambda m: m[board.primary_metric],
    )[board.primary_metric]
    return {
        "seeded_s": seeded_s,
        "refresh_phase_s": first_refresh_s,
        "refresh_language_s": full,
        "refresh_team_s": per_write,
        "entries": BoardEntry.objects.filter(board__phase=phase, language=language).count(),
        "judge_signature": judge.get("signature", ""),
        "primary_metric": board.primary_metric,
        "best_primary": best,
    }


def metrics(rng, skill: float, columns: set[str], classic: tuple, stage: tuple) -> dict[str, float]:
    """Plausible split-level numbers: a team's skill plus each submission's noise, on each metric's scale."""
    q = min(max(0.75 * skill + 0.25 * rng.random(), 0.0), 1.0)

    def around(low: float, high: float, noise: float) -> float:
        return round(min(max(low + (high - low) * q + rng.gauss(0, noise), 0.0), 1e9), 6)

    values = {
        "bleu_1": around(0.14, 0.34, 0.01),
        "meteor": around(0.07, 0.17, 0.005),
        "rouge_l": around(0.15, 0.30, 0.008),
        "cider": around(0.05, 0.65, 0.03),
        "l1_environment": min(around(0.9, 3.9, 0.12), 5.0),
        "l1_character": min(around(0.7, 3.6, 0.15), 5.0),
        "l2": min(around(0.8, 3.5, 0.15), 5.0),
    }
    values["bleu_2"] = round(values["bleu_1"] * rng.uniform(0.42, 0.5), 6)
    values["bleu_3"] = round(values["bleu_2"] * rng.uniform(0.38, 0.46), 6)
    values["bleu_4"] = round(values["bleu_3"] * rng.uniform(0.35, 0.43), 6)
    values["l1"] = round((values["l1_environment"] + values["l1_character"]) / 2, 6)
    missing = (columns - set(values)) | (set(classic + stage) - set(values))
    if missing:
        raise SystemExit(f"no value made for {sorted(missing)}")
    return values


# -- measuring --------------------------------------------------------------------------------------

_LATENCY_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match[1]) * _LATENCY_UNITS[match[2]]


def run_wrk(
    url: str, connections: int, threads: int, duration: float, timeout: float, headers: dict[str, str] | None = None
) -> dict:
    command = [
        "wrk",
        *(option for name, value in (headers or {}).items() for option in ("-H", f"{name}: {value}")),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        f"--timeout={timeout:g}s",
        "--latency",
        url,
    ]
    load_before = os.getloadavg()[0]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode:
        raise SystemExit(f"wrk failed:\n{completed.stdout}\n{completed.stderr}")
    out = completed.stdout
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if "50" not in latency or "99" not in latency or "Requests/sec" not in out:
        raise SystemExit(f"unreadable wrk output:\n{out}\n{completed.stderr}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(re.search(r"^\s+(\d+) requests in", out, re.MULTILINE)[1]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "timeouts": int(errors[4]) if errors else 0,
        "errors": sum(int(n) for n in errors.groups()[:3]) if errors else 0,
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
        "load": (load_before, os.getloadavg()[0]),
        "raw": out,
    }


def check_targets(base: str, teams: int, seeded: dict, language: str) -> dict[str, str]:
    """Each target answers 200 with what it should: the board has every team once, ranked by its primary metric.

    Returns the board API's and the board page's ETags (empty when a target sends none), which
    answer 304 to If-None-Match while the board is unchanged (checked here too)."""
    response = requests.get(f"{base}/healthz", timeout=30)
    if response.status_code != 200 or response.json().get("status") != "ok":
        raise SystemExit(f"/healthz answered {response.status_code}: {response.text[:300]}")

    response = requests.get(f"{base}{api_path(language)}", timeout=120)
    if response.status_code != 200:
        raise SystemExit(f"board API answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    api_etag = response.headers.get("ETag", "")
    rows = [row for row in body["rows"] if not row["baseline"]]
    primary = body["primary_metric"]
    values = [row["scores"].get(primary) for row in rows]
    problems = []
    if len(rows) != teams or len({row["team"] for row in rows}) != teams:
        problems.append(f"{len(rows)} rows for {teams} teams")
    if body["judge"]["signature"] != seeded["judge_signature"]:
        problems.append(f"board judge {body['judge']['signature']!r}, results' {seeded['judge_signature']!r}")
    if any(row["rank"] is None or row["other_judge"] for row in rows):
        problems.append("rows without a rank, or flagged as judged by another configuration")
    if None in values or values != sorted(values, reverse=True) or rows[0]["rank"] != 1:
        problems.append(f"rows not ranked by {primary}")
    elif abs(values[0] - seeded["best_primary"]) > 1e-9:
        problems.append(f"top {primary} {values[0]} is not the best seeded, {seeded['best_primary']}")
    if problems:
        raise SystemExit("board API: " + "; ".join(problems))

    response = requests.get(f"{base}{page_path(language)}", timeout=120)
    names = set(re.findall(r"Bench team \d{5}", response.text))
    if response.status_code != 200 or len(names) != teams or rows[0]["team"] not in response.text:
        raise SystemExit(f"board page answered {response.status_code} with {len(names)} of {teams} teams")
    etags = {"api": api_etag, "page": response.headers.get("ETag", "")}
    for label, path in (("api", api_path(language)), ("page", page_path(language))):
        if etags[label]:
            again = requests.get(f"{base}{path}", headers={"If-None-Match": etags[label]}, timeout=120)
            if again.status_code != 304 or again.content:
                raise SystemExit(f"{label} answered {again.status_code} to its own ETag, not an empty 304")
    return etags


GOAL_RPS, GOAL_P99_MS = 500.0, 100.0


def figure_records(results: list[tuple[str, str, dict]], submissions: int) -> list[dict]:
    """The bench-all records (bench/run_all.py): each board target's req/s per run against /healthz's in
    the same runs; the goal is met when the medians give ≥ 500 req/s and a p99 ≤ 100 ms."""
    by_label: dict[str, list[dict]] = {}
    for label, _, row in results:
        by_label.setdefault(label, []).append(row)
    healthz = [row["rps"] for row in by_label["/healthz"]]
    size = f"{submissions // 1000}k" if submissions % 1000 == 0 else f"{submissions:,}"
    records = []
    for label, rows in by_label.items():
        if label == "/healthz":
            continue
        rps, p99 = [row["rps"] for row in rows], [row["p99_ms"] for row in rows]
        loads = [value for row in rows for value in row["load"]]
        failed = sum(row["non_2xx"] + row["timeouts"] for row in rows)
        records.append(
            {
                "figure": f"{label}, {size} submissions",
                "unit": "req/s",
                "higher_is_better": True,
                "project": rps,
                "baseline_name": "/healthz on the same server",
                "baseline": healthz,
                "goal": "≥ 500 req/s, p99 ≤ 100 ms",
                "goal_met": statistics.median(rps) >= GOAL_RPS and statistics.median(p99) <= GOAL_P99_MS,
                "identical": None,
                "note": f"p99 median {statistics.median(p99):.1f} ms (runs: {', '.join(f'{v:.0f}' for v in p99)} ms); "
                f"/healthz p99 median {statistics.median(row['p99_ms'] for row in by_label['/healthz']):.1f} ms; "
                f"load 1 min {min(loads):.1f}–{max(loads):.1f}; failed {failed}",
            }
        )
    return records


def api_path(language: str = "en") -> str:
    return f"/api/v1/challenges/{PHASE[0]}/phases/{PHASE[1]}/leaderboards/{language}/{STAGE}/"


def page_path(language: str = "en") -> str:
    return f"/c/{PHASE[0]}/{PHASE[1]}/{language}/{STAGE}/"


def start_gunicorn(env: dict[str, str], log: Path) -> subprocess.Popen:
    # The Procfile's web line, with the venv's gunicorn: `gunicorn leaderboard.wsgi`, from the root.
    handle = log.open("w")
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "leaderboard.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    return process


def wait_ready(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a busy machine
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer /healthz:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the master stops its workers
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=300)
    parser.add_argument("--language", default="en", choices=("en", "zh"))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of an unrecorded wrk run before each")
    parser.add_argument(
        "--wrk-timeout", type=float, default=30.0, help="wrk's per-request timeout (its default is 2 s)"
    )
    parser.add_argument("--web-concurrency", type=int, help="WEB_CONCURRENCY (default: gunicorn.conf.py's, 2)")
    parser.add_argument("--web-threads", type=int, help="WEB_THREADS (default: gunicorn.conf.py's, 4)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="Redis for the web processes (the boards generation), as in production; default $REDIS_URL, "
        "else none (a folder under the scratch VAR_DIR)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each wrk measurement (interleaved)")
    parser.add_argument("--json", type=Path, help="write the figure records (bench/run_all.py) here")
    parser.add_argument("--database", default="bench_boards")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="server, without a database")
    parser.add_argument("--batch", type=int, default=2000, help="rows per bulk insert")
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--no-judge", action="store_true", help="no judge configured; the results' judge empty")
    parser.add_argument("--keep", action="store_true", help="keep the database and the scratch folder")
    parser.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.submissions < args.teams:
        parser.error("--submissions must be at least --teams (each team submits once at least)")

    if args.seed_only:
        print(json.dumps(seed(args.submissions, args.teams, args.language, args.batch, args.seed)))
        return 0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {args.database}")
    scratch = Path(tempfile.mkdtemp(prefix="bench-boards-"))
    env = base_env(
        f"{args.postgres}/{args.database}", scratch / "var", judge=not args.no_judge, redis_url=args.redis_url
    )
    process = None
    try:
        print(f"scratch database {args.database}, files in {scratch}", flush=True)
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput", "-v0")  # DEBUG off: whitenoise's manifest
        manage(env, "load_demo", "--no-user")
        print(f"seeding {args.submissions:,} submissions over {args.teams} teams ({args.language})...", flush=True)
        child = subprocess.run(
            [sys.executable, __file__, "--seed-only", *sys.argv[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode:
            raise SystemExit(f"seeding failed:\n{child.stdout}\n{child.stderr}")
        seeded = json.loads(child.stdout.strip().splitlines()[-1])
        judge_note = (
            "no judge configured (results' judge empty; board judge signature empty)"
            if args.no_judge
            else f"bench judge {BENCH_JUDGE['JUDGE_MODEL']} (never contacted), results judged by it: "
            f"{seeded['judge_signature'][:19]}..."
        )
        print(f"seeded in {seeded['seeded_s']:.1f} s; judge: {judge_note}")
        print(f"stored board entries ({args.language}, all boards): {seeded['entries']}")
        print(
            f"refresh_boards(phase), every language: {seeded['refresh_phase_s']:.2f} s; "
            f"refresh_boards(phase, {args.language!r}) from scratch: "
            + ", ".join(f"{s:.2f}" for s in seeded["refresh_language_s"])
            + f" s (median {statistics.median(seeded['refresh_language_s']):.2f} s); "
            + "per write (one team's entries): "
            + ", ".join(f"{s:.3f}" for s in seeded["refresh_team_s"])
            + " s",
            flush=True,
        )

        port = free_port()
        web_env = dict(env, PORT=str(port))
        if args.web_concurrency:
            web_env["WEB_CONCURRENCY"] = str(args.web_concurrency)
        if args.web_threads:
            web_env["WEB_THREADS"] = str(args.web_threads)
        log = scratch / "gunicorn.log"
        process = start_gunicorn(web_env, log)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, process, log)
        etags = check_targets(base, args.teams, seeded, args.language)
        ranked_before = log.read_text().count(" ranked: ")

        targets = [
            ("/healthz", "/healthz", {}),
            ("board API", api_path(args.language), {}),
            ("board page", page_path(args.language), {}),
        ]
        # A client (or a cache) revalidating its copy of an unchanged board: a 304 without a body.
        if etags["api"]:
            targets.append(("board API, If-None-Match (304)", api_path(args.language), {"If-None-Match": etags["api"]}))
        if etags["page"]:
            targets.append(
                ("board page, If-None-Match (304)", page_path(args.language), {"If-None-Match": etags["page"]})
            )
        results = []
        # The targets take turns within each run, so a change in the machine's load touches them alike.
        for run in range(args.repeat):
            for label, path, headers in targets:
                if args.warmup > 0:
                    run_wrk(base + path, args.connections, args.threads, args.warmup, args.wrk_timeout, headers)
                row = run_wrk(base + path, args.connections, args.threads, args.duration, args.wrk_timeout, headers)
                results.append((label, path, row))
                print(f"  run {run + 1}, {label}: {row['rps']:.1f} req/s, p99 {row['p99_ms']:.1f} ms", flush=True)
        ranked_by_views = log.read_text().count(" ranked: ") - ranked_before

        workers = args.web_concurrency or "2 (gunicorn.conf.py)"
        threads = args.web_threads or "4 (gunicorn.conf.py)"
        print(
            f"\n{args.submissions:,} submissions, {args.teams} teams, gunicorn workers {workers} × threads {threads}, "
            f"shared generation in {'Redis' if args.redis_url else 'a folder (no Redis)'}, "
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, cores {os.cpu_count()}"
        )
        print("| target | requests/s | p50 (ms) | p99 (ms) | requests | timeouts | errors, non-2xx | load 1 min |")
        print("|---|---|---|---|---|---|---|---|")
        for label, path, row in results:
            print(
                f"| {label} `{path}` | {row['rps']:.1f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
                f"| {row['requests']:,} | {row['timeouts']} | {row['errors']}, {row['non_2xx']} "
                f"| {row['load'][0]:.2f} → {row['load'][1]:.2f} |"
            )
        print(f"board rankings done by the views while measuring: {ranked_by_views} (expected 0)")
        if args.json:
            args.json.write_text(json.dumps(figure_records(results, args.submissions), indent=2) + "\n")
            print(f"figures written to {args.json}")
        if args.keep:
            print(f"gunicorn log: {log}; database {args.database} kept")
        if any(row["non_2xx"] or row["timeouts"] for _, _, row in results):
            print("some requests failed: see the table", file=sys.stderr)
            return 1
        return 0
    finally:
        if process is not None:
            stop(process)
        if not args.keep:
            with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
