"""Time the classic metrics on the full real test split: ``evaluation`` against plain pycocoevalcap.

    .venv/bin/python bench/classic_vs_pycocoevalcap.py [--data ../shared/movie101v2] [--repeat 3]

Predictions are the previous clip's reference (plausible, wrong). Reported per language, median of
--repeat runs, wall-clock seconds:

* pycocoevalcap: the protocol on pycocoevalcap's own classes, a new ``Meteor()`` per run (how
  the library is normally used, Java start-up included);
* pycocoevalcap, warm: the same with one ``Meteor()`` kept across runs (no Java start-up for METEOR);
* sequential, warm: ``evaluation``'s tokenization and METEOR driver, then pycocoevalcap's BLEU, ROUGE
  and CIDEr one after the other: how ``evaluation.score`` worked before issue 13 (METEOR concurrent
  with the Python metrics, the bit-parallel ROUGE-L);
* evaluation, cold: a new METEOR process per run, as the first submission a worker scores;
* evaluation, warm: the worker's steady state, METEOR already running.

Each run also checks that all of them give the same numbers (to 1e-9). Printed: the median of the
runs and, in brackets, their min–max, then the ratio of the warm ``evaluation`` median to each.
Results are recorded in docs/benchmarks.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
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
    meteor = Meteor()
    try:
        return evaluation.score(references, predictions, language, meteor=meteor).metrics
    finally:
        meteor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "movie101v2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--languages", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    parser.add_argument("--skip-cold", action="store_true", help="only the warm variants (quicker)")
    args = parser.parse_args()

    warm = Meteor()
    warm.start()
    upstream_warm = UpstreamMeteor()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
        f"{evaluation.versions.classic_versions()['java']}"
    )
    columns = {
        "upstream": "pycocoevalcap (s)",
        "upstream_warm": "pycocoevalcap, warm (s)",
        "sequential": "sequential, warm (s)",
        "cold": "evaluation, cold (s)",
        "warm": "evaluation, warm (s)",
    }
    print(f"| language | clips | {' | '.join(columns.values())} | warm vs pycocoevalcap, warm | warm vs sequential |")
    print("|---|---|" + "---|" * (len(columns) + 2))
    for language in args.languages:
        references = read_split(args.data, "test", language)
        predictions = shifted(references)
        runs = {
            "upstream": lambda: upstream(references, predictions, language),  # noqa: B023
            "upstream_warm": lambda: direct_pycocoevalcap(references, predictions, language, upstream_warm),  # noqa: B023
            "sequential": lambda: sequential(references, predictions, language, warm),  # noqa: B023
            "cold": lambda: ours_cold(references, predictions, language),  # noqa: B023
            "warm": lambda: evaluation.score(references, predictions, language, meteor=warm).metrics,  # noqa: B023
        }
        if args.skip_cold:
            del runs["upstream"], runs["cold"]
        times = {name: [] for name in runs}
        # One warm-up of everything first: each Java process loaded, the caches of a worker filled.
        evaluation.score(references, predictions, language, meteor=warm)
        direct_pycocoevalcap(references, predictions, language, upstream_warm)
        for _ in range(args.repeat):
            # Interleaved, so that a busy machine slows every variant alike.
            values = {}
            for name, run in runs.items():
                seconds, values[name] = timed(run)
                times[name].append(seconds)
            theirs = values["upstream_warm"]
            for name, value in theirs.items():
                for variant, ours in values.items():
                    assert abs(ours[name] - value) <= 1e-9, (variant, name, ours[name], value)
        cells = [summary(times[name]) if name in times else "–" for name in columns]
        warm_median = statistics.median(times["warm"])
        ratios = [f"{warm_median / statistics.median(times[name]):.2f}" for name in ("upstream_warm", "sequential")]
        print(f"| {language} | {len(references):,} | {' | '.join(cells)} | {' | '.join(ratios)} |", flush=True)
    warm.close()
    upstream_warm.meteor_p.kill()
    upstream_warm.meteor_p.wait()


if __name__ == "__main__":
    main()
