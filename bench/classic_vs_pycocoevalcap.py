"""Time the classic metrics on the full real test split: ``evaluation`` against plain pycocoevalcap.

    .venv/bin/python bench/classic_vs_pycocoevalcap.py [--data ../shared/movie101v2] [--repeat 3]
        [--skip-cold] [--one-process-too] [--json figures.json]

Predictions are the previous clip's reference (plausible, wrong). Reported per language, median of
--repeat runs, wall-clock seconds:

* pycocoevalcap: the protocol on pycocoevalcap's own classes, a new ``Meteor()`` per run (how
  the library is normally used, Java start-up included);
* pycocoevalcap, warm: the same with one ``Meteor()`` kept across runs (no Java start-up for METEOR);
* sequential, warm: ``evaluation``'s tokenization and METEOR driver, then pycocoevalcap's BLEU, ROUGE
  and CIDEr one after the other: how ``evaluation.score`` worked before issue 13 (METEOR concurrent
  with the Python metrics, the bit-parallel ROUGE-L);
* evaluation, cold: a new METEOR process per run, as the first submission a worker scores;
* evaluation, warm: the worker's steady state, METEOR already running, the reference-side caches
  filled (one METEOR process: only calls of ``EVALUATION_METEOR_SPLIT_SEGMENTS`` segments are split);
* evaluation, warm, 1 METEOR process (``--one-process-too``): the same with one METEOR process, to
  show what the second one brings.

Each run also checks that all of them give the same numbers (to 1e-9). Printed: the median of the
runs and, in brackets, their min–max, then the ratio of the warm ``evaluation`` median to each.
``--json PATH`` writes bench/run_all.py's figure records: per language, the warm ``evaluation``
seconds of each run against plain pycocoevalcap, warm, in the same runs. Results are recorded in
docs/benchmarks.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pycocoevalcap.bleu.bleu_scorer import BleuScorer  # noqa: E402
from pycocoevalcap.cider.cider import Cider  # noqa: E402
from pycocoevalcap.meteor.meteor import Meteor as UpstreamMeteor  # noqa: E402
from pycocoevalcap.rouge.rouge import Rouge  # noqa: E402

import evaluation  # noqa: E402
from evaluation import cider, ptb  # noqa: E402
from evaluation.classic import tokenize  # noqa: E402
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


def sequential(references, predictions, language, meteor) -> dict[str, float]:
    """The metrics one after the other, on pycocoevalcap's classes (``evaluation.score`` before issue 13)."""
    ids = sorted(references)
    reference_tokens = tokenize([references[key] for key in ids], language)
    prediction_tokens = tokenize([predictions.get(key, "") for key in ids], language)
    gts = {key: [tokens] for key, tokens in zip(ids, reference_tokens, strict=True)}
    res = {key: [tokens] for key, tokens in zip(ids, prediction_tokens, strict=True)}
    scorer = BleuScorer(n=4)
    for key in ids:
        scorer += (res[key][0], gts[key])
    bleu_totals, _ = scorer.compute_score(option="closest", verbose=0)
    scores = {f"bleu_{n + 1}": float(bleu_totals[n]) for n in range(4)}
    scores["meteor"], _, _ = meteor.compute_score_and_stats(gts, res)
    scores["rouge_l"], _ = Rouge().compute_score(gts, res)
    scores["cider"], _ = Cider().compute_score(gts, res)
    return {name: float(value) for name, value in scores.items()}


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def ours_cold(references, predictions, language):
    # The first submission a worker scores: no warm METEOR and no reference-side cache.
    cider.clear_cache()
    ptb.clear_cache()
    meteor = Meteor()
    try:
        return evaluation.score(references, predictions, language, meteor=meteor).metrics
    finally:
        meteor.close()


GOAL_RATIO = 5.0
TOLERANCE = 1e-9


def differences(values: dict[str, dict[str, float]], reference: str) -> list[str]:
    """Every (variant, metric) whose number is more than TOLERANCE from the reference variant's."""
    theirs = values[reference]
    return [
        f"{variant} {name}: {ours[name]!r} vs {value!r}"
        for name, value in theirs.items()
        for variant, ours in values.items()
        if abs(ours[name] - value) > TOLERANCE
    ]


