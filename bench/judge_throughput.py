"""Judge throughput on the full real test split against a loopback judge with added latency.

    .venv/bin/python bench/judge_throughput.py [--data ../shared/movie101v2] [--latency 0.2]
                                               [--concurrency 8 32 64] [--language en] [--clips K]
                                               [--repeat N] [--json figures.json] [--skip-cache-run]

The judge is tests/support/judge_server.py (a real HTTP server speaking chat completions) answering
every request after ``--latency`` seconds, as a remote endpoint would. It runs in a process of its
own, as a remote endpoint does, so its threads do not share the client's GIL. For each latency and
concurrency N it judges all 2,227 clips (4,454 requests, no cache) and reports wall-clock seconds,
requests per second and the bound ``N / latency``; ``--repeat`` runs every configuration N times,
the configurations taking turns within each run. Every run checks that the stage means are exactly
the judge's answers, and the server's count of requests.

The timed part is ``run_judge`` in a warm process (the ``openai`` package and its HTTP stack already
imported, as in a judge worker): the cache keys, the prompts, the client, every request.

Beside the judge, each run measures the loopback server alone: threads of a trivial keep-alive
client (``http.client``, one request after another, nothing else) at N and 2N in flight. That shows
what the server and this machine allow, and that the server is not the bound.

Then, unless ``--skip-cache-run``, a second run over a SQLite cache (zero requests).

``--json PATH`` writes bench/run_all.py's figure records: per concurrency, the judge's req/s per run;
the goal is a median of at least 90% of ``N / latency``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.judge import JudgeConfig, SqliteJudgeCache, run_judge, templates_for  # noqa: E402
from evaluation.judge.client import ChatClient  # noqa: E402
from evaluation.movie101v2 import read_split  # noqa: E402
from tests.support.judge_server import JudgeProcess, expected_stage_metrics  # noqa: E402

#: The issue's goal: this share of the bound ``concurrency / latency``.
GOAL_SHARE = 0.9
#: Requests each thread of the trivial client sends in a row.
TRIVIAL_ROUNDS = 20


def judge_rate(references, predictions, language, latency: float, concurrency: int, expected) -> dict:
    with JudgeProcess(latency=latency) as judge:
        config = JudgeConfig(base_url=judge.base_url, model="bench", concurrency=concurrency)
        cpu, started = process_cpu(), time.perf_counter()
        result = run_judge(references, predictions, language, config)
        wall, cpu = time.perf_counter() - started, process_cpu() - cpu
        stats = judge.stats()
    assert result.complete and result.metrics == expected, "the numbers must not depend on concurrency"
    assert stats["calls"] == result.accounting["calls"] == 2 * len(references)
    assert stats["max_in_flight"] <= concurrency
    return {"wall": wall, "rps": stats["calls"] / wall, "cpu_ms": 1000 * cpu / stats["calls"]}


def process_cpu() -> float:
    """CPU seconds of this process (the client's threads; the judge runs in another process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def trivial_client_rate(latency: float, concurrency: int, body: bytes) -> float:
    """Requests a second the server answers to ``concurrency`` threads that only send and read."""
    with JudgeProcess(latency=latency) as judge:
        address = urlsplit(judge.base_url)
        path = address.path + "/chat/completions"

        def client() -> None:
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
            for _ in range(TRIVIAL_ROUNDS):
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                assert response.status == 200
            connection.close()

        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        calls = judge.stats()["calls"]
    assert calls == concurrency * TRIVIAL_ROUNDS
    return calls / wall


def load() -> float:
    return os.getloadavg()[0]


def span(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def figure_records(latency: float, judged, cpu_ms, trivial, loads, requests) -> list[dict]:
    records = []
    load_note = f"load 1 min {min(loads):.1f}–{max(loads):.1f}"
    for concurrency, rates in judged.items():
        bound = concurrency / latency
        share = statistics.median(rates) / bound
        records.append(
            {
                "figure": f"judge, {latency:g} s latency, N={concurrency}",
                "unit": "req/s",
                "higher_is_better": True,
                "project": rates,
                "baseline_name": None,
                "baseline": None,
                "goal": "≥ 90% of concurrency/latency",
                "goal_met": share >= GOAL_SHARE,
                "identical": True,
                "note": f"bound {bound:g} req/s; median {share:.0%} of it; client CPU "
                f"{statistics.median(cpu_ms[concurrency]):.2f} ms/request; {requests:,} requests a run, stage means "
                f"checked exact every run; the same server alone with a trivial client: "
                f"{statistics.median(trivial[concurrency]):.1f} req/s; {load_note}",
            }
        )
    for concurrency, rates in trivial.items():
        bound = concurrency / latency
        records.append(
            {
                "figure": f"loopback judge alone, trivial client, {latency:g} s latency, N={concurrency}",
                "unit": "req/s",
                "higher_is_better": True,
                "project": rates,
                "baseline_name": None,
                "baseline": None,
                "goal": "≥ 90% of concurrency/latency (the server is not the bound)",
                "goal_met": statistics.median(rates) / bound >= GOAL_SHARE,
                "identical": None,
                "note": f"bound {bound:g} req/s; http.client threads, {TRIVIAL_ROUNDS} requests each; {load_note}",
            }
        )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "movie101v2")
    parser.add_argument("--language", default="en", choices=("zh", "en"))
    parser.add_argument("--latency", type=float, nargs="+", default=[0.2])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--clips", type=int, help="judge only the first K clips of the split (a quicker run)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every configuration (interleaved)")
    parser.add_argument("--json", type=Path, help="write the figure records (bench/run_all.py) here")
    parser.add_argument("--skip-cache-run", action="store_true", help="skip the second run from a SQLite cache")
    args = parser.parse_args()

    references = read_split(args.data, "test", args.language)
    ids = sorted(references)
    predictions = {clip_id: references[ids[index - 1]] for index, clip_id in enumerate(ids)}
    if args.clips:
        references = {clip_id: references[clip_id] for clip_id in ids[: args.clips]}
        predictions = {clip_id: predictions[clip_id] for clip_id in references}
    expected = expected_stage_metrics(references, predictions, args.language)
    clip_id = min(references)
    trivial_body = json.dumps(
        {
            "model": "bench",
            "messages": templates_for(args.language)["l1"].messages(references[clip_id], predictions[clip_id]),
            "temperature": 0.0,
            "max_tokens": 256,
            "response_format": {"type": "json_object"},
        }
    ).encode()
    # Warm, as a judge worker is: the openai package and its HTTP stack imported once per process.
    ChatClient(JudgeConfig(base_url="http://127.0.0.1:9/v1", model="bench")).close()

    print(
        f"{len(references):,} clips ({args.language}), {2 * len(references):,} requests a run; "
        f"{args.repeat} run(s); Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        "| run | latency (s) | N | wall (s) | requests/s | bound (req/s) | share | client CPU (ms/request) "
        "| trivial client req/s | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    records = []
    for latency in args.latency:
        judged: dict[int, list[float]] = {n: [] for n in args.concurrency}
        cpu_ms: dict[int, list[float]] = {n: [] for n in args.concurrency}
        trivial_levels = sorted({*args.concurrency, 2 * max(args.concurrency)})
        trivial: dict[int, list[float]] = {n: [] for n in trivial_levels}
        loads = []
        for run in range(1, args.repeat + 1):
            for concurrency in trivial_levels:
                trivial[concurrency].append(trivial_client_rate(latency, concurrency, trivial_body))
            for concurrency in args.concurrency:
                loads.append(load())
                measured = judge_rate(references, predictions, args.language, latency, concurrency, expected)
                judged[concurrency].append(measured["rps"])
                cpu_ms[concurrency].append(measured["cpu_ms"])
                bound = concurrency / latency
                print(
                    f"| {run} | {latency:g} | {concurrency} | {measured['wall']:.1f} | {measured['rps']:.1f} | "
                    f"{bound:g} | {measured['rps'] / bound:.0%} | {measured['cpu_ms']:.2f} | "
                    f"{trivial[concurrency][-1]:.1f} | {loads[-1]:.1f} |",
                    flush=True,
                )
            top = trivial_levels[-1]
            alone = f"{trivial[top][-1]:.1f} (server alone)"
            print(f"| {run} | {latency:g} | {top} | | | {top / latency:g} | | | {alone} | |")
        print(f"\nmedians over {args.repeat} run(s), latency {latency:g} s (min–max):")
        for concurrency, rates in judged.items():
            bound = concurrency / latency
            print(
                f"  N={concurrency}: judge {span(rates)} req/s = {statistics.median(rates) / bound:.0%} of {bound:g}; "
                f"client CPU {statistics.median(cpu_ms[concurrency]):.2f} ms/request; "
                f"trivial client {span(trivial[concurrency])} req/s"
            )
        top = trivial_levels[-1]
        print(f"  N={top}: trivial client {span(trivial[top])} req/s (bound {top / latency:g})")
        records += figure_records(latency, judged, cpu_ms, trivial, loads, 2 * len(references))

    if not args.skip_cache_run:
        with tempfile.TemporaryDirectory() as folder, JudgeProcess(latency=args.latency[0]) as judge:
            cache = SqliteJudgeCache(Path(folder) / "cache.sqlite")
            config = JudgeConfig(base_url=judge.base_url, model="bench", concurrency=max(args.concurrency))
            run_judge(references, predictions, args.language, config, cache=cache)
            calls = judge.stats()["calls"]
            started = time.perf_counter()
            again = run_judge(references, predictions, args.language, config, cache=cache)
            wall = time.perf_counter() - started
            assert judge.stats()["calls"] == calls and again.metrics == expected
            print(
                f"\nsecond run from the SQLite cache: {wall:.2f} s, {judge.stats()['calls'] - calls} requests, "
                f"{again.accounting['cache_hits']:,} cache hits"
            )
    if args.json:
        args.json.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
