"""How long ``evaluation.validate`` takes on the largest hostile files the 20 MB cap lets through.

Each file is built in memory (the shapes of tests/support/hostile.py, scaled up to the cap) and
validated against the demo's validation references (or, for the real split, its own), ``--repeat``
times; the median wall-clock seconds are printed with the problem that refuses the file. The
validator does the same work on the site, the API, ``manage.py submit`` and the CLI: this is the
time one upload holds a web worker before its 400.

    .venv/bin/python bench/hostile_inputs.py               # every shape, 3 runs each
    .venv/bin/python bench/hostile_inputs.py --repeat 1 --only duplicates_45000

Run by hand; docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation import validate  # noqa: E402
from evaluation.movie101v2 import read_split  # noqa: E402
from tests.support.data import DEMO_DATA, movie101v2_root  # noqa: E402
from tests.support.hostile import duplicates  # noqa: E402

CAP = 20 * 1024 * 1024


def valid_file(size: int) -> Callable[[list[str]], tuple[bytes, dict[str, str]]]:
    """A well-formed file of about ``size`` bytes: 100-character narrations of as many clips, with references."""

    def build(_ids):
        narration = "暴风雨前，[林海]打开灯塔的门，走上楼梯。" * 5
        count = size // (len(json.dumps(narration, ensure_ascii=False).encode()) + 32)
        mapping = {f"{9100000000000000000 + n}_{n}_{n + 5}": narration for n in range(count)}
        return json.dumps(mapping, ensure_ascii=False, indent=1).encode(), mapping

    return build


def real_split(_ids):
    root = movie101v2_root()
    if root is None:
        return None
    references = read_split(root, "test", "zh")
    return json.dumps(references, ensure_ascii=False, indent=1).encode(), references


def fixed(data: bytes) -> Callable[[list[str]], bytes]:
    return lambda _ids: data


SHAPES: dict[str, tuple[str, Callable]] = {
    "real_test_split_zh": ("the real test split's references as a predictions file (accepted)", real_split),
    "valid_19mb": ("a well-formed 19 MB file, 100-character narrations (accepted)", valid_file(19_000_000)),
    "duplicates_20000": ("finding 1: 20,000 ids each written twice, 1.3 MB", duplicates(20_000)),
    "duplicates_45000": ("finding 1: 45,000 ids each written twice, 3 MB", duplicates(45_000)),
    "duplicates_290000": ("290,000 ids each written twice, 20 MB", duplicates(290_000)),
    "brackets": ("[ × 10,000,000 then ] × 10,000,000", fixed(b"[" * 10_000_000 + b"]" * 10_000_000)),
    "flat_arrays": ("6,000,000 empty arrays in one array", fixed(b"[" + b"[]," * 6_000_000 + b"[]]")),
    "tiny_pairs": ('3,000,000 pairs "":"" (one key 3,000,000 times)', fixed(b"{" + b'"":"",' * 3_000_000 + b'"":""}')),
    "surrogates": (
        "500,000 narrations, each a lone surrogate",
        fixed(("{" + ",".join(f'"{n}_0_1":"\\ud800"' for n in range(500_000)) + "}").encode()),
    ),
    "escapes": ('one narration of 9,000,000 \\" escapes', fixed(b'{"1_0_1": "' + b'\\"' * 9_000_000 + b'"}')),
    "numbers": ("9,000,000 numbers in a value", fixed(b'{"1_0_1": [' + b"1," * 9_000_000 + b"1]}")),
    "huge_integer": ("one integer of 19,000,000 digits", fixed(b'{"1_0_1": ' + b"7" * 19_000_000 + b"}")),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(SHAPES), help="these shapes alone")
    args = parser.parse_args()
    demo = read_split(DEMO_DATA, "val", "zh")
    print("| file | bytes | median s | answer |")
    print("|---|---|---|---|")
    for name in args.only or SHAPES:
        about, build = SHAPES[name]
        built = build(sorted(demo))
        if built is None:
            print(f"| {about} | — | — | skipped: no Movie101v2 data |")
            continue
        data, references = built if isinstance(built, tuple) else (built, demo)
        assert len(data) <= CAP, (name, len(data))
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = validate(data, references)
            seconds.append(time.perf_counter() - start)
        answer = "accepted" if report.ok else f"`{report.problems[0].code}`"
        print(f"| {about} | {len(data):,} | {statistics.median(seconds):.2f} | {answer} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
