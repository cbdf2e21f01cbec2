"""bench/run_all.py: a bench's figure records become rows with medians, spreads and ratios."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("bench_run_all", ROOT / "bench" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def write_bench(path: Path, records: list[dict], exit_code: int = 0) -> Path:
    """A bench script that checks it was given --repeat and --json as the runner promises."""
    path.write_text(
        textwrap.dedent(
            f"""
            import argparse, json, sys
            parser = argparse.ArgumentParser()
            parser.add_argument("--repeat", type=int, required=True)
            parser.add_argument("--json", required=True)
            args = parser.parse_args()
            records = json.loads({json.dumps(json.dumps(records))})
            for record in records:
                record["note"] = f"repeat={{args.repeat}}"
            open(args.json, "w").write(json.dumps(records))
            print("a line of the bench's own printout")
            sys.exit({exit_code})
            """
        )
    )
    return path


def figure(**changes) -> dict:
    record = {
        "figure": "classic, test split, en, warm",
        "unit": "s",
        "higher_is_better": False,
        "project": [2.0, 3.0, 2.5, 2.2, 9.0],
        "baseline_name": "plain pycocoevalcap, warm",
        "baseline": [12.0, 14.0, 13.0, 12.5, 20.0],
        "goal": "≥ 5× faster",
        "goal_met": True,
        "identical": True,
        "note": "",
    }
    record.update(changes)
    return record


def test_a_bench_row_has_the_medians_the_spread_and_the_ratio(run_all, tmp_path):
    script = write_bench(tmp_path / "fake.py", [figure()])
    outcome = run_all.run_bench(run_all.Bench("fake", str(script)), 5, sys.executable, tmp_path)

    assert outcome.failure is None
    row = run_all.table([outcome]).splitlines()[2]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:4] == ["classic, test split, en, warm", "s ↓", "5", "2.50 (2.00–9.00)"]
    assert cells[5] == "13.0 (12.0–20.0)"
    assert cells[6] == "5.20×"  # baseline median over the project's, lower being better
    assert cells[8:] == ["yes", "yes", "repeat=5"]
    assert "a line of the bench's own printout" in (tmp_path / "fake.log").read_text()


def test_higher_is_better_turns_the_ratio_round(run_all):
    record = figure(unit="req/s", higher_is_better=True, project=[250.0], baseline=[1000.0])
    assert run_all.ratio(record) == "0.25×"
    assert run_all.ratio(figure(baseline=None, baseline_name=None)) == "—"


def test_a_slow_bench_is_capped_unless_asked(run_all, tmp_path):
    script = write_bench(tmp_path / "slow.py", [figure()])
    outcome = run_all.run_bench(run_all.Bench("slow", str(script), max_repeat=1), 5, sys.executable, tmp_path)
    assert outcome.repeat == 1
    assert outcome.records[0]["note"] == "repeat=1"


def test_a_failing_bench_gets_a_row_saying_so_and_keeps_its_figures(run_all, tmp_path):
    script = write_bench(tmp_path / "broken.py", [figure(goal_met=False)], exit_code=3)
    outcome = run_all.run_bench(run_all.Bench("broken", str(script)), 5, sys.executable, tmp_path)

    assert outcome.failure == "exit 3: a line of the bench's own printout"
    rows = run_all.table([outcome]).splitlines()[2:]
    assert "**no**" in rows[0]
    assert "**failed**: exit 3" in rows[1]


def test_a_record_without_a_field_is_a_failure_not_a_row(run_all, tmp_path):
    incomplete = figure()
    del incomplete["goal"]
    script = write_bench(tmp_path / "incomplete.py", [incomplete])
    outcome = run_all.run_bench(run_all.Bench("incomplete", str(script)), 5, sys.executable, tmp_path)

    assert outcome.records == []
    assert "lacks goal" in outcome.failure
