"""Issue 13: anonymous visitors' boards are served whole from memory, and never stale.

``boards.public_cache`` keeps each anonymous board response (API JSON, CSV, LaTeX, the page) in the web
process and serves it again without a query, while the boards generation in the shared cache (Redis
here when REDIS_URL is set) is the one it was built under. These tests prove that every kind of write
changes the served board at once, in this process and in other processes, that the time a board
changes by itself (the freeze date) is honoured, that signed-in viewers never share the visitors'
response, and that the language, format and CSRF token are each visitor's own.

The cache is off inside a transaction (what it reads may be rolled back), so these tests commit:
``transactional_db``.
"""

from __future__ import annotations

import re
import subprocess
import time
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leaderboard.boards import public_cache
from leaderboard.boards.services import refresh_boards
from leaderboard.submissions import moderation
from leaderboard.teams.models import Team
from leaderboard.teams.services import refresh_team_boards
from tests.service.test_board_performance import FORMS, seed, url
from tests.support.data import ROOT
from tests.support.network import free_port
from tests.support.processes import process_env
from tests.support.service import api_client_for, make_challenge_organizer, make_participant

pytestmark = pytest.mark.django_db(transaction=True)

#: ``seed(..., teams=6, start=NEW_TEAM)`` gives its one submission to a sixth team: on the board whatever its scores.
NEW_TEAM = 11


@pytest.fixture(autouse=True)
def fresh_entries():
    public_cache.clear()
    yield
    public_cache.clear()


def visit(form: str, client: Client | None = None, **headers):
    """A visitor's request (a fresh client: no cookie) for the board, and the queries it made."""
    with CaptureQueriesContext(connection) as captured:
        response = (client or Client()).get(url(form), **headers)
    assert response.status_code in (200, 304), (form, response.status_code, response.content[:300])
    return response, len(captured.captured_queries)


