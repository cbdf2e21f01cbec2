"""Score every clip of the real data (46,006: train, val and test) with plain pycocoevalcap and with
``evaluation.score``: time and peak memory.

    .venv/bin/python bench/all_clips.py [--language en] [--repeat 1] [--json PATH] [--data ../shared/movie101v2]

Predictions are the previous clip's reference (plausible, wrong). Each side runs in a fresh Python
process, as a user (or a worker's first task) would: plain pycocoevalcap is the protocol written on
its own classes (tests/support/pycocoevalcap_reference.py) with a new ``Meteor()``; the project is
``evaluation.score`` with cold caches and a new METEOR process. Per run the two sides alternate in
order, and their numbers are checked equal to 1e-9.

Measured in each scoring process, after the annotations are read (both sides read them alike):
wall-clock seconds of the scoring call; the peak RSS of the Python process (``ru_maxrss`` of
RUSAGE_SELF); the peak RSS of its Java children (PTB tokenizer, METEOR: ``ru_maxrss`` of
RUSAGE_CHILDREN once they have exited). One run takes minutes, so ``--repeat`` defaults to 1.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.movie101v2 import SPLITS, read_split  # noqa: E402
from tests.support.data import movie101v2_root, shifted_predictions  # noqa: E402

SIDES = ("baseline", "project")
BASELINE_NAME = "plain pycocoevalcap"
TOLERANCE = 1e-9
GIB_IN_MIB = 1024


def all_clips(data: Path, language: str) -> dict[str, str]:
    references: dict[str, str] = {}
    for split in SPLITS:
        references.update(read_split(data, split, language))
    return references


def score_in_this_process(side: str, data: Path, language: str) -> dict:
    """One side's scoring of every clip; its metrics, seconds and peak memory."""
    references = all_clips(data, language)
    predictions = shifted_predictions(references)
    started = time.perf_counter()
    if side == "baseline":
        from pycocoevalcap.meteor.meteor import Meteor

        from tests.support.pycocoevalcap_reference import direct_pycocoevalcap

        meteor = Meteor()
        metrics = direct_pycocoevalcap(references, predictions, language, meteor)
        seconds = time.perf_counter() - started
        meteor.__del__()  # its only way to stop the process and wait for it (RUSAGE_CHILDREN counts it then)
    else:
        import evaluation
        from evaluation.meteor import shared_meteor

        metrics = dict(evaluation.score(references, predictions, language).metrics)
        seconds = time.perf_counter() - started
        shared_meteor().close()  # waited for, so that RUSAGE_CHILDREN counts it
    print(f"{side}: {seconds:.1f} s", flush=True)
    return {
        "clips": len(references),
        "metrics": metrics,
        "seconds": seconds,
        "python_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "java_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_side(side: str, data: Path, language: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "side.json"
        command = [sys.executable, __file__, "--side", side, "--out", str(out), "--data", str(data)]
        subprocess.run([*command, "--language", language], check=True, cwd=ROOT)
        return json.loads(out.read_text())


def identical(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(abs(first[name] - second[name]) <= TOLERANCE for name in first)


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def figures(language: str, clips: int, runs: list[dict], all_identical: bool) -> list[dict]:
    def column(side, field):
        return [run[side][field] for run in runs]

    def record(figure, unit, field, goal, goal_met, note, compared=True):
        return {
            "figure": f"all {clips:,} clips, {language}, {figure}",
            "unit": unit,
            "higher_is_better": False,
            "project": column("project", field),
            "baseline_name": BASELINE_NAME,
            "baseline": column("baseline", field),
            "goal": goal,
            "goal_met": goal_met,
            "identical": all_identical if compared else None,
            "note": note,
        }

    seconds = statistics.median(column("project", "seconds")), statistics.median(column("baseline", "seconds"))
    python_peak = statistics.median(column("project", "python_mib"))
    return [
        record(
            "time",
            "s",
            "seconds",
            "≤ half the time of the baseline",
            seconds[0] <= seconds[1] / 2,
            "fresh process per side, cold METEOR and caches; scoring call only, annotations read before",
        ),
        record(
            "peak memory",
            "MiB",
            "python_mib",
            "≤ 1 GB",
            python_peak <= GIB_IN_MIB,
            "peak RSS of the scoring Python process (ru_maxrss); Java children in the next figure",
        ),
        record(
            "Java peak memory",
            "MiB",
            "java_mib",
            "none (reported beside the Python peak)",
            None,
            "largest peak RSS of the Java children (PTB tokenizer, METEOR), RUSAGE_CHILDREN",
            compared=False,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="the Movie101v2 folder (default ../shared/movie101v2)")
    parser.add_argument("--language", choices=("en", "zh"), default="en")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the figure records here")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.data or movie101v2_root()
    if data is None:
        parser.error("no Movie101v2 data: pass --data or set MOVIE101V2_DATA")
    if args.side:
        args.out.write_text(json.dumps(score_in_this_process(args.side, data, args.language)))
        return

    print(f"all clips, {args.language}, {args.repeat} run(s); load {os.getloadavg()[0]:.1f}", flush=True)
    runs = []
    for run in range(args.repeat):
        order = SIDES if run % 2 == 0 else SIDES[::-1]
        results = {side: run_side(side, data, args.language) for side in order}
        same = identical(results["baseline"]["metrics"], results["project"]["metrics"])
        runs.append({**results, "identical": same})
        for side in SIDES:
            r = results[side]
            print(
                f"run {run + 1} {side:8}: {r['seconds']:7.1f} s, Python peak {r['python_mib']:6.0f} MiB, "
                f"Java peak {r['java_mib']:6.0f} MiB",
                flush=True,
            )
        print(f"run {run + 1}: numbers identical to {TOLERANCE}: {same}; load {os.getloadavg()[0]:.1f}", flush=True)
        if not same:
            print(json.dumps({side: results[side]["metrics"] for side in SIDES}, indent=1), flush=True)
    clips = runs[0]["project"]["clips"]
    records = figures(args.language, clips, runs, all(run["identical"] for run in runs))
    for record in records:
        baseline = summary(record["baseline"])
        project = summary(record["project"])
        print(f"{record['figure']}: {BASELINE_NAME} {baseline} {record['unit']}, project {project} {record['unit']}")
    if args.json:
        args.json.write_text(json.dumps(records, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
