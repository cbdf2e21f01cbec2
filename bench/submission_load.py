"""Many teams uploading at once: every valid file finishes exactly once, every invalid one gets its error.

Creates a scratch PostgreSQL database and uses a scratch Redis database, migrates, loads the demo
challenge, and makes T teams of one verified account each, with an API token. It then starts the
Procfile's ``web``, ``worker`` and ``beat`` processes as production runs them (DEBUG off, throttles on,
the sweep on its schedule) and has every team upload at once through the API: S submissions to the
demo's ``val`` phase, shuffled, a mix of valid files in both languages and refused files from the
hostile corpus (tests/support/hostile.py). Then it waits until no submission is left waiting or
running, and checks:

- each valid upload answered 201 and its submission finished, with exactly one result holding every
  classic metric over the split's clips;
- each invalid upload answered 400 with the corpus' problem code and message, and left nothing behind:
  the database holds the valid submissions and no other, and the upload folder no other file;
- no submission is left in a non-final state.

It prints the throughput (finished submissions per minute, from the first upload to the last finish),
the median and p95 time from upload to finished (the server's own timestamps) and the upload answers'
latency. The exit status is 1 when a check fails.

    .venv/bin/python bench/submission_load.py                       # 50 teams, 200 submissions
    .venv/bin/python bench/submission_load.py --teams 20 --submissions 60 --worker-concurrency 1

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), Redis on 127.0.0.1:6379 and Java (for
METEOR). Sends nothing but to 127.0.0.1. Run by hand; it takes a few minutes. docs/reliability.md
records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.data import start_procfile_process, stop_process_group  # noqa: E402
from tests.support.hostile import LARGE, REFUSED, Hostile  # noqa: E402

VENV_BIN = Path(sys.executable).parent
CHALLENGE, PHASE = "demo", "val"
LANGUAGES = ("en", "zh")
#: Kept from the caller's environment; everything else the processes see is set here.
KEPT_ENV = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "JAVA_HOME")
#: The Procfile's processes this run needs: no judge is configured, so no judge worker.
PROCESSES = ("web", "worker", "beat")
FINAL = ("finished", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(args: argparse.Namespace, database_url: str, redis_url: str, var_dir: Path, port: int) -> dict:
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    env.update(
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        DJANGO_SETTINGS_MODULE="leaderboard.settings",
        PYTHONPATH=str(ROOT),
        DEBUG="0",
        SECRET_KEY="bench-load-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        VAR_DIR=str(var_dir),
        PORT=str(port),
        WEB_CONCURRENCY=str(args.web_concurrency),
        WORKER_CONCURRENCY=str(args.worker_concurrency),
        CELERY_BEAT_SCHEDULE_FILENAME=str(var_dir / "celerybeat-schedule"),
    )
    return env


def manage(env: dict, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


# -- in child processes with the scratch environment (Django set up there, not here) ------------------


def make_teams(teams: int) -> dict:
    """T verified accounts, each with a team and a token, as an operator's scripts would make them."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from leaderboard.accounts.services import mark_verified
    from leaderboard.challenges.models import Phase
    from leaderboard.teams.services import create_team

    tokens = {}
    for number in range(teams):
        user = get_user_model().objects.create_user(f"load-{number:03d}", f"load-{number:03d}@example.org", None)
        mark_verified(user)
        create_team(user, f"Load team {number:03d}")
        tokens[user.username] = Token.objects.create(user=user).key
    phase = Phase.objects.get(challenge__slug=CHALLENGE, slug=PHASE)
    return {"tokens": tokens, "phase_id": phase.pk}


def stored_state(phase_id: int) -> dict:
    """What the database and the storage hold after the run: the submissions, their results, the files."""
    import django

    django.setup()
    from django.core.files.storage import default_storage
    from django.db.models import Count

    from leaderboard.submissions.models import Result, Submission

    submissions = {
        row["pk"]: row
        for row in Submission.objects.filter(phase_id=phase_id).values("pk", "status", "team__name", "attempts")
    }
    results = dict(
        Result.objects.filter(submission__phase_id=phase_id)
        .values("submission")
        .annotate(count=Count("pk"))
        .values_list("submission", "count")
    )
    stored = []
    folder = f"submissions/{CHALLENGE}/{PHASE}"

    def walk(path: str) -> None:
        directories, files = default_storage.listdir(path)
        stored.extend(f"{path}/{name}" for name in files)
        for directory in directories:
            walk(f"{path}/{directory}")

    if default_storage.exists(folder):
        walk(folder)
    return {"submissions": submissions, "results": results, "files": len(stored)}


# -- the uploads -----------------------------------------------------------------------------------


@dataclass
class Upload:
    team: str
    token: str
    language: str
    filename: str
    data: bytes
    #: None for a valid file; the corpus case it is otherwise.
    case: Hostile | None = None
    status: int = 0
    answer: dict = field(default_factory=dict)
    sent_at: float = 0.0
    seconds: float = 0.0

    @property
    def valid(self) -> bool:
        return self.case is None


