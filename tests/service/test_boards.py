"""The boards room: rows ranked on write and stored, a board view that reads them, and what heals them."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from rest_framework.test import APIClient

from leaderboard.boards.models import Baseline, BoardEntry, BoardSnapshot
from leaderboard.boards.services import refresh_boards
from leaderboard.submissions import intake, moderation, scoring
from leaderboard.submissions.models import Submission
from leaderboard.teams import services as team_services
from tests.support.boards import stale_boards
from tests.support.service import api_client_for, demo_file, make_participant

BOARD = "/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/"
BOARD_PAGE = "/c/demo/val/zh/l1/"


def scored(user, phase, method_name: str, language: str = "zh") -> Submission:
    submission = intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=demo_file(f"{phase.slug}-{language}.json"),
        method=intake.MethodInfo(is_public=True, method_name=method_name),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return Submission.objects.get(pk=submission.pk)


class Work:
    """The queries a request makes and the rows they return (rows: PostgreSQL reports them for a SELECT)."""

    def __init__(self):
        self.queries: list[str] = []
        self.rows = 0

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.queries.append(sql)
        if sql.lstrip().upper().startswith("SELECT"):
            self.rows += max(context["cursor"].rowcount, 0)
        return result


def work_of(url: str) -> tuple[Work, list[dict] | str]:
    work = Work()
    with connection.execute_wrapper(work):
        response = APIClient().get(url)
    assert response.status_code == 200
    return work, (response.json()["rows"] if url.startswith("/api/") else response.content.decode())


@pytest.mark.parametrize("url", [BOARD, BOARD_PAGE])
def test_a_board_view_does_the_same_work_however_many_submissions_there_are(url, demo_val, alice, bob):
    carol = make_participant("carol", "Team C")
    teams = [alice, bob, carol]
    for user in teams:
        scored(user, demo_val, f"{user.username}-1")
    before, rows_before = work_of(url)

    for round_ in (2, 3):
        for user in teams:
            scored(user, demo_val, f"{user.username}-{round_}")
    assert Submission.objects.filter(phase=demo_val, status="finished").count() == 9
    after, rows_after = work_of(url)

    assert len(after.queries) == len(before.queries)
    if connection.vendor == "postgresql":
        assert after.rows == before.rows
    # Best per team, equal scores: each team's first entry stands for it.
    shown = {"alice-1", "bob-1", "carol-1"}
    if url == BOARD:
        assert {row["method_name"] for row in rows_before} == {row["method_name"] for row in rows_after} == shown
    else:
        assert all(name in rows_after for name in shown) and "alice-3" not in rows_after
    assert not any("submissions_submission" in sql for sql in after.queries)  # the rows alone, no ranking


def test_showing_every_entry_stores_every_entry(demo_val, alice):
    """The check above can fail: a board that shows every entry reads one row per entry."""
    demo_val.show_all_entries = True
    demo_val.save()
    for round_ in range(3):
        scored(alice, demo_val, f"alice-{round_}")
    rows = APIClient().get(BOARD).json()["rows"]
    assert [row["method_name"] for row in rows] == ["alice-0", "alice-1", "alice-2"]  # equal scores: earlier first
    assert [row["rank"] for row in rows] == [1, 1, 1]
    assert BoardEntry.objects.filter(board__key="l1", language="zh", moment="live").count() == 3


def public_methods() -> list[str]:
    return [row["method_name"] for row in APIClient().get(BOARD).json()["rows"]]


def test_moderation_bans_and_the_public_flag_move_the_stored_board_at_once(demo_val, alice, bob, admin_user):
    first, second = scored(alice, demo_val, "alice-entry"), scored(bob, demo_val, "bob-entry")
    assert sorted(public_methods()) == ["alice-entry", "bob-entry"]

    moderation.hide(admin_user, second, "a duplicate")
    assert public_methods() == ["alice-entry"]
    moderation.restore(admin_user, second, "not a duplicate after all")
    assert sorted(public_methods()) == ["alice-entry", "bob-entry"]

    team_services.ban(admin_user, second.team, "many accounts")
    assert public_methods() == ["alice-entry"]
    team_services.unban(admin_user, second.team, "appeal granted")
    assert sorted(public_methods()) == ["alice-entry", "bob-entry"]

    intake.update_method(first, intake.MethodInfo(method_name="alice-renamed", is_public=False))
    assert public_methods() == ["bob-entry"]

    moderation.mark_baseline(admin_user, second, "the organizers' run", "reference point")
    rows = APIClient().get(BOARD).json()["rows"]
    assert [(row["method_name"], row["rank"], row["baseline"]) for row in rows] == [("bob-entry", None, True)]
    assert not stale_boards()


def test_a_board_out_of_date_without_a_write_is_ranked_again_by_the_next_view(demo_val, alice, bob):
    scored(alice, demo_val, "alice-entry")
    scored(bob, demo_val, "bob-entry")
    assert len(APIClient().get(BOARD).json()["rows"]) == 2
    # Edited in place, as the admin's change form or a shell would, with no refresh: the view notices.
    demo_val.show_all_entries = True
    demo_val.save()
    scored(alice, demo_val, "alice-again")
    BoardSnapshot.objects.filter(phase=demo_val).update(inputs="out of date")
    assert sorted(public_methods()) == ["alice-again", "alice-entry", "bob-entry"]
    assert BoardSnapshot.objects.filter(phase=demo_val, language="zh").exclude(inputs="out of date").exists()


def test_refresh_boards_command_ranks_what_was_changed_by_hand(demo_val, alice):
    scored(alice, demo_val, "alice-entry")
    Baseline.objects.create(
        phase=demo_val, language="zh", key="paper", method_name="paper", citation="A paper", scores={"cider": 99.0}
    )
    assert stale_boards()  # changed by hand: the stored rows do not know yet
    out = io.StringIO()
    call_command("refresh_boards", "--challenge", "demo", "--phase", "val", stdout=out)
    assert "ranked the boards of demo/val" in out.getvalue()
    assert not stale_boards()
    assert public_methods() == ["paper", "alice-entry"]


def test_the_frozen_rows_are_stored_apart_from_the_live_ones(demo_val, alice, bob, admin_user):
    scored(alice, demo_val, "before-the-freeze")
    demo_val.frozen_at = timezone.now()
    demo_val.save()
    scored(bob, demo_val, "after-the-freeze")

    stored = BoardEntry.objects.filter(board__key="l1", language="zh")
    moments = dict(stored.values_list("moment").annotate(count=Count("id")))
    assert moments == {"live": 2, "frozen": 1}
    assert public_methods() == ["before-the-freeze"]
    live = api_client_for(admin_user).get(BOARD).json()["rows"]
    assert sorted(row["method_name"] for row in live) == ["after-the-freeze", "before-the-freeze"]

    demo_val.frozen_at = None
    demo_val.save()
    refresh_boards(demo_val)
    assert not stored.filter(moment="frozen").exists()
    assert sorted(public_methods()) == ["after-the-freeze", "before-the-freeze"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="rows read are counted from PostgreSQL's row counts")
def test_ranking_again_after_one_teams_write_reads_that_team_and_the_board_only(demo_val, alice, bob):
    carol = make_participant("carol", "Team C")
    scored(alice, demo_val, "alice-1")
    scored(bob, demo_val, "bob-1")
    scored(carol, demo_val, "carol-1")
    team = Submission.objects.filter(user=alice).values_list("team_id", flat=True).first()

    def refresh_work() -> Work:
        work = Work()
        with connection.execute_wrapper(work):
            refresh_boards(demo_val, "zh", team_id=team)
        return work

    before = refresh_work()
    for round_ in (2, 3, 4, 5):
        scored(bob, demo_val, f"bob-{round_}")
        scored(carol, demo_val, f"carol-{round_}")
    after = refresh_work()
    assert after.rows == before.rows and len(after.queries) == len(before.queries)
    assert not stale_boards()
    # Ranking everything reads every entry: the figure above would have grown.
    everything = Work()
    with connection.execute_wrapper(everything):
        refresh_boards(demo_val, "zh")
    assert everything.rows > after.rows
