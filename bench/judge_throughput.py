"""Judge throughput on the full real test split against a loopback judge with added latency.

    .venv/bin/python bench/judge_throughput.py [--data ../shared/movie101v2] [--latency 0.2 0.5]
                                               [--concurrency 1 8 32] [--language en]

The judge is tests/support/judge_server.py (a real HTTP server speaking chat completions) answering every
request after ``--latency`` seconds, as a remote endpoint would. For each latency and concurrency it
judges all 2,227 clips (4,454 requests, no cache) and reports wall-clock seconds, requests per
second and the ceiling ``concurrency / latency``; then a second run over a SQLite cache (zero
requests). Results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.judge import JudgeConfig, SqliteJudgeCache, run_judge  # noqa: E402
from evaluation.movie101v2 import read_split  # noqa: E402
from tests.support.judge_server import FakeJudge, expected_stage_metrics  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "movie101v2")
    parser.add_argument("--language", default="en", choices=("zh", "en"))
    parser.add_argument("--latency", type=float, nargs="+", default=[0.2, 0.5])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()

    references = read_split(args.data, "test", args.language)
    ids = sorted(references)
    predictions = {clip_id: references[ids[index - 1]] for index, clip_id in enumerate(ids)}
    expected = expected_stage_metrics(references, predictions, args.language)
    print(
        f"{len(references):,} clips ({args.language}), {2 * len(references):,} requests a run; "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    print("| latency (s) | concurrency | wall (s) | requests/s | ceiling (requests/s) |")
    print("|---|---|---|---|---|")
    for latency in args.latency:
        for concurrency in args.concurrency:
            if concurrency == 1 and latency * 2 * len(references) > 1200:
                print(f"| {latency} | 1 | skipped: would take {latency * 2 * len(references) / 60:.0f} min | | |")
                continue
            with FakeJudge(latency=latency) as judge:
                config = JudgeConfig(base_url=judge.base_url, model="bench", concurrency=concurrency)
                started = time.perf_counter()
                result = run_judge(references, predictions, args.language, config)
                wall = time.perf_counter() - started
            assert result.complete and result.metrics == expected, "the numbers must not depend on concurrency"
            assert judge.calls == 2 * len(references)
            print(
                f"| {latency} | {concurrency} | {wall:.1f} | {judge.calls / wall:.1f} | {concurrency / latency:.1f} |"
            )

    with tempfile.TemporaryDirectory() as folder, FakeJudge(latency=args.latency[0]) as judge:
        cache = SqliteJudgeCache(Path(folder) / "cache.sqlite")
        config = JudgeConfig(base_url=judge.base_url, model="bench", concurrency=max(args.concurrency))
        run_judge(references, predictions, args.language, config, cache=cache)
        calls = judge.calls
        started = time.perf_counter()
        again = run_judge(references, predictions, args.language, config, cache=cache)
        wall = time.perf_counter() - started
        assert judge.calls == calls and again.metrics == expected
        print(
            f"\nsecond run from the SQLite cache: {wall:.2f} s, {judge.calls - calls} requests, "
            f"{again.accounting['cache_hits']:,} cache hits"
        )


if __name__ == "__main__":
    main()
