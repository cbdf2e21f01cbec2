"""Bootstrap intervals on the full real test split: how long they take and how wide they are.

    .venv/bin/python bench/intervals.py [--data ../shared/movie101v2] [--resamples 1000] [--repeat 5]

Predictions are the previous clip's reference (``tests.support.data.shifted_predictions``:
plausible, wrong). Per language it scores the split once, then reports:

* the size of the per-clip statistics as compact JSON (what a result stores);
* the time to compute the interval of every classic metric (resample counts and all seven
  metrics on every resample), median of --repeat runs, by clip and by movie;
* the time of one paired p-value (two entries, one metric);
* each metric's value, its interval and width by clip and by movie, and the ratio of the widths.
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

import evaluation  # noqa: E402
from evaluation.intervals import BootstrapMethod, intervals, paired_p_value, units  # noqa: E402
from evaluation.metrics import CLASSIC_METRICS  # noqa: E402
from evaluation.movie101v2 import read_split  # noqa: E402
from tests.support.data import movie101v2_root, shifted_predictions  # noqa: E402


def median_seconds(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=movie101v2_root())
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.data is None:
        parser.error("no Movie101v2 annotations found: pass --data or set MOVIE101V2_DATA")

    print(f"python {platform.python_version()}, numpy {__import__('numpy').__version__}, {platform.machine()}")
    for language in ("en", "zh"):
        references = read_split(args.data, "test", language)
        predictions = shifted_predictions(references)
        result = evaluation.score(references, predictions, language)
        stats = result.stats
        payload = stats.to_json().encode("utf-8")
        movies = len(units(stats.clip_ids, "movie"))
        print(
            f"\n== {language}: {stats.clips:,} clips, {movies} movies; "
            f"statistics {len(payload):,} bytes of JSON; classic scoring {result.duration_seconds:.1f} s"
        )
        found = {}
        for unit in ("clip", "movie"):
            method = BootstrapMethod(unit=unit, resamples=args.resamples)
            seconds = median_seconds(lambda method=method, stats=stats: intervals(stats, method), args.repeat)
            found[unit] = intervals(stats, method)
            p_seconds = median_seconds(
                lambda method=method, stats=stats: paired_p_value(stats, stats, "bleu_4", method), args.repeat
            )
            print(
                f"by {unit:<5}: every classic metric's interval in {seconds * 1000:.0f} ms "
                f"({args.resamples:,} resamples, seed {method.seed}); one paired p-value {p_seconds * 1000:.0f} ms"
            )
        print(
            f"{'metric':<8} {'value':>8} {'clip interval':>20} {'width':>8} {'movie interval':>20} {'width':>8} ratio"
        )
        for name in CLASSIC_METRICS:
            (clip_low, clip_high), (movie_low, movie_high) = found["clip"][name], found["movie"][name]
            clip_width, movie_width = clip_high - clip_low, movie_high - movie_low
            print(
                f"{name:<8} {result.metrics[name]:8.4f} [{clip_low:8.4f}, {clip_high:8.4f}] {clip_width:8.4f} "
                f"[{movie_low:8.4f}, {movie_high:8.4f}] {movie_width:8.4f} {movie_width / clip_width:5.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
