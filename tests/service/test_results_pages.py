"""A team's own results (issue 12, "Seeing one's own results"): the per-clip browser, the comparison of
submissions and the result history, shown to the submission's team (and organizers) only, with nothing of
a hidden phase's references."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from evaluation.metrics import METRICS
from leaderboard.challenges.models import ReferenceSet
from leaderboard.submissions import intake, scoring, selectors
from leaderboard.submissions.models import Result, Submission
from tests.support.service import demo_file, make_challenge_organizer, make_participant

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def no_judge(settings):
    settings.JUDGE_DEFAULTS = {}


def scored(user, phase, data: bytes, method_name: str = "m", language: str = "zh") -> Submission:
    submission = intake.submit(
        user=user, phase=phase, language=language, data=data, method=intake.MethodInfo(method_name=method_name)
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return Submission.objects.get(pk=submission.pk)


def changed(name: str, clip_index: int, text: str, *more: tuple[int, str]) -> bytes:
    """A demo prediction file with the narration of its ``clip_index``-th clip (by id) replaced by ``text``,
    and likewise for each further (index, text) pair."""
    narrations = json.loads(demo_file(name))
    clip_ids = sorted(narrations)
    for index, narration in ((clip_index, text), *more):
        narrations[clip_ids[index]] = narration
    return json.dumps(narrations, ensure_ascii=False).encode()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def per_clip(submission: Submission) -> dict:
    return Result.objects.get(pk=submission.current_result_id).per_clip


def body_rows(html: str, table_id: str) -> list[list[str]]:
    """The body cells of the table ``table_id``, as raw HTML."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.DOTALL).group(0)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.DOTALL).group(1)
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)
    ]


def text(cell: str) -> str:
    return re.sub(r"<[^>]+>", "", cell).strip()


def clip_table(html: str) -> list[dict]:
    """The per-clip browser's rows: clip id, film, reference, narration (raw, escaped HTML) and the score cells."""
    return [
        {
            "clip": text(cells[0]),
            "film": text(cells[1]),
            "reference": cells[2],
            "narration": cells[3],
            "scores": cells[4:],
        }
        for cells in body_rows(html, "clips")
    ]


def sorted_column(html: str) -> tuple[str, str]:
    """(metric label, "ascending"/"descending") of the column the clip table is sorted by."""
    match = re.search(r'aria-sort="(ascending|descending)"><a href="[^"]*" class="sort current">([^<]+)<', html)
    return match.group(2), match.group(1)


def metric_named(label: str) -> str:
    return next(name for name, info in METRICS.items() if info.label == label)


def fmt(value: float, metric: str) -> str:
    return f"{value:.{METRICS[metric].precision}f}"


# -- the per-clip browser ----------------------------------------------------------------------------------


def test_the_clip_browser_shows_reference_and_narration_side_by_side_worst_first(alice, demo_val):
    submission = scored(alice, demo_val, demo_file("val-zh.json"))
    html = signed_in(alice).get(f"/submissions/{submission.pk}/clips/").content.decode()
    references = ReferenceSet.objects.get(phase=demo_val, language="zh").narrations
    narrations = json.loads(demo_file("val-zh.json"))
    scores = per_clip(submission)
    rows = clip_table(html)
    assert len(rows) == len(scores)
    for row in rows:
        assert row["reference"] == references[row["clip"]]  # the reference beside the narration, in one row
        assert row["narration"] == narrations[row["clip"]]
        assert row["film"]  # the movie's title (or its id)

    label, order = sorted_column(html)
    metric = metric_named(label)
    phase_primaries = list(demo_val.boards.values_list("primary_metric", flat=True))
    expected_metric = next((name for name in phase_primaries if name in next(iter(scores.values()))), "rouge_l")
    assert metric == expected_metric and order == "ascending"
    worst_first = sorted(scores, key=lambda clip: (scores[clip][metric], clip))
    assert [row["clip"] for row in rows] == worst_first
    metrics = selectors.clip_metrics(scores)
    column = metrics.index(metric)
    assert [text(row["scores"][column]) for row in rows] == [fmt(scores[clip][metric], metric) for clip in worst_first]


