"""Run every performance bench of issue 13 and write one Markdown table of their figures.

    .venv/bin/python bench/run_all.py                        # every bench, 5 runs each
    .venv/bin/python bench/run_all.py --only classic judge   # some of them
    .venv/bin/python bench/run_all.py --repeat 3 --output /tmp/table.md

Each bench runs as its own process with ``--repeat N --json FILE`` and writes figure records (see
``FIGURE_FIELDS``): the project's number per run and, where there is one, the baseline's number
measured in the same runs. This script adds nothing to the numbers: it takes the median and the
min–max of each side, the ratio of the medians, and prints them under a header naming the machine,
the date, the commit and the load. A bench that fails gets a row saying so, and the others still run.

The table goes to standard output and to ``--output`` (default ``var/bench/performance-<date>.md``,
never committed), each bench's printout and figures to a ``.logs`` folder beside it;
docs/performance.md quotes the latest table. It takes about an hour with the
defaults: the 46k-clip bench alone runs plain pycocoevalcap for minutes per run.

Needs what the benches need: the real annotations (../shared/movie101v2), Java, PostgreSQL on
127.0.0.1:5432, Redis on 127.0.0.1:6379 and wrk. Sends nothing but to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FIGURE_FIELDS = (
    "figure",
    "unit",
    "higher_is_better",
    "project",
    "baseline_name",
    "baseline",
    "goal",
    "goal_met",
    "identical",
    "note",
)


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    arguments: tuple[str, ...] = ()
    # Benches whose single run takes minutes run fewer times than --repeat unless asked.
    max_repeat: int | None = None


BENCHES = (
    Bench("classic", "classic_vs_pycocoevalcap.py", ("--skip-cold",)),
    Bench("all_clips", "all_clips.py", max_repeat=1),
    Bench("boards", "board_requests.py", ("--duration", "10", "--warmup", "2")),
    # 1,000 clips (2,000 requests) a configuration and run: the full split would take 15 minutes at 5 runs.
    Bench(
        "judge",
        "judge_throughput.py",
        ("--latency", "0.2", "--concurrency", "8", "32", "64", "--clips", "1000", "--skip-cache-run"),
    ),
    Bench("upload", "upload_to_finished.py"),
)


@dataclass
class Outcome:
    bench: Bench
    repeat: int
    seconds: float
    records: list[dict] = field(default_factory=list)
    failure: str | None = None


def run_bench(bench: Bench, repeat: int, python: str, log_dir: Path) -> Outcome:
    if bench.max_repeat is not None:
        repeat = min(repeat, bench.max_repeat)
    json_path = log_dir / f"{bench.name}.json"
    log_path = log_dir / f"{bench.name}.log"
    command = [python, str(ROOT / "bench" / bench.script), *bench.arguments, "--repeat", str(repeat)]
    command += ["--json", str(json_path)]
    started = time.perf_counter()
    print(f"$ {' '.join(command)}  (log: {log_path})", file=sys.stderr, flush=True)
    with open(log_path, "wb") as log:
        completed = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    outcome = Outcome(bench, repeat, time.perf_counter() - started)
    if completed.returncode != 0:
        tail = log_path.read_text("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        outcome.failure = f"exit {completed.returncode}: {tail[0][:200]}"
    try:
        outcome.records = [check_record(record) for record in json.loads(json_path.read_text("utf-8"))]
    except (OSError, ValueError) as exc:
        outcome.failure = outcome.failure or f"no figures written ({exc})"
    return outcome


def check_record(record: dict) -> dict:
    missing = [name for name in FIGURE_FIELDS if name not in record]
    if missing:
        raise ValueError(f"figure {record.get('figure')!r} lacks {', '.join(missing)}")
    return record


def median_and_spread(values: list[float] | None) -> str:
    if not values:
        return "—"
    middle = statistics.median(values)
    if len(values) == 1:
        return number(middle)
    return f"{number(middle)} ({number(min(values))}–{number(max(values))})"


def number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(record: dict) -> str:
    """How many times better the project's median is than the baseline's: above 1 means better."""
    if not record["project"] or not record["baseline"]:
        return "—"
    project, baseline = statistics.median(record["project"]), statistics.median(record["baseline"])
    if not project or not baseline:
        return "—"
    value = project / baseline if record["higher_is_better"] else baseline / project
    return f"{value:.2f}×"


def yes_no(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "—"}[value]


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| figure | unit | runs | project, median (min–max) | baseline | baseline, median (min–max) "
        "| better by | goal | met | same numbers | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        for record in outcome.records:
            cells = [
                record["figure"],
                record["unit"] + (" ↑" if record["higher_is_better"] else " ↓"),
                str(len(record["project"])),
                median_and_spread(record["project"]),
                record["baseline_name"] or "—",
                median_and_spread(record["baseline"]),
                ratio(record),
                record["goal"],
                yes_no(record["goal_met"]),
                yes_no(record["identical"]),
                record["note"] or "",
            ]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        if outcome.failure:
            lines.append(
                f"| `bench/{outcome.bench.script}` | | | **failed**: {outcome.failure.replace('|', '/')} "
                "| | | | | | | |"
            )
    return "\n".join(lines)


def git(*arguments: str) -> str:
    completed = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
    return completed.stdout.strip()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown memory"


def java_version() -> str:
    try:
        completed = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    except OSError:
        return "no Java"
    return (completed.stderr.strip().splitlines() or ["unknown Java"])[0]


def header(started: dt.datetime, loads: list[tuple[float, float, float]], outcomes: list[Outcome]) -> str:
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " plus uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    load_text = ", ".join(f"{one:.1f}" for one, _five, _fifteen in loads)
    durations = ", ".join(f"{outcome.bench.name} {outcome.seconds / 60:.1f} min" for outcome in outcomes)
    return "\n".join(
        [
            f"Measured {started:%Y-%m-%d %H:%M} UTC on `{platform.node()}`: {cpu_model()}, "
            f"{os.cpu_count()} cores, {memory_gib()}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {java_version()}.",
            f"Commit `{commit}`{dirty}. One-minute load before and after each bench: {load_text}. Took: {durations}.",
            "",
            "Medians over the runs, min–max in brackets. ↓ lower is better, ↑ higher is better. "
            "\"Better by\" is the baseline's median over the project's for ↓ (the project over the "
            "baseline for ↑): above 1 the project is better. Both sides of a row were measured in the "
            "same runs, so read the ratios; the seconds move with the machine's load.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per bench (≥ 5 for the recorded table)")
    parser.add_argument("--only", nargs="+", choices=[bench.name for bench in BENCHES], help="these benches alone")
    parser.add_argument("--output", type=Path, help="the table's file (default var/bench/performance-<date>.md)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs each bench")
    parser.add_argument(
        "--all-repeats",
        action="store_true",
        help="give --repeat to the slow benches too (the 46k-clip bench otherwise runs once)",
    )
    args = parser.parse_args()

    started = dt.datetime.now(dt.UTC)
    selected = [bench for bench in BENCHES if not args.only or bench.name in args.only]
    if args.all_repeats:
        selected = [Bench(bench.name, bench.script, bench.arguments) for bench in selected]
    outcomes: list[Outcome] = []
    loads = []
    output = args.output or ROOT / "var" / "bench" / f"performance-{started:%Y-%m-%d-%H%M}.md"
    # Each bench's own printout and figures are kept beside the table, to read when a row surprises.
    log_dir = output.with_suffix(".logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    for bench in selected:
        loads.append(os.getloadavg())
        outcomes.append(run_bench(bench, args.repeat, args.python, log_dir))
        loads.append(os.getloadavg())
        print(table(outcomes[-1:]), file=sys.stderr, flush=True)

    document = f"{header(started, loads, outcomes)}\n\n{table(outcomes)}\n"
    output.write_text(document, "utf-8")
    print(document)
    print(f"written to {output}", file=sys.stderr)
    return 1 if any(outcome.failure for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
