"""Issue 13: a board answers in work that does not grow with the submissions, and answers 304 when unchanged.

The board API (JSON, CSV, LaTeX) and the board page read the rows stored on write (``boards.services``),
never the submissions; their ETag and Last-Modified come from the stored rows' snapshot and everything
else the body shows (``boards.conditional``), so an unchanged board answers If-None-Match with a 304 and
no body, without reading a row. No timing here: bench/board_requests.py measures.
"""

from __future__ import annotations

import random

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evaluation.metrics import METRICS
from leaderboard.boards.models import Board
from leaderboard.boards.services import refresh_boards
from leaderboard.submissions.models import Result, Status, Submission
from leaderboard.teams.models import Membership, Team
from tests.support.service import api_client_for, make_challenge_organizer, make_participant

API = "/api/v1/challenges/demo/phases/{phase}/leaderboards/{language}/l1/"
PAGE = "/c/demo/{phase}/{language}/l1/"
#: Every form of a board: the API's document and files, and the page.
FORMS = {
    "json": API,
    "csv": API + "?format=csv",
    "latex": API + "?format=latex",
    "page": PAGE,
}


def url(form: str, phase: str = "val", language: str = "zh") -> str:
    return FORMS[form].format(phase=phase, language=language)


def seed(phase, count: int, *, teams: int = 5, language: str = "zh", start: int = 0) -> list[Submission]:
    """``count`` finished public submissions of ``teams`` teams, each with a result, and the boards refreshed.

    Made directly (no upload, no scoring), as bench/board_requests.py seeds: many rows, quickly.
    """
    rng = random.Random(start)
    users = []
    for index in range(teams):
        team = Team.objects.filter(name=f"Perf team {index}").first()
        if team is None:
            make_participant(f"perf{index}", f"Perf team {index}")
            team = Team.objects.get(name=f"Perf team {index}")
        users.append((Membership.objects.filter(team=team).first().user, team))
    now = timezone.now()
    made = []
    for number in range(start, start + count):
        user, team = users[number % teams]
        submission = Submission.objects.create(
            phase=phase,
            team=team,
            user=user,
            language=language,
            predictions_file=f"submissions/perf/{number}.json",
            original_filename="predictions.json",
            file_format="json",
            method_name=f"perf-{number}",
            is_public=True,
            status=Status.FINISHED,
            attempts=1,
            started_at=now,
            finished_at=now,
        )
        result = Result.objects.create(
            submission=submission,
            metrics={name: round(rng.uniform(0.1, 0.9), 6) for name in METRICS},
            per_clip={},
            clips=10,
            evaluation_version="perf",
            protocol="perf",
            reference_hash="",
            duration_seconds=1.0,
        )
        submission.current_result = result
        submission.save(update_fields=["current_result"])
        made.append(submission)
    refresh_boards(phase)
    return made


def client_for(form: str, user=None):
    """The API's token client or the site's session client, signed in as ``user`` (None: a visitor)."""
    if form == "page":
        client = Client()
        if user is not None:
            client.force_login(user)
        return client
    return api_client_for(user) if user is not None else Client()


def get(form: str, user=None, *, phase="val", language="zh", **headers):
    response = client_for(form, user).get(url(form, phase, language), **headers)
    assert response.status_code in (200, 304), (form, response.status_code, response.content[:300])
    return response


def queries_of(form: str, *, warm: bool = False) -> list[str]:
    """The queries of a request for the board, made from the stored rows (``warm``: from the process's
    cache of the document or the rendered rows, kept by the ETag's key)."""
    client = client_for(form)
    client.get(url(form))  # a first request sets up what every later one has (a session, a CSRF cookie)
    if not warm:
        cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url(form))
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


# -- the work does not grow with the submissions --------------------------------------------------------


@pytest.mark.parametrize("form", list(FORMS))
def test_a_board_makes_the_same_queries_for_5_and_60_submissions(form, demo_val):
    seed(demo_val, 5)
    few = queries_of(form)
    seed(demo_val, 55, start=5)
    assert Submission.objects.filter(phase=demo_val, status=Status.FINISHED).count() == 60
    many = queries_of(form)

    assert len(many) == len(few), "\n".join(many)
    assert not any("submissions_submission" in sql or "submissions_result" in sql for sql in many)
    assert sum("boards_boardentry" in sql for sql in many) == 1  # one read of the stored rows
    # Again, with the document (API) or the rendered rows (page) kept: no more queries, and the API's
    # document is not made again.
    warm = queries_of(form, warm=True)
    assert len(warm) <= len(many)
    if form != "page":
        assert not any("boards_boardentry" in sql for sql in warm)