def test_sort_links_sort_by_any_metric_either_way(alice, demo_val):
    submission = scored(alice, demo_val, demo_file("val-zh.json"))
    client = signed_in(alice)
    url = f"/submissions/{submission.pk}/clips/"
    scores = per_clip(submission)
    html = client.get(url).content.decode()
    # A plain link per metric column; following the CIDEr one sorts by CIDEr, worst first.
    link = re.search(r'<a href="([^"]*)" class="sort">CIDEr<', html).group(1).replace("&amp;", "&")
    assert link == "?sort=cider&order=asc"
    ascending = client.get(url + link).content.decode()
    assert sorted_column(ascending) == ("CIDEr", "ascending")
    assert [row["clip"] for row in clip_table(ascending)] == sorted(scores, key=lambda c: (scores[c]["cider"], c))
    # The sorted column's link turns the order round.
    again = re.search(r'<a href="([^"]*)" class="sort current">CIDEr<', ascending).group(1).replace("&amp;", "&")
    assert again == "?sort=cider&order=desc"
    descending = client.get(url + again).content.decode()
    assert sorted_column(descending) == ("CIDEr", "descending")
    values = [scores[row["clip"]]["cider"] for row in clip_table(descending)]
    assert values == sorted(values, reverse=True)
    # An unknown metric falls back to the default order rather than failing.
    assert client.get(url + "?sort=nonsense&order=sideways").status_code == 200


def test_narrations_are_escaped(alice, demo_val):
    submission = scored(alice, demo_val, changed("val-zh.json", 0, f"{HOSTILE}他打开灯。"))
    html = signed_in(alice).get(f"/submissions/{submission.pk}/clips/").content.decode()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;他打开灯。" in html


def test_only_the_team_and_organizers_see_the_clip_browser(alice, bob, demo_val):
    submission = scored(alice, demo_val, demo_file("val-zh.json"))
    url = f"/submissions/{submission.pk}/clips/"
    assert signed_in(bob).get(url).status_code == 404
    assert Client().get(url).status_code == 404
    assert signed_in(alice).get("/submissions/999999/clips/").status_code == 404
    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    assert len(clip_table(signed_in(organizer).get(url).content.decode())) == len(per_clip(submission))


def test_a_hidden_phase_shows_no_reference_narration_or_per_clip_score(alice, demo_test):
    submission = scored(alice, demo_test, demo_file("test-zh.json"))
    response = signed_in(alice).get(f"/submissions/{submission.pk}/clips/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="clips-hidden"' in html and f"/submissions/{submission.pk}/#breakdown" in html
    assert 'id="clips"' not in html
    for reference in ReferenceSet.objects.get(phase=demo_test, language="zh").narrations.values():
        assert reference not in html
    for narration in json.loads(demo_file("test-zh.json")).values():
        assert narration not in html
    # Not even for the organizers: per-clip scores of a hidden split would leak its references.
    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    assert 'id="clips"' not in signed_in(organizer).get(f"/submissions/{submission.pk}/clips/").content.decode()


# -- comparing submissions ---------------------------------------------------------------------------------


def compare_rows(html: str) -> dict[str, list[dict]]:
    table = re.search(r'<table[^>]*id="compare-metrics".*?</table>', html, re.DOTALL).group(0)
    rows = {}
    for metric, cells in re.findall(r'<tr data-metric="([^"]+)">(.*?)</tr>', table, re.DOTALL):
        rows[metric] = [
            {
                "value": re.search(r'<span class="value">(.*?)</span>', cell).group(1),
                "interval": (re.search(r'<span class="ci">(.*?)</span>', cell) or [None, ""])[1],
                "difference": (re.search(r'<span class="difference">(.*?)</span>', cell) or [None, ""])[1],
            }
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.DOTALL)
        ]
    return rows