def figure_record(language: str, times: dict[str, list[float]], identical: bool, processes: int) -> dict:
    ratio = statistics.median(times["upstream_warm"]) / statistics.median(times["warm"])
    return {
        "figure": f"classic, test split, {language}, warm",
        "unit": "s",
        "higher_is_better": False,
        "project": times["warm"],
        "baseline_name": "plain pycocoevalcap, warm",
        "baseline": times["upstream_warm"],
        "goal": f"≥ {GOAL_RATIO:g}× faster, identical numbers",
        "goal_met": identical and ratio >= GOAL_RATIO,
        "identical": identical,
        "note": f"2,227 clips, predictions = previous clip's reference; {ratio:.2f}× faster; all metrics within "
        f"{TOLERANCE:g} of pycocoevalcap in every run; METEOR on {processes} process{'es' if processes > 1 else ''}",
    }


def processes_used(meteor: Meteor, segments: int) -> int:
    """How many METEOR processes a call of ``segments`` segments is split over (meteor.py: big calls only)."""
    return meteor.process_count if segments >= meteor.split_segments else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "movie101v2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--languages", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    parser.add_argument("--skip-cold", action="store_true", help="only the warm variants (quicker)")
    parser.add_argument("--one-process-too", action="store_true", help="also time the warm score on 1 METEOR process")
    parser.add_argument("--json", type=Path, help="write the figure records (bench/run_all.py) here")
    args = parser.parse_args()

    warm = Meteor()
    warm.start()
    warm_one = Meteor(processes=1) if args.one_process_too else None
    if warm_one is not None:
        warm_one.start()
    upstream_warm = UpstreamMeteor()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
        f"{evaluation.versions.classic_versions()['java']}; METEOR: up to {warm.process_count} processes, "
        f"calls of {warm.split_segments:,} segments or more split; "
        f"load {' '.join(f'{value:.1f}' for value in os.getloadavg())}"
    )
    columns = {
        "upstream": "pycocoevalcap (s)",
        "upstream_warm": "pycocoevalcap, warm (s)",
        "sequential": "sequential, warm (s)",
        "cold": "evaluation, cold (s)",
        "warm_one": "evaluation, warm, 1 METEOR process (s)",
        "warm": "evaluation, warm (s)",
    }
    print(f"| language | clips | {' | '.join(columns.values())} | pycocoevalcap, warm / warm | sequential / warm |")
    print("|---|---|" + "---|" * (len(columns) + 2))
    records, all_identical = [], True
    for language in args.languages:
        references = read_split(args.data, "test", language)
        predictions = shifted(references)
        runs = {
            "upstream": lambda: upstream(references, predictions, language),  # noqa: B023
            "upstream_warm": lambda: direct_pycocoevalcap(references, predictions, language, upstream_warm),  # noqa: B023
            "sequential": lambda: sequential(references, predictions, language, warm),  # noqa: B023
            "cold": lambda: ours_cold(references, predictions, language),  # noqa: B023
            "warm_one": lambda: evaluation.score(references, predictions, language, meteor=warm_one).metrics,  # noqa: B023
            "warm": lambda: evaluation.score(references, predictions, language, meteor=warm).metrics,  # noqa: B023
        }
        if args.skip_cold:
            del runs["upstream"], runs["cold"]
        if warm_one is None:
            del runs["warm_one"]
        times = {name: [] for name in runs}
        # One warm-up of everything first: each Java process loaded, the caches of a worker filled.
        evaluation.score(references, predictions, language, meteor=warm)
        if warm_one is not None:
            evaluation.score(references, predictions, language, meteor=warm_one)
        direct_pycocoevalcap(references, predictions, language, upstream_warm)
        identical = True
        for _ in range(args.repeat):
            # Interleaved, so that a busy machine slows every variant alike.
            values = {}
            for name, run in runs.items():
                seconds, values[name] = timed(run)
                times[name].append(seconds)
            problems = differences(values, "upstream_warm")
            for problem in problems:
                print(f"NOT IDENTICAL ({language}): {problem}", file=sys.stderr)
            identical = identical and not problems
        all_identical = all_identical and identical
        cells = [summary(times[name]) if name in times else "–" for name in columns]
        warm_median = statistics.median(times["warm"])
        ratios = [f"{statistics.median(times[name]) / warm_median:.2f}×" for name in ("upstream_warm", "sequential")]
        print(f"| {language} | {len(references):,} | {' | '.join(cells)} | {' | '.join(ratios)} |", flush=True)
        records.append(figure_record(language, times, identical, processes_used(warm, len(references))))
    print(f"load {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    warm.close()
    if warm_one is not None:
        warm_one.close()
    upstream_warm.meteor_p.kill()
    upstream_warm.meteor_p.wait()
    if args.json:
        args.json.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
        print(f"figures written to {args.json}")
    if not all_identical:
        sys.exit("the variants gave different numbers (above)")


if __name__ == "__main__":
    main()