def body(response) -> bytes:
    """The bytes that are the same for every visitor (the page's CSRF token is each visitor's own)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", response.content)


# -- served from memory ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", list(FORMS))
def test_a_visitors_board_is_served_again_without_a_query(form, demo_val):
    seed(demo_val, 6)
    first, first_queries = visit(form)
    assert first_queries > 0
    again, queries = visit(form)
    assert queries == 0
    assert body(again) == body(first)
    for header in ("ETag", "Last-Modified", "Cache-Control", "Vary", "Content-Type"):
        assert again[header] == first[header], header
    # Revalidation too: a 304 without a body, without a query.
    unchanged, queries = visit(form, HTTP_IF_NONE_MATCH=first["ETag"])
    assert (unchanged.status_code, unchanged.content, queries) == (304, b"", 0)
    assert unchanged["ETag"] == first["ETag"]


# -- every write changes the served board at once ----------------------------------------------------------


def _new_result(phase, made, before):
    [added] = seed(phase, 1, teams=6, start=NEW_TEAM)
    return added.method_name, True


def _moderation(phase, made, before):
    moderation.hide(make_organizer(phase), made[-1], "copied")
    return made[-1].method_name, False


def _rename(phase, made, before):
    team = Team.objects.get(pk=made[0].team_id)
    team.name = "Renamed team"
    team.save()
    refresh_team_boards(team)  # as the admin's save does
    return "Renamed team", True


def _phase_setting(phase, made, before):
    # A phase setting that changes the rows without a new result: every entry of a team, not its best.
    unseen = next(s.method_name for s in made if s.method_name.encode() not in before)
    phase.show_all_entries = True
    phase.save()
    refresh_boards(phase)  # as the phase's admin form does
    return unseen, True


WRITES = {
    "new result": _new_result,
    "moderation": _moderation,
    "team renamed": _rename,
    "phase setting": _phase_setting,
}


@pytest.mark.parametrize("form", ["json", "csv", "page"])
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_changes_the_served_board_at_once(write, form, demo_val):
    made = seed(demo_val, 10, teams=5)
    assert not demo_val.show_all_entries  # each team's best entry: half the entries are not shown
    before, _ = visit(form)
    assert visit(form)[1] == 0  # kept
    expected, present = WRITES[write](demo_val, made, before.content)

    after, queries = visit(form)
    assert queries > 0, "a kept response was served after a write"
    assert (expected.encode() in after.content) is present
    assert after["ETag"] != before["ETag"]
    # A client revalidating its old copy gets the new board.
    assert visit(form, HTTP_IF_NONE_MATCH=before["ETag"])[0].status_code == 200


def test_a_phase_edit_without_a_ranking_changes_the_page_at_once(demo_val):
    seed(demo_val, 3)
    visit("page")
    assert visit("page")[1] == 0
    # A write that changes the page and moves no row: the phase's title is on the page.
    demo_val.title = "A new title for the phase"
    demo_val.save()
    after, queries = visit("page")
    assert queries > 0 and b"A new title for the phase" in after.content


def test_a_kept_board_is_not_served_past_the_freeze_date(demo_val):
    seed(demo_val, 5)
    demo_val.frozen_at = timezone.now() + timedelta(seconds=3)
    demo_val.save()
    refresh_boards(demo_val)
    live, _ = visit("json")
    assert live.json()["as_of"] is None
    assert visit("json")[1] == 0
    # A result after the freeze date: on the live board, not on the frozen one the public sees from then.
    time.sleep(max(0.0, (demo_val.frozen_at - timezone.now()).total_seconds()) + 0.2)
    [late] = seed(demo_val, 1, teams=6, start=NEW_TEAM)
    assert late.method_name in visit("json", api_client_for(make_organizer(demo_val)))[0].content.decode()
    frozen, queries = visit("json")
    assert queries > 0
    assert frozen.json()["as_of"] is not None
    assert late.method_name not in frozen.content.decode()


def test_the_freeze_date_alone_ends_a_kept_board(demo_val):
    """No write at all: the entry ends when the board changes with time."""
    seed(demo_val, 5)
    demo_val.frozen_at = timezone.now() + timedelta(seconds=3)
    demo_val.save()
    refresh_boards(demo_val)
    live = visit("json")[0].json()
    assert live["frozen_at"] is None and visit("json")[1] == 0
    time.sleep(max(0.0, (demo_val.frozen_at - timezone.now()).total_seconds()) + 0.2)
    frozen, queries = visit("json")
    assert queries > 0
    assert frozen.json()["frozen_at"] is not None


def make_organizer(phase):
    organizer = make_participant("board-organizer", None)
    make_challenge_organizer(organizer, phase.challenge)
    return organizer


# -- who sees what ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["json", "page"])
def test_signed_in_viewers_never_share_the_visitors_response(form, demo_val):
    made = seed(demo_val, 10, teams=5)
    organizer = make_organizer(demo_val)
    hidden = made[0]
    moderation.hide(organizer, hidden, "copied")
    member = hidden.user

    visitor, _ = visit(form)
    assert visit(form)[1] == 0
    assert hidden.method_name.encode() not in visitor.content

    def signed_in(user):
        if form == "page":
            client = Client()
            client.force_login(user)
        else:
            client = api_client_for(user)
        return visit(form, client)

    # The team's member sees the team's own hidden entry, marked; the organizer sees every one.
    for user in (member, organizer):
        response, queries = signed_in(user)
        assert queries > 0
        assert hidden.method_name.encode() in response.content
        assert "private" in response["Cache-Control"]
    # Their responses were not kept for visitors either.
    again, queries = visit(form)
    assert queries == 0
    assert hidden.method_name.encode() not in again.content
    assert body(again) == body(visitor)


def test_a_session_cookie_takes_the_ordinary_path(demo_val):
    seed(demo_val, 4)
    visit("page")
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "a-signed-out-session"
    assert visit("page", client)[1] > 0


# -- the key ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", list(FORMS))
def test_the_language_is_part_of_the_key(form, demo_val):
    seed(demo_val, 4)
    english, _ = visit(form, HTTP_ACCEPT_LANGUAGE="en")
    chinese, queries = visit(form, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert queries > 0
    assert english["ETag"] != chinese["ETag"]
    assert english["Content-Language"] == "en" and chinese["Content-Language"].startswith("zh")
    if form == "page":
        assert body(english) != body(chinese)
    # The language cookie chooses as Accept-Language does.
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    by_cookie, queries = visit(form, client, HTTP_ACCEPT_LANGUAGE="en")
    assert queries == 0 and by_cookie["ETag"] == chinese["ETag"]
    assert visit(form, HTTP_ACCEPT_LANGUAGE="en")[0]["ETag"] == english["ETag"]


def test_the_format_is_part_of_the_key(demo_val):
    seed(demo_val, 4)
    document, _ = visit("json")
    assert document["Content-Type"].startswith("application/json")
    # The same path, another format by the Accept header: not the kept JSON.
    csv, queries = visit("json", HTTP_ACCEPT="text/csv")
    assert queries > 0
    assert csv["Content-Type"].startswith("text/csv") and csv.content != document.content
    assert visit("json", HTTP_ACCEPT="text/csv")[0].content == csv.content
    assert visit("json")[0].content == document.content
    latex, _ = visit("latex")
    assert latex["Content-Type"].startswith("application/x-latex")
    assert "attachment" in latex["Content-Disposition"]
    assert visit("latex")[0]["Content-Disposition"] == latex["Content-Disposition"]


def test_each_visitor_gets_a_csrf_token_of_their_own_that_works(demo_val):
    seed(demo_val, 4)
    tokens = []
    for _ in range(2):
        client = Client(enforce_csrf_checks=True)
        response, _ = visit("page", client)
        [token] = re.findall(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)
        tokens.append(token)
        # The token goes with the cookie the response sets: the language switch accepts it.
        form = {"language": "zh-hans", "next": url("page"), "csrfmiddlewaretoken": token.decode()}
        switched = client.post("/language/", form)
        assert switched.status_code == 302, switched.status_code
    assert tokens[0] != tokens[1]
    assert visit("page")[1] == 0  # the second was served from memory


# -- across processes ---------------------------------------------------------------------------------------


@pytest.fixture
def web_server(tmp_path):
    """The Procfile's web process (gunicorn with gunicorn.conf.py, two workers) on the tests' database."""
    port = free_port()
    log = tmp_path / "web.log"
    env = process_env(PORT=str(port), WEB_CONCURRENCY="2", DEBUG="1", ALLOWED_HOSTS="127.0.0.1")
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "leaderboard.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("form", ["json", "page"])
def test_a_write_in_another_process_changes_what_every_web_worker_serves(form, demo_val, web_server):
    made = seed(demo_val, 6, teams=5)

    def fetch_all(times: int = 12) -> list[str]:
        # A new connection each: the requests spread over both workers, each keeping the board.
        return [requests.get(web_server + url(form), timeout=30).text for _ in range(times)]

    assert all(made[-1].method_name in text for text in fetch_all())
    [added] = seed(demo_val, 1, teams=6, start=NEW_TEAM)
    assert all(added.method_name in text for text in fetch_all())
    team = Team.objects.get(pk=made[0].team_id)
    team.name = "Renamed across processes"
    team.save()
    refresh_team_boards(team)
    assert all("Renamed across processes" in text for text in fetch_all())
