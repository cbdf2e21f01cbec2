"""Time the classic metrics on the full real test split: ``evaluation`` against plain pycocoevalcap.

    .venv/bin/python bench/classic_vs_pycocoevalcap.py [--data ../shared/movie101v2] [--repeat 3]

Predictions are the previous clip's reference (plausible, wrong). Reported per language, median of
--repeat runs, wall-clock seconds:

* pycocoevalcap: the protocol on pycocoevalcap's own classes, a new ``Meteor()`` per run (how
  the library is normally used, Java start-up included);
* evaluation, cold: a new METEOR process per run, as the first submission a worker scores;
* evaluation, warm: the worker's steady state, METEOR already running.

Each run also checks that the two give the same numbers (to 1e-9).
Results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pycocoevalcap.meteor.meteor import Meteor as UpstreamMeteor  # noqa: E402

import evaluation  # noqa: E402
from evaluation.meteor import Meteor  # noqa: E402
from evaluation.movie101v2 import read_split  # noqa: E402
from tests.support.pycocoevalcap_reference import direct_pycocoevalcap  # noqa: E402


def shifted(references: dict[str, str]) -> dict[str, str]:
    ids = sorted(references)
    return {clip_id: references[ids[index - 1]] for index, clip_id in enumerate(ids)}


def timed(function) -> tuple[float, dict]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def upstream(references, predictions, language):
    meteor = UpstreamMeteor()
    try:
        return direct_pycocoevalcap(references, predictions, language, meteor)
    finally:
        meteor.meteor_p.kill()
        meteor.meteor_p.wait()


def ours_cold(references, predictions, language):
    meteor = Meteor()
    try:
        return evaluation.score(references, predictions, language, meteor=meteor).metrics
    finally:
        meteor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "movie101v2")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    warm = Meteor()
    warm.start()
    print(
        f"machine: {platform.machine()}, {platform.python_version()}, {evaluation.versions.classic_versions()['java']}"
    )
    print("| language | clips | pycocoevalcap (s) | evaluation, cold (s) | evaluation, warm (s) |")
    print("|---|---|---|---|---|")
    for language in ("en", "zh"):
        references = read_split(args.data, "test", language)
        predictions = shifted(references)
        times = {"upstream": [], "cold": [], "warm": []}
        for _ in range(args.repeat):
            # Each lambda runs at once, inside this iteration, so it sees this iteration's files.
            seconds, theirs = timed(lambda: upstream(references, predictions, language))  # noqa: B023
            times["upstream"].append(seconds)
            seconds, cold = timed(lambda: ours_cold(references, predictions, language))  # noqa: B023
            times["cold"].append(seconds)
            seconds, hot = timed(
                lambda: evaluation.score(references, predictions, language, meteor=warm).metrics  # noqa: B023
            )
            times["warm"].append(seconds)
            for name, value in theirs.items():
                assert abs(cold[name] - value) <= 1e-9 and abs(hot[name] - value) <= 1e-9, name
        medians = {key: statistics.median(values) for key, values in times.items()}
        print(
            f"| {language} | {len(references):,} | {medians['upstream']:.1f} | {medians['cold']:.1f} "
            f"| {medians['warm']:.1f} |"
        )
    warm.close()


if __name__ == "__main__":
    main()