# -- conditional responses ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", list(FORMS))
def test_an_unchanged_board_answers_304_with_no_body_and_reads_no_row(form, demo_val):
    seed(demo_val, 6)
    first = get(form)
    assert first.status_code == 200
    etag, modified = first["ETag"], first["Last-Modified"]
    assert etag and modified
    assert "Accept-Language" in first["Vary"] and "Cookie" in first["Vary"]

    with CaptureQueriesContext(connection) as captured:
        again = get(form, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert "Accept-Language" in again["Vary"]
    assert not any("boards_boardentry" in query["sql"] for query in captured.captured_queries)

    # If-Modified-Since alone, as a client without the ETag asks.
    assert get(form, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    # Another ETag: the whole board.
    other = get(form, HTTP_IF_NONE_MATCH='"something-else"')
    assert other.status_code == 200
    if form != "page":  # the page's CSRF token differs in bytes (its ETag is weak)
        assert other.content == first.content


@pytest.mark.parametrize("form", list(FORMS))
def test_a_new_finished_submission_changes_the_etag(form, demo_val):
    seed(demo_val, 5)
    before = get(form)
    [added] = seed(demo_val, 1, teams=6, start=5)  # a new team: on the board whatever its scores
    after = get(form, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert added.method_name.encode() in after.content
    assert get(form, HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304


def test_a_shared_cache_may_keep_the_public_document_only(demo_val, alice):
    seed(demo_val, 5)
    visitor = get("json")
    assert "public" in visitor["Cache-Control"] and "max-age" in visitor["Cache-Control"]
    assert get("json")["ETag"] == visitor["ETag"]  # every visitor, the same document
    signed_in = get("json", alice)
    assert "private" in signed_in["Cache-Control"] and "public" not in signed_in["Cache-Control"]
    assert "Authorization" in signed_in["Vary"]
    page = get("page")
    assert "private" in page["Cache-Control"] and "public" not in page["Cache-Control"]


@pytest.mark.parametrize("form", list(FORMS))
def test_the_etag_differs_between_languages(form, demo_val):
    seed(demo_val, 5)
    english = get(form, HTTP_ACCEPT_LANGUAGE="en")
    chinese = get(form, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert english["ETag"] != chinese["ETag"]
    if form == "page":
        assert english.content != chinese.content
    # The English copy is not current for a Chinese reader.
    assert get(form, HTTP_ACCEPT_LANGUAGE="zh-hans", HTTP_IF_NONE_MATCH=english["ETag"]).status_code == 200
    # Nor is the other language's board.
    assert get(form, language="en")["ETag"] != get(form)["ETag"]


@pytest.mark.parametrize("form", list(FORMS))
def test_the_etag_differs_between_an_organizer_and_a_visitor(form, demo_val):
    hidden, *_ = seed(demo_val, 5)
    Submission.objects.filter(pk=hidden.pk).update(moderation="hidden", moderation_reason="looks copied")
    refresh_boards(demo_val)
    organizer = make_challenge_organizer(make_participant("olga"), demo_val.challenge)

    visitor = get(form)
    seen = get(form, organizer)
    assert hidden.method_name.encode() not in visitor.content
    assert hidden.method_name.encode() in seen.content
    assert seen["ETag"] != visitor["ETag"]
    # The visitor's copy is not the organizer's, nor the other way round.
    assert get(form, organizer, HTTP_IF_NONE_MATCH=visitor["ETag"]).status_code == 200
    assert get(form, HTTP_IF_NONE_MATCH=seen["ETag"]).status_code == 200
    assert get(form, organizer, HTTP_IF_NONE_MATCH=seen["ETag"]).status_code == 304


# -- a hidden phase: rounding and visibility still hold --------------------------------------------------


def test_a_hidden_phase_is_rounded_for_everyone_but_its_organizers_and_the_etags_tell_them_apart(demo_test, alice):
    Board.objects.filter(phase=demo_test).update(precision=2)
    seed(demo_test, 5)
    organizer = make_challenge_organizer(make_participant("olga"), demo_test.challenge)

    visitor = get("json", phase="test")
    participant = get("json", alice, phase="test")
    full = get("json", organizer, phase="test")
    rows = [row for row in visitor.json()["rows"] if not row["baseline"]]
    assert rows and all(value == round(value, 2) for row in rows for value in row["scores"].values())
    assert participant.json()["rows"] == visitor.json()["rows"]
    full_rows = [row for row in full.json()["rows"] if not row["baseline"]]
    assert any(value != round(value, 2) for row in full_rows for value in row["scores"].values())
    assert full["ETag"] != visitor["ETag"]
    # The organizer's full-precision copy is never current for anyone else.
    for user in (None, alice):
        assert get("json", user, phase="test", HTTP_IF_NONE_MATCH=full["ETag"]).status_code == 200
    assert get("page", phase="test", HTTP_IF_NONE_MATCH=get("page", organizer, phase="test")["ETag"]).status_code == (
        200
    )
    # A board the public may not see answers 404, conditional or not.
    demo_test.board_visibility = "organizers"
    demo_test.save()
    assert Client().get(url("json", "test"), HTTP_IF_NONE_MATCH=visitor["ETag"]).status_code == 404
    assert get("json", organizer, phase="test", HTTP_IF_NONE_MATCH=full["ETag"]).status_code in (200, 304)
