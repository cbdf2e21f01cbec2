"""The boards' and submissions' plots (issue 11): server-side SVG with its data as a table, escaped, and
shown only to who may see the numbers."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from evaluation.movie101v2 import read_split
from leaderboard.boards import plots
from leaderboard.boards.rows import BoardRow
from leaderboard.challenges.models import BoardVisibility
from leaderboard.judging import runner
from leaderboard.judging.finishing import Outcome
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Result, Submission
from tests.support.data import DEMO_DATA
from tests.support.judging import run_of, scored_submission
from tests.support.service import demo_file, make_challenge_organizer, make_participant

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script> & Co"
BOARD_PLOTS = "/c/demo/val/zh/l1/plots/"


# -- helpers ---------------------------------------------------------------------------------------------


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg" and root.get("role") == "img" and root.get("viewBox")
    assert root.find(SVG + "title").text and root.find(SVG + "desc").text
    return root


def marks(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [element for element in root.iter(SVG + tag) if element.get("class") == cls]


def svgs_of(html: str) -> dict[str, ET.Element]:
    """The page's SVG plots by id, each parsed as XML on its own."""
    found = {}
    for match in re.finditer(r"<svg\b.*?</svg>", html, re.DOTALL):
        root = parse(match.group(0))
        found[root.get("id")] = root
    return found