def valid_file(rng: random.Random, narrations: dict[str, list[str]], ids: list[str], language: str) -> bytes:
    """A plausible file: for each clip, a narration of the split drawn at random (so no two are alike)."""
    pool = narrations[language]
    return json.dumps({clip: rng.choice(pool) for clip in ids}, ensure_ascii=False).encode()


def plan(args, tokens: dict[str, str], references: dict[str, dict[str, str]]) -> list[list[Upload]]:
    """Each team's uploads: S in all, about a quarter refused files, the valid ones in both languages."""
    rng = random.Random(args.seed)
    cases = [case for case in REFUSED if case.name not in LARGE]
    ids = {language: sorted(references[language]) for language in LANGUAGES}
    pool = {language: list(references[language].values()) for language in LANGUAGES}
    uploads = []
    for number in range(args.submissions):
        team = sorted(tokens)[number % len(tokens)]
        language = LANGUAGES[(number - number // 4) % 2]  # the valid ones alternate
        if number % 4 == 3:
            case = cases[(number // 4) % len(cases)]
            # The corpus is written for the zh validation split: its files name its ids.
            upload = Upload(team, tokens[team], "zh", case.filename, case.build(ids["zh"]), case)
        else:
            upload = Upload(
                team, tokens[team], language, "predictions.json", valid_file(rng, pool, ids[language], language)
            )
        uploads.append(upload)
    by_team: dict[str, list[Upload]] = {}
    for upload in uploads:
        by_team.setdefault(upload.team, []).append(upload)
    for team_uploads in by_team.values():
        rng.shuffle(team_uploads)
    return list(by_team.values())


def send(base: str, upload: Upload) -> None:
    upload.sent_at = time.monotonic()
    response = requests.post(
        f"{base}/api/v1/challenges/{CHALLENGE}/phases/{PHASE}/submissions/",
        headers={"Authorization": f"Token {upload.token}"},
        data={"language": upload.language, "public": "true", "method_name": "load"},
        files={"predictions": (upload.filename, upload.data)},
        timeout=300,
    )
    upload.seconds = time.monotonic() - upload.sent_at
    upload.status = response.status_code
    try:
        upload.answer = response.json()
    except ValueError:
        upload.answer = {"unreadable": response.text[:300]}


def refused_as_expected(upload: Upload) -> bool:
    case = upload.case
    code, expected = ("invalid_field", case.field_error) if case.field_error else (case.code, case.expected)
    return upload.status == 400 and any(
        error.get("code") == code and expected in error.get("message", "") for error in upload.answer.get("errors", [])
    )


def wait_for_final(base: str, uploads: list[Upload], bound: float) -> dict[int, dict]:
    """Poll every accepted submission until each is final, or ``bound`` seconds pass; the last answers."""
    pending = {upload.answer["id"]: upload for upload in uploads if upload.status == 201}
    seen: dict[int, dict] = {}
    deadline = time.monotonic() + bound
    while pending and time.monotonic() < deadline:
        for submission_id, upload in list(pending.items()):
            body = requests.get(
                f"{base}/api/v1/submissions/{submission_id}/",
                headers={"Authorization": f"Token {upload.token}"},
                timeout=30,
            ).json()
            seen[submission_id] = body
            if body["status"] in FINAL:
                del pending[submission_id]
        time.sleep(1)
    return seen


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the run ---------------------------------------------------------------------------------------


def child(env: dict, *args: str) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def wait_ready(base: str, processes: dict[str, subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        exited = {name: process.returncode for name, process in processes.items() if process.poll() is not None}
        if exited:
            raise SystemExit(f"{exited} exited:\n" + "\n".join((logs / f"{n}.log").read_text()[-2000:] for n in exited))
        try:
            up = requests.get(f"{base}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            up = False
        if up and " ready." in (logs / "worker.log").read_text():
            return
        time.sleep(0.5)
    raise SystemExit("the processes did not come up:\n" + (logs / "worker.log").read_text()[-2000:])


def read_references(language: str) -> dict[str, str]:
    from evaluation.movie101v2 import read_split

    return read_split(ROOT / "demo" / "data", PHASE, language)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--web-concurrency", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--bound", type=float, default=1800, help="seconds to wait for every submission to be final")
    parser.add_argument("--database", default="bench_load")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="server, without a database")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11", help="a scratch Redis database (flushed)")
    parser.add_argument("--seed", type=int, default=1011)
    parser.add_argument("--keep", action="store_true", help="keep the database and the scratch folder")
    parser.add_argument("--make-teams", type=int, help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--stored-state", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_teams is not None:
        print(json.dumps(make_teams(args.make_teams)))
        return 0
    if args.stored_state is not None:
        print(json.dumps(stored_state(args.stored_state)))
        return 0
    if args.submissions < args.teams:
        parser.error("--submissions must be at least --teams")

    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{args.database}"')
    redis.Redis.from_url(args.redis).flushdb()
    scratch = Path(tempfile.mkdtemp(prefix="bench-load-"))
    logs = scratch / "logs"
    logs.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(args, f"{args.postgres}/{args.database}", args.redis, scratch / "var", port)
    processes: dict[str, subprocess.Popen] = {}
    failures: list[str] = []
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput", "-v0")
        manage(env, "load_demo", "--no-user")
        made = child(env, "--make-teams", str(args.teams))
        references = {language: read_references(language) for language in LANGUAGES}
        teams = plan(args, made["tokens"], references)
        uploads = [upload for team in teams for upload in team]
        valid = [upload for upload in uploads if upload.valid]
        print(
            f"{args.teams} teams, {len(uploads)} uploads ({len(valid)} valid: "
            + ", ".join(f"{sum(u.language == lang for u in valid)} {lang}" for lang in LANGUAGES)
            + f"; {len(uploads) - len(valid)} refused files of {len({u.case.name for u in uploads if u.case})} kinds), "
            f"{len(references['en'])} clips a file; web {args.web_concurrency}, worker {args.worker_concurrency}"
        )

        for name in PROCESSES:
            processes[name] = start_procfile_process(env, name, logs / f"{name}.log")
        wait_ready(base, processes, logs)

        # Every team sends its uploads one after another, all teams at once.
        barrier = threading.Barrier(len(teams))

        def team_sends(team_uploads: list[Upload]) -> None:
            barrier.wait()
            for upload in team_uploads:
                send(base, upload)

        started = time.monotonic()
        started_wall = datetime.now().astimezone()
        with ThreadPoolExecutor(max_workers=len(teams)) as pool:
            list(pool.map(team_sends, teams))
        uploaded_in = time.monotonic() - started
        answers = wait_for_final(base, uploads, args.bound)
        all_final_in = time.monotonic() - started

        for upload in uploads:
            label = f"{upload.team} {upload.language} {upload.case.name if upload.case else 'valid'}"
            if upload.valid and upload.status != 201:
                failures.append(f"{label}: answered {upload.status}: {json.dumps(upload.answer)[:300]}")
            elif not upload.valid and not refused_as_expected(upload):
                failures.append(f"{label}: answered {upload.status}: {json.dumps(upload.answer)[:300]}")
        accepted = {upload.answer["id"]: upload for upload in uploads if upload.status == 201}
        state = child(env, "--stored-state", str(made["phase_id"]))
        stored = {int(pk): row for pk, row in state["submissions"].items()}
        results = {int(pk): count for pk, count in state["results"].items()}
        if set(stored) != set(accepted):
            failures.append(
                f"stored submissions {sorted(set(stored) ^ set(accepted))} differ from the accepted uploads"
            )
        # The upload as sent and its parsed form, for each accepted submission.
        if state["files"] != 2 * len(accepted):
            failures.append(f"{state['files']} files stored for {len(accepted)} accepted submissions")
        to_finished = []
        for submission_id, upload in accepted.items():
            body = answers.get(submission_id, {})
            if body.get("status") != "finished":
                failures.append(
                    f"submission {submission_id} ({upload.team}) is {body.get('status')}: {body.get('error')}"
                )
                continue
            if results.get(submission_id) != 1:
                failures.append(f"submission {submission_id} has {results.get(submission_id, 0)} results, not 1")
            scores = body["scores"]
            if body["result"]["clips"] != len(references[upload.language]) or not all(
                isinstance(scores.get(name), float) for name in ("bleu_4", "meteor", "rouge_l", "cider")
            ):
                failures.append(f"submission {submission_id}: incomplete result {json.dumps(body['result'])[:200]}")
            to_finished.append((parse_time(body["finished_at"]) - parse_time(body["created_at"])).total_seconds())
        not_final = [pk for pk, row in stored.items() if row["status"] not in FINAL]
        if not_final:
            failures.append(f"{len(not_final)} submissions left in a non-final state: {not_final[:10]}")

        finished_times = [
            parse_time(answers[pk]["finished_at"]) for pk in accepted if answers.get(pk, {}).get("finished_at")
        ]
        span = (max(finished_times) - started_wall).total_seconds() if finished_times else float("nan")
        upload_seconds = [upload.seconds for upload in uploads]
        print(
            f"uploads answered in {uploaded_in:.1f} s (each: median {statistics.median(upload_seconds):.2f} s, "
            f"p95 {percentile(upload_seconds, 0.95):.2f} s); all final after {all_final_in:.1f} s"
        )
        if to_finished:
            print(
                f"{len(to_finished)} finished, {len(uploads) - len(accepted)} refused as expected "
                f"{sum(1 for u in uploads if not u.valid and refused_as_expected(u))}/{len(uploads) - len(valid)}; "
                f"throughput {60 * len(to_finished) / span:.1f} submissions/min over {span:.1f} s; "
                f"upload to finished: median {statistics.median(to_finished):.1f} s, "
                f"p95 {percentile(to_finished, 0.95):.1f} s, max {max(to_finished):.1f} s"
            )
        print(f"exactly once: {sum(1 for pk in accepted if results.get(pk) == 1)}/{len(accepted)} with one result")
    finally:
        for process in processes.values():
            stop_process_group(process)
        if not args.keep:
            with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        else:
            print(f"kept: database {args.database}, folder {scratch}")
    for failure in failures:
        print("FAILED:", failure)
    print("all checks passed" if not failures else f"{len(failures)} checks failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
