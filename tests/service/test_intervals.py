"""Board intervals, tie groups and exports (issue 11): computed on write, carried by the API, the page and the files."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

import evaluation
from evaluation.intervals import BootstrapMethod, intervals
from evaluation.metrics import metric_info
from evaluation.movie101v2 import read_split
from leaderboard.boards.exports import csv_rows
from leaderboard.boards.models import PairedTest
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Result, Submission
from tests.support.data import DEMO_DATA
from tests.support.service import demo_file, make_participant

BOARD = "/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/"
PAGE = "/c/demo/val/zh/l1/"
#: A score cell of the board page: the value, then its interval.
SCORE_CELL = re.compile(r'<td class="num(?: primary)?">([0-9.]+)<span class="ci"[^>]*>\[([0-9.]+), ([0-9.]+)\]</span>')


def scored(user, phase, data: bytes, method_name: str) -> Submission:
    submission = intake.submit(
        user=user,
        phase=phase,
        language="zh",
        data=data,
        method=intake.MethodInfo(is_public=True, method_name=method_name),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return Submission.objects.get(pk=submission.pk)


def references() -> dict[str, str]:
    return read_split(DEMO_DATA, "val", "zh")


@pytest.fixture
def three_entries(alice, bob, demo_val):
    """Alice narrates the references themselves; Bob and Carol upload the same (demo) file."""
    carol = make_participant("carol", "Team & <C>_%")
    perfect = json.dumps(references(), ensure_ascii=False).encode()
    same = demo_file("val-zh.json")
    return {
        "alice": scored(alice, demo_val, perfect, "the references"),
        "bob": scored(bob, demo_val, same, "demo file"),
        "carol": scored(carol, demo_val, same, "demo file again"),
    }


def test_rows_carry_intervals_same_files_are_tied_and_a_clearly_better_entry_is_not(three_entries):
    body = APIClient().get(BOARD).json()
    assert body["interval_method"] == {
        "method": "bootstrap",
        "unit": "clip",
        "resamples": 1000,
        "seed": BootstrapMethod().seed,
        "level": 0.95,
        "version": BootstrapMethod().version,
    }
    assert body["versions"]["references"].startswith("sha256:") and body["versions"]["protocol"]
    rows = {row["method_name"]: row for row in body["rows"]}
    assert [row["method_name"] for row in body["rows"]][0] == "the references"
    for row in rows.values():
        assert set(row["intervals"]) == set(row["scores"]) and row["scores"]
        for metric, (low, high) in row["intervals"].items():
            assert low <= row["scores"][metric] <= high, (metric, low, row["scores"][metric], high)
    best, first_copy, second_copy = (rows[name] for name in ("the references", "demo file", "demo file again"))
    # Bob's and Carol's files are the same: their difference is 0 on every resample.
    assert second_copy["p_value_vs_above"] == 1.0
    assert first_copy["tie_group"] == second_copy["tie_group"] == first_copy["rank"]
    # The references against a mediocre file: different on every resample.
    assert best["tie_group"] == 1 and best["p_value_vs_above"] is None
    assert first_copy["p_value_vs_above"] < 0.05 and first_copy["tie_group"] != best["tie_group"]
    # Each neighbour pair was tested once and kept.
    assert PairedTest.objects.count() == 2


def test_a_results_intervals_are_what_the_scorer_gives_offline(three_entries):
    """A participant running the evaluation package on the validation split gets the server's numbers."""
    submission = three_entries["bob"]
    result = Result.objects.get(pk=submission.current_result_id)
    offline = evaluation.score(references(), json.loads(demo_file("val-zh.json")), "zh")
    expected = {name: list(bounds) for name, bounds in intervals(offline.stats, BootstrapMethod()).items()}
    assert result.intervals == {"method": BootstrapMethod().to_dict(), "metrics": expected}


def test_rescoring_gives_the_same_intervals(three_entries):
    submission = three_entries["bob"]
    first = Result.objects.get(pk=submission.current_result_id)
    again = scoring.rescore(submission.pk)
    assert again is not None and again.pk != first.pk
    assert Result.objects.get(pk=again.pk).intervals == first.intervals