def table_of(html: str, table_id: str) -> list[list[str]]:
    """The body cells of the table ``table_id``, as text."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.DOTALL).group(0)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.DOTALL).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    ]


def row(rank, team, value, *, low=None, high=None, tie_group=None, at=None, submission_id=None) -> BoardRow:
    return BoardRow(
        rank=rank,
        team=team,
        method_name="m",
        submission_id=submission_id,
        submitted_at=at,
        scores={"cider": value},
        paper_url="",
        code_url="",
        missing_clips=0,
        intervals={"cider": [low, high]} if low is not None else {},
        tie_group=tie_group if tie_group is not None else rank,
    )


def scored(user, phase, data: bytes, method_name: str, language="zh") -> Submission:
    submission = intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=data,
        method=intake.MethodInfo(is_public=True, method_name=method_name),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return Submission.objects.get(pk=submission.pk)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- the drawing, from plain data -------------------------------------------------------------------------


def test_the_forest_plot_has_a_line_per_ranked_entry_and_shades_tie_groups():
    rows = [
        row(1, "Alpha", 0.9, low=0.8, high=1.0),
        row(2, HOSTILE, 0.5, low=0.4, high=0.62),
        row(3, "Gamma", 0.49, low=0.35, high=0.6, tie_group=2),
        row(None, "a baseline", 0.7),
    ]
    data = plots.forest_data(rows, "cider")
    svg = plots.forest_svg(data, metric="cider")
    root = parse(svg)
    assert len(marks(root, "circle", "point")) == 3
    assert len(marks(root, "line", "interval")) == 3
    # Two tie groups, {1} and {2, 3}: one shaded band for each row of the first, none for the second.
    assert len(marks(root, "rect", "tie-band")) == 1
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&amp; Co" in svg
    titles = [point.find(SVG + "title").text for point in marks(root, "circle", "point")]
    assert titles[1] == f"2 {HOSTILE} · m: 0.5000 [0.4000, 0.6200]"
    assert titles[2].startswith("2= Gamma") and "0.4900 [0.3500, 0.6000]" in titles[2]
    table = plots.forest_table(data, "cider")
    assert [(cell["rank"], cell["value"], cell["low"], cell["high"]) for cell in table] == [
        ("1", "0.9000", "0.8000", "1.0000"),
        ("2", "0.5000", "0.4000", "0.6200"),
        ("2=", "0.4900", "0.3500", "0.6000"),
    ]


def test_the_progress_plot_steps_up_at_each_new_best():
    start = datetime(2025, 3, 1, tzinfo=UTC)
    rows = [
        row(1, "late best", 0.9, at=start + timedelta(days=9)),
        row(2, "first", 0.5, at=start),
        row(3, "not better", 0.4, at=start + timedelta(days=3)),
        row(4, "better", 0.6, at=start + timedelta(days=5)),
    ]
    data = plots.progress_data(rows, "cider")
    assert [(point.team, point.best, point.record) for point in data] == [
        ("first", 0.5, True),
        ("not better", 0.5, False),
        ("better", 0.6, True),
        ("late best", 0.9, True),
    ]
    root = parse(plots.progress_svg(data, metric="cider"))
    assert len(marks(root, "circle", "record")) == 3 and len(marks(root, "circle", "entry")) == 1
    assert len(marks(root, "path", "best")) == 1
    assert "4 entries on the board" in root.find(SVG + "desc").text
    dates = sorted(text.text for text in root.iter(SVG + "text") if re.fullmatch(r"\d{4}-\d\d-\d\d", text.text or ""))
    assert len(dates) == 5 and dates[0] <= "2025-03-01" and dates[-1] >= "2025-03-10"


def test_the_scatter_matches_entries_by_submission_and_keeps_those_with_both():
    l1 = [
        BoardRow(1, HOSTILE, "m", 11, None, {"l1": 3.5}, "", "", 0),
        BoardRow(2, "B", "m", 12, None, {"l1": 2.0}, "", "", 0),
        BoardRow(3, "C", "m", 13, None, {"l1": 1.0}, "", "", 0),
    ]
    l2 = [
        BoardRow(1, "B", "m", 12, None, {"l2": 4.0}, "", "", 0),
        BoardRow(2, HOSTILE, "m", 11, None, {"l2": 3.0}, "", "", 0),
    ]
    data = plots.scatter_data(l1, "l1", l2, "l2")
    assert [(point.submission_id, point.x, point.y) for point in data] == [(11, 3.5, 3.0), (12, 2.0, 4.0)]
    svg = plots.scatter_svg(data, x_metric="l1", y_metric="l2")
    root = parse(svg)
    assert len(marks(root, "circle", "point")) == 2
    assert "<script>" not in svg
    assert plots.scatter_table(data, "l1", "l2")[0] == {
        "rank": "1",
        "team": HOSTILE,
        "method_name": "m",
        "x": "3.50",
        "y": "3.00",
    }


def test_the_histogram_counts_every_value_once():
    values = [0.0, 0.05, 0.15, 0.5, 0.99, 1.0]
    bins = plots.histogram(values, (0.0, 1.0))
    assert len(bins) == 10 and sum(item.count for item in bins) == len(values)
    assert [bins[0].count, bins[1].count, bins[5].count, bins[9].count] == [2, 1, 1, 2]
    root = parse(plots.histogram_svg(bins, metric="cider", unit="clips"))
    assert len(marks(root, "rect", "bar")) == 10
    assert [bar.find(SVG + "title").text for bar in marks(root, "rect", "bar")][0] == "0.0–0.1: 2 clips"
    assert plots.histogram_table(bins)[0] == {"range": "0.0–0.1", "count": 2}


def test_per_movie_means_group_clips_by_their_movie():
    per_clip = {"m1_0_5": {"cider": 1.0}, "m1_6_9": {"cider": 0.0}, "m_2_1_3": {"cider": 0.25}}
    assert plots.movie_means(per_clip, "cider") == [("m1", 2, 0.5), ("m_2", 1, 0.25)]


def test_an_empty_plot_still_says_what_it_is():
    for svg in (
        plots.forest_svg([], metric="cider"),
        plots.progress_svg([], metric="cider"),
        plots.scatter_svg([], x_metric="l1", y_metric="l2"),
        plots.histogram_svg(plots.histogram([], (0, 1)), metric="cider"),
    ):
        parse(svg)


# -- the pages ---------------------------------------------------------------------------------------------


@pytest.fixture
def entries(alice, bob, demo_val):
    """Three entries on the zh boards of the demo's validation phase; one team's name is hostile."""
    mallory = make_participant("mallory", HOSTILE)
    perfect = json.dumps(read_split(DEMO_DATA, "val", "zh"), ensure_ascii=False).encode()
    return [
        scored(alice, demo_val, perfect, "the references"),
        scored(bob, demo_val, demo_file("val-zh.json"), "demo file"),
        scored(mallory, demo_val, demo_file("val-zh.json"), "demo <b>file</b> & again"),
    ]


def test_the_board_plots_page_draws_the_board_it_shows_with_its_data(entries):
    response = Client().get(BOARD_PLOTS)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    found = svgs_of(html)
    assert set(found) == {"forest", "progress"}  # no judge here: no L1 and L2 to plot against each other
    rows = Client().get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/").json()["rows"]
    ranked = [entry for entry in rows if entry["rank"] is not None]
    metric = next(
        column for column in ("l1", "l1_environment", "l1_character", "cider") if column in ranked[0]["scores"]
    )
    precision = plots.precision_of(metric)

    points = marks(found["forest"], "circle", "point")
    assert len(points) == len(ranked) == 3
    table = table_of(html, "forest-data")
    assert len(table) == 3
    for cells, point, expected in zip(table, points, ranked, strict=True):
        value = f"{expected['scores'][metric]:.{precision}f}"
        low, high = (f"{bound:.{precision}f}" for bound in expected["intervals"][metric])
        assert cells[3:6] == [value, low, high]
        assert point.find(SVG + "title").text.endswith(f": {value} [{low}, {high}]")
    assert len(marks(found["progress"], "circle", "record")) + len(marks(found["progress"], "circle", "entry")) == 3
    assert len(table_of(html, "progress-data")) == 3

    # The board links to its plots.
    assert 'href="/c/demo/val/zh/l1/plots/"' in Client().get("/c/demo/val/zh/l1/").content.decode()


def test_l1_against_l2_plots_the_judged_entries(alice, bob, judged_val):
    submissions = [scored_submission(user, judged_val, "en") for user in (alice, bob)]
    for submission in submissions:
        assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    html = Client().get("/c/demo/val/en/l2/plots/").content.decode()
    scatter = svgs_of(html)["scatter"]
    assert len(marks(scatter, "circle", "point")) == 2
    assert len(table_of(html, "scatter-data")) == 2


def test_a_hidden_board_has_no_plots_for_the_public(entries, demo_val):
    demo_val.board_visibility = BoardVisibility.ORGANIZERS
    demo_val.save()
    assert Client().get(BOARD_PLOTS).status_code == 404
    assert Client().get("/c/demo/val/zh/nope/plots/").status_code == 404
    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    assert signed_in(organizer).get(BOARD_PLOTS).status_code == 200


def test_a_submissions_plots_show_per_clip_scores_on_a_public_phase_to_its_team_only(entries, alice, bob):
    url = f"/submissions/{entries[0].pk}/plots/"
    response = signed_in(alice).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    found = svgs_of(html)
    assert set(found) == {"clip-histogram", "movie-histogram"}
    clips = len(Result.objects.get(pk=entries[0].current_result_id).per_clip)
    bars = marks(found["clip-histogram"], "rect", "bar")
    assert sum(int(cells[1]) for cells in table_of(html, "clip-data")) == clips
    assert [bar.find(SVG + "title").text.split(": ")[1].split()[0] for bar in bars] == [
        cells[1] for cells in table_of(html, "clip-data")
    ]
    assert len(table_of(html, "movie-data")) == 2  # the demo's two validation films

    # Another metric, chosen without script; an unknown one falls back to the default.
    assert "BLEU-4 per clip" in signed_in(alice).get(url + "?metric=bleu_4").content.decode()
    assert signed_in(alice).get(url + "?metric=<x>").status_code == 200

    assert signed_in(bob).get(url).status_code == 404
    assert Client().get(url).status_code == 404
    assert Client().get("/submissions/999999/plots/").status_code == 404


def test_a_hidden_phase_shows_no_per_clip_plot_and_per_movie_means_to_organizers_only(alice, demo_test):
    submission = scored(alice, demo_test, demo_file("test-zh.json"), "hidden")
    url = f"/submissions/{submission.pk}/plots/"
    team = signed_in(alice).get(url)
    assert team.status_code == 200
    assert svgs_of(team.content.decode()) == {}
    assert "clip-data" not in team.content.decode() and "movie-data" not in team.content.decode()

    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    html = signed_in(organizer).get(url).content.decode()
    assert set(svgs_of(html)) == {"movie-histogram"}
    assert "clip-data" not in html and len(table_of(html, "movie-data")) == 2
