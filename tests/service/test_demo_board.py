"""The demo's boards: invented baseline rows with numbers, and the classic columns first without a judge."""

from __future__ import annotations

import html
import os
import re

import pytest
from django.core.management import call_command

from evaluation.metrics import CLASSIC_METRICS, STAGE_METRICS, metric_info
from leaderboard.boards.models import Board
from leaderboard.challenges.models import Challenge
from leaderboard.submissions import intake, scoring
from tests.support.service import demo_file

NUMBER = re.compile(r"^\(?-?\d+(\.\d+)?\)?$")


def header_metrics(page: str) -> list[str]:
    """The metric columns of a board page's table, in the order shown, as metric names."""
    thead = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)
    labels = [
        html.unescape(label)
        for label in re.findall(r'<th scope="col" class="num[^"]*"><abbr[^>]*>([^<]*)</abbr>', thead)
    ]
    names = {metric_info(name).label: name for name in [*CLASSIC_METRICS, *STAGE_METRICS]}
    return [names[label] for label in labels]


def baseline_rows(page: str) -> list[list[str]]:
    """The cells of each baseline row: the metric cells' text, before the interval, in the order shown."""
    rows = []
    for row in re.findall(r'<tr class="baseline">(.*?)</tr>', page, re.S):
        cells = re.findall(r'<td class="num(?: primary)?">(.*?)</td>', row, re.S)
        texts = [html.unescape(re.sub(r"<[^>]+>", "", cell.split('<span class="ci"')[0])).strip() for cell in cells]
        rows.append(texts[1:])  # the first is the rank
    return rows


@pytest.fixture
def loaded_demo(db):
    """The demo challenge exactly as ``load_demo`` loads it, baselines included (``demo_challenge`` drops them)."""
    call_command("load_demo", "--no-user", stdout=open(os.devnull, "w"))
    return Challenge.objects.get(slug="demo")


def test_every_demo_board_shows_a_baseline_with_numbers_in_its_first_column(client, loaded_demo):
    boards = Board.objects.filter(phase__challenge=loaded_demo).select_related("phase")
    assert boards.count() == 4
    for board in boards:
        for language in ("zh", "en"):
            url = f"/c/demo/{board.phase.slug}/{language}/{board.key}/"
            page = client.get(url).content.decode()
            rows = baseline_rows(page)
            assert len(rows) == 1, url
            assert NUMBER.match(rows[0][0]), (url, rows[0])
            assert "Demo baseline (invented numbers)" in page, url
            # the source's L1 and L2 are shown flagged, in brackets, never as the board's own
            assert "other-judge-source" in page, url
            api = client.get(f"/api/v1/challenges/demo/phases/{board.phase.slug}/leaderboards/{language}/{board.key}/")
            (row,) = api.json()["rows"]
            assert row["baseline"] and row["rank"] is None and row["scores"]["cider"] > 0
            assert row["other_judge"] == "reported_by_source" and board.primary_metric in row["other_judge_scores"]


def test_without_a_judge_the_classic_columns_come_first_and_the_ranking_stays(client, alice, loaded_demo):
    val = loaded_demo.phases.get(slug="val")
    submission = intake.submit(
        user=alice,
        phase=val,
        language="zh",
        data=demo_file("val-zh.json"),
        method=intake.MethodInfo(method_name="alice-model", is_public=True),
    )
    scoring.score_submission(submission.pk)
    l1 = val.boards.get(key="l1")
    page = client.get("/c/demo/val/zh/l1/").content.decode()
    shown = header_metrics(page)
    assert shown == ["cider", "bleu_4", "meteor", "rouge_l", "l1", "l1_environment", "l1_character"]
    assert shown[0] in CLASSIC_METRICS
    assert "the classic metrics are shown first" in page
    assert "No entry has L1 yet" in page
    # the display order only: the board keeps its columns, and the rows their stored order
    assert l1.columns == ["l1", "l1_environment", "l1_character", "cider", "bleu_4", "meteor", "rouge_l"]
    rows = client.get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/").json()["rows"]
    assert [row["method_name"].split(" (")[0] for row in rows] == re.findall(
        r"(alice-model|Generic video captioner)(?= \(demo|</a>)", page
    )
    assert header_metrics(client.get("/c/demo/val/en/l2/").content.decode())[0] == "cider"


def test_with_a_judge_the_stage_metric_comes_first(client, judged_val):
    for stage, primary in (("l1", "l1"), ("l2", "l2")):
        page = client.get(f"/c/demo/val/en/{stage}/").content.decode()
        assert header_metrics(page)[0] == primary
        assert "the classic metrics are shown first" not in page
    # the test phase has no judge: its boards still lead with the classic columns
    assert header_metrics(client.get("/c/demo/test/en/l2/").content.decode())[0] == "cider"