def test_the_csv_and_latex_downloads_match_the_board(three_entries):
    client = APIClient()
    board = client.get(BOARD).json()
    response = client.get(BOARD + "?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="demo-val-zh-l1.csv"'
    rows = csv_rows(response.content.decode())
    assert len(rows) == len(board["rows"])
    for row, expected in zip(rows, board["rows"], strict=True):
        assert row["team"] == expected["team"] and row["method_name"] == expected["method_name"]
        assert row["rank"] == str(expected["rank"]) and row["tie_group"] == str(expected["tie_group"])
        for metric, value in expected["scores"].items():
            assert float(row[metric]) == value
            assert [float(row[f"{metric}_low"]), float(row[f"{metric}_high"])] == expected["intervals"][metric]
        assert row["references"] == board["versions"]["references"]
        assert "1000 resamples" in row["interval_method"]

    latex = client.get(BOARD + "?format=latex")
    assert latex.status_code == 200 and latex["Content-Type"].startswith("application/x-latex")
    text = latex.content.decode()
    assert "\\toprule" in text and "\\bottomrule" in text and "$\\pm$" in text
    # Carol's team name is escaped for LaTeX; her row shares Bob's rank, marked "=".
    carol_line = next(line for line in text.splitlines() if "Team" in line and "C" in line and "again" in line)
    assert "Team \\& <C>\\_\\%" in carol_line and carol_line.startswith("=")


def test_the_page_shows_what_the_csv_holds(client, three_entries):
    """Each score cell of the page is the CSV's value and interval at the metric's display precision."""
    shown = SCORE_CELL.findall(client.get(PAGE).content.decode())
    rows = csv_rows(APIClient().get(BOARD + "?format=csv").content.decode())
    columns = APIClient().get(BOARD).json()["columns"]
    expected = [
        tuple(f"{float(row[name + suffix]):.{metric_info(name).precision}f}" for suffix in ("", "_low", "_high"))
        for row in rows
        for name in columns
        if row[name]
    ]
    assert shown == expected and len(shown) >= 12


def test_an_unknown_format_gets_a_json_400_and_a_missing_board_json_even_as_csv(three_entries):
    client = APIClient()
    response = client.get(BOARD + "?format=xlsx")
    assert response.status_code == 400 and response.json()["code"] == "invalid_format"
    missing = client.get("/api/v1/challenges/demo/phases/val/leaderboards/zh/nope/?format=csv")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/json")


def test_the_page_shows_intervals_ties_and_downloads(client, three_entries):
    page = client.get(PAGE).content.decode()
    assert page.count('class="ci"') >= 3 * 4
    assert 'class="tie"' in page and "p = 1.000" in page
    assert "?format=csv" in page and "?format=latex" in page
    assert "Team &amp; &lt;C&gt;_%" in page


def test_fill_intervals_gives_old_results_theirs_and_the_boards_their_ties(three_entries):
    before = {row.pk: row.intervals for row in Result.objects.all()}
    # As results written before intervals were kept: no statistics, no intervals, no tie tests.
    Result.objects.update(clip_stats=None, intervals={})
    PairedTest.objects.all().delete()
    out = io.StringIO()
    call_command("fill_intervals", stdout=out)
    assert "3 results given intervals (3 of them scored again" in out.getvalue()
    assert {row.pk: row.intervals for row in Result.objects.all()} == before
    rows = APIClient().get(BOARD).json()["rows"]
    assert rows[2]["p_value_vs_above"] == 1.0
    again = io.StringIO()
    call_command("fill_intervals", stdout=again)
    assert "0 results given intervals" in again.getvalue() and "3 already had them" in again.getvalue()


def test_movie_resampling_is_a_phase_option_and_moves_the_intervals(three_entries, demo_val):
    by_clip = APIClient().get(BOARD).json()["rows"][1]["intervals"]
    demo_val.bootstrap_unit = "movie"
    demo_val.save()
    call_command("fill_intervals", "--phase", "demo/val", stdout=io.StringIO())
    body = APIClient().get(BOARD).json()
    assert body["interval_method"]["unit"] == "movie"
    by_movie = body["rows"][1]["intervals"]
    assert by_movie.keys() == by_clip.keys() and by_movie != by_clip