def test_compare_shows_the_metrics_with_their_differences_to_the_first(alice, demo_val):
    first = scored(alice, demo_val, demo_file("val-zh.json"), "first")
    second = scored(alice, demo_val, changed("val-zh.json", 1, "一只猫坐在窗台上。"), "second")
    response = signed_in(alice).get(f"/submissions/compare/?ids={first.pk},{second.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    a = Result.objects.get(pk=first.current_result_id)
    b = Result.objects.get(pk=second.current_result_id)
    rows = compare_rows(html)
    assert set(rows) == set(a.metrics)
    for metric, (left, right) in rows.items():
        precision = METRICS[metric].precision
        assert left["value"] == fmt(a.metrics[metric], metric) and right["value"] == fmt(b.metrics[metric], metric)
        assert left["difference"] == ""
        assert right["difference"] == f"{b.metrics[metric] - a.metrics[metric]:+.{precision}f}"
        low, high = b.intervals["metrics"][metric]
        assert right["interval"] == f"[{fmt(low, metric)}, {fmt(high, metric)}]"

    # The clips where they differ most: the changed clip first, with both narrations and the reference.
    changed_clip = sorted(json.loads(demo_file("val-zh.json")))[1]
    differing = body_rows(html, "differing-clips")
    assert 1 <= len(differing) <= 20
    assert changed_clip in differing[0][0]
    assert "一只猫坐在窗台上。" in differing[0][3]
    assert json.loads(demo_file("val-zh.json"))[changed_clip] in differing[0][2]
    assert ReferenceSet.objects.get(phase=demo_val, language="zh").narrations[changed_clip] in differing[0][1]


def test_the_my_submissions_page_has_a_compare_form(alice, demo_val):
    first = scored(alice, demo_val, demo_file("val-zh.json"))
    html = signed_in(alice).get("/submissions/").content.decode()
    assert '<form method="get" action="/submissions/compare/"' in html
    assert f'name="ids" value="{first.pk}"' in html
    # The checkboxes send ?ids=1&ids=2: the page takes that as well as ?ids=1,2.
    second = scored(alice, demo_val, changed("val-zh.json", 2, "她笑了。"))
    response = signed_in(alice).get("/submissions/compare/", {"ids": [first.pk, second.pk]})
    assert response.status_code == 200 and 'id="compare-metrics"' in response.content.decode()


def test_compare_refuses_mixed_phases_and_languages_with_a_message(alice, demo_val, demo_test):
    val_zh = scored(alice, demo_val, demo_file("val-zh.json"))
    val_en = scored(alice, demo_val, demo_file("val-en.json"), language="en")
    test_zh = scored(alice, demo_test, demo_file("test-zh.json"))
    client = signed_in(alice)
    languages = client.get(f"/submissions/compare/?ids={val_zh.pk},{val_en.pk}")
    assert languages.status_code == 400 and "different languages" in languages.content.decode()
    phases = client.get(f"/submissions/compare/?ids={val_zh.pk},{test_zh.pk}")
    assert phases.status_code == 400 and "different phases" in phases.content.decode()
    one = client.get(f"/submissions/compare/?ids={val_zh.pk}")
    assert one.status_code == 400 and "two or more" in one.content.decode()
    assert client.get("/submissions/compare/?ids=1,x").status_code == 400


def test_compare_refuses_another_teams_submission(alice, bob, demo_val):
    own = scored(alice, demo_val, demo_file("val-zh.json"))
    theirs = scored(bob, demo_val, changed("val-zh.json", 3, "他走了。"))
    assert signed_in(alice).get(f"/submissions/compare/?ids={own.pk},{theirs.pk}").status_code == 404
    assert Client().get(f"/submissions/compare/?ids={own.pk},{theirs.pk}").status_code == 404
    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    assert signed_in(organizer).get(f"/submissions/compare/?ids={own.pk},{theirs.pk}").status_code == 200


def test_compare_on_a_hidden_phase_shows_rounded_scores_and_no_clip(alice, demo_test):
    first = scored(alice, demo_test, demo_file("test-zh.json"))
    second = scored(alice, demo_test, changed("test-zh.json", 0, "她笑了。", (1, "他走了。")))
    html = signed_in(alice).get(f"/submissions/compare/?ids={first.pk},{second.pk}").content.decode()
    assert 'id="compare-metrics"' in html and 'id="differing-clips"' not in html
    for reference in ReferenceSet.objects.get(phase=demo_test, language="zh").narrations.values():
        assert reference not in html
    from leaderboard.boards.disclosure import disclosed_scores

    a = Result.objects.get(pk=first.current_result_id)
    b = Result.objects.get(pk=second.current_result_id)
    shown_a, shown_b = (disclosed_scores(result.metrics, demo_test, None) for result in (a, b))
    for metric, (_, right) in compare_rows(html).items():
        assert right["difference"] == f"{shown_b[metric] - shown_a[metric]:+.{METRICS[metric].precision}f}"


# -- the result history ------------------------------------------------------------------------------------


def test_the_submission_page_lists_its_results_and_marks_the_current_one(alice, bob, demo_val):
    submission = scored(alice, demo_val, demo_file("val-zh.json"))
    old = submission.current_result
    new = scoring.rescore(submission.pk)
    assert new is not None
    submission.refresh_from_db()
    html = signed_in(alice).get(f"/submissions/{submission.pk}/").content.decode()
    history = re.search(r'<section aria-labelledby="history-title".*?</section>', html, re.DOTALL).group(0)
    rows = re.findall(r'<tr(?: class="current")? data-result="(\d+)">(.*?)</tr>', history, re.DOTALL)
    assert [int(pk) for pk, _ in rows] == [new.pk, old.pk]  # newest first
    current = [int(pk) for pk, row in rows if "<strong>current</strong>" in row]
    assert current == [submission.current_result_id]
    assert new.reference_hash[:12] in history and new.evaluation_version in history
    assert f"/submissions/{submission.pk}/clips/" in html
    # The page stays its team's: the history with it.
    assert signed_in(bob).get(f"/submissions/{submission.pk}/").status_code == 404
