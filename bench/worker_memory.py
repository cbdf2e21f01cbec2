"""Peak memory of a Celery pool process scoring the full real test split, per language.

    .venv/bin/python bench/worker_memory.py [--data ../shared/movie101v2]

Fresh ``celery worker`` processes as the Procfile's ``worker`` and ``judge`` (one pool process
each) score and judge submissions of the 2,227 test clips (predictions = the previous clip's
reference) uploaded through ``intake.submit``, on a throw-away SQLite database and folder broker,
with the tests' loopback judge (tests/support/judge_server.py). Reported from /proc/<pid>/status: each pool
process's VmHWM (peak RSS), idle and after each submission — the number Celery's
``worker_max_memory_per_child`` compares (billiard reads the process's own
``getrusage(RUSAGE_SELF).ru_maxrss`` after each task) — and, for reference, the METEOR Java
process's, a separate process that limit never counts.
Results are recorded in docs/benchmarks.md; the default of WORKER_MAX_MEMORY_PER_CHILD follows them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "movie101v2")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="worker-memory-"))
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    # No recycling while measuring: the limit under test must not cut the peak short.
    os.environ.update(
        VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="leaderboard.settings",
        WORKER_MAX_MEMORY_PER_CHILD="0",
        LOG_LEVEL="INFO",
    )

    import django

    django.setup()
    from django.core.management import call_command

    from evaluation.movie101v2 import read_split
    from leaderboard.challenges.models import Phase
    from leaderboard.judging.models import JudgeRun
    from leaderboard.submissions import intake
    from leaderboard.submissions.models import Submission
    from tests.support.data import shifted_predictions
    from tests.support.judge_server import FakeJudge
    from tests.support.judging import set_judge
    from tests.support.service import make_participant

    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("import_movie101v2", str(args.data), stdout=quiet)
    phase = Phase.objects.get(challenge__slug="movie101v2", slug="test")
    files = {
        language: json.dumps(shifted_predictions(read_split(args.data, "test", language)), ensure_ascii=False).encode()
        for language in ("en", "zh")
    }

    rows = []
    with FakeJudge() as judge:
        set_judge(phase, base_url=judge.base_url, model="fake-judge-bench")
        # One language per fresh process, then both twice in one process: does the peak creep up?
        for run, languages in enumerate((["en"], ["zh"], ["en", "zh", "en", "zh"])):
            user = make_participant(f"bench{run}", f"Bench {run}")  # a team's limits allow a few a day
            workers = {
                queues: start_worker(queues, var_dir / f"worker-{run}-{queues}.log")
                for queues in ("classic,rescore", "judge")
            }
            try:
                time.sleep(10)  # let METEOR finish loading, so the first number is the idle pool process
                pools = {queues: pool_of(worker) for queues, worker in workers.items()}
                peaks = {queues: [status_kib(pool, "VmHWM")] for queues, pool in pools.items()}
                for language in languages:
                    submission = intake.submit(user=user, phase=phase, language=language, data=files[language])
                    deadline = time.monotonic() + 900
                    while not JudgeRun.objects.filter(submission=submission, status="complete").exists():
                        status = Submission.objects.get(pk=submission.pk).status
                        assert status != "failed", Submission.objects.get(pk=submission.pk).error
                        assert time.monotonic() < deadline, "not judged within 15 minutes"
                        time.sleep(0.5)
                    for queues, pool in pools.items():
                        assert pool_of(workers[queues]) == pool, "the pool process was replaced"
                        peaks[queues].append(status_kib(pool, "VmHWM"))
                java = max((status_kib(child, "VmHWM") for child in children(pools["classic,rescore"])), default=0)
                rows.append((", ".join(languages), peaks, java))
            finally:
                for worker in workers.values():
                    worker.terminate()
                for worker in workers.values():
                    try:
                        worker.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        os.killpg(worker.pid, signal.SIGKILL)
                        worker.wait()

    shutil.rmtree(var_dir)
    print("Peak RSS (VmHWM, MiB) of the pool process, idle and then after each submission, classic and judge;")
    print("the METEOR Java process of the classic pool process at the end.\n")
    print("| submissions, in order | classic pool process | judge pool process | METEOR (Java) |")
    print("|---|---|---|---|")
    for languages, peaks, java in rows:
        classic, judged = (
            " → ".join(f"{peak / 1024:.0f}" for peak in peaks[queues]) for queues in ("classic,rescore", "judge")
        )
        print(f"| {languages} | {classic} | {judged} | {java / 1024:.0f} |")


def start_worker(queues: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "--queues",
                queues,
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
                "--hostname",
                f"{queues}@%h",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while " ready." not in log.read_text():
        if worker.poll() is not None:
            raise SystemExit(log.read_text())
        time.sleep(0.2)
    return worker


def pool_of(worker: subprocess.Popen) -> int:
    (pool,) = children(worker.pid)
    return pool


if __name__ == "__main__":
    main()
