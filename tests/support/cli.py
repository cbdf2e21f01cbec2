"""The participant's command line, run as a participant runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .data import ROOT, write_json


def score_json(
    folder: Path, references: dict[str, str], predictions: dict[str, str], language: str, *options: str
) -> dict:
    """What ``python -m evaluation score --json [options]`` prints for these files: one JSON object and nothing else.

    Classic metrics only (``--no-judge``), whatever JUDGE_* the environment holds.
    """
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation",
            "score",
            "--references",
            str(write_json(folder / "refs.json", references)),
            "--predictions",
            str(write_json(folder / "preds.json", predictions)),
            "--language",
            language,
            "--json",
            "--no-judge",
            *options,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(completed.stdout)
