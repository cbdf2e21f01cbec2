"""Issue 12, "a first hour, tried as a new user would": the site's parts, one test or more each."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard.audit.models import AuditEvent
from leaderboard.submissions import intake
from leaderboard.submissions.models import Submission
from leaderboard.teams.models import Membership, Team
from tests.service.test_browser import browser, sign_in  # noqa: F401, F811 (the fixture)
from tests.support.service import demo_file, make_participant

SUBMIT = "/c/demo/val/submit/"
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


# -- 1. the submit form: every missing field, by label, the same on the page and for its script ----------


def test_missing_language_and_file_are_both_named_by_their_labels(signed_in, demo_val):
    page = signed_in.post(SUBMIT, {"method_name": "m"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "Language: Choose the language of the narrations." in html
    assert "Predictions file: No file was chosen." in html
    assert "The file was rejected" not in html and "predictions:" not in html
    assert "Missing: Language, Predictions file." in html

    script = signed_in.post(SUBMIT, {"method_name": "m"}, **JSON)
    assert script.status_code == 400
    body = script.json()
    assert body["code"] == "invalid_fields" and {error["field"] for error in body["errors"]} == {
        "language",
        "predictions",
    }
    assert body["title"].startswith("Missing: Language, Predictions file.")
    assert body["messages"] == [
        "Language: Choose the language of the narrations.",
        "Predictions file: No file was chosen. Choose your JSON or JSON Lines file of narrations.",
    ]
    for message in body["messages"]:
        assert message in html.replace("&#x27;", "'")
    assert not Submission.objects.exists()


def test_a_missing_file_alone_is_named_not_rejected(signed_in, demo_val):
    page = signed_in.post(SUBMIT, {"language": "zh"})
    html = page.content.decode()
    assert page.status_code == 400 and "Missing: Predictions file." in html and "The file was rejected" not in html
    body = signed_in.post(SUBMIT, {"language": "zh"}, **JSON).json()
    assert body["title"].startswith("Missing: Predictions file.") and len(body["messages"]) == 1


def test_a_rejected_file_keeps_its_heading_and_a_refusal_its_status(signed_in, alice, demo_val):
    data = {"language": "zh", "predictions": SimpleUploadedFile("p.json", b"[]")}
    page = signed_in.post(SUBMIT, data)
    assert page.status_code == 400 and "The file was rejected" in page.content.decode()
    body = signed_in.post(SUBMIT, {"language": "zh", "predictions": SimpleUploadedFile("p.json", b"[]")}, **JSON).json()
    assert body["title"].startswith("The file was rejected") and body["messages"] == [body["errors"][0]["message"]]
    # Not allowed now: the refusal alone, with its status, even with fields missing.
    Team.objects.filter(memberships__user=alice).update(banned=True, ban_reason="bots")
    refused = signed_in.post(SUBMIT, {})
    assert refused.status_code == 403 and "Your team is banned from submitting: bots" in refused.content.decode()
    assert signed_in.post(SUBMIT, {}, **JSON).json()["code"] == "team_banned"


# -- 2. truncated files: what the site answers ------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # cut inside a string
        (b'{"9100000000000000001_12_18": "a narr', "the file ends inside it: a closing quote is missing, or it is cut"),
        # cut in the middle of an object, after a key
        (b'{"9100000000000000001_12_18": ', "Expecting value, but the file ends here: it may be cut short."),
        # cut after a comma
        (b'{\n  "9100000000000000001_12_18": "x",\n', "line 3, column 1: Expecting property name enclosed in double"),
        # cut inside a multi-byte character: UTF-8 cut short, not "not UTF-8"
        ('{"9100000000000000001_12_18": "他走进'.encode()[:-1], "ends in the middle of a UTF-8 character"),
    ],
)
def test_a_truncated_file_gets_a_clear_message_on_the_site(signed_in, demo_val, data, expected):
    for headers in ({}, JSON):
        response = signed_in.post(
            SUBMIT, {"language": "zh", "predictions": SimpleUploadedFile("p.json", data)}, **headers
        )
        assert response.status_code == 400
        text = response.json()["messages"][0] if headers else response.content.decode()
        assert expected in text and "Invalid control character" not in text
        assert "cut short" in text


# -- 4. links: help, the token's use, the way back from the API docs, admin, favicon ---------------------


def test_the_help_page_explains_the_scorer_the_token_and_links_the_api_docs(client, demo_val):
    html = client.get("/help/").content.decode()
    assert "python -m evaluation score" in html and "python -m evaluation validate" in html
    assert "Authorization: Token $TOKEN" in html and "http://testserver/api/v1/challenges/demo/phases/" in html
    assert 'href="/api/docs/"' in html
    assert 'href="/help/"' in client.get("/").content.decode()


def test_the_token_page_shows_curl_with_the_real_host(signed_in, demo_val, settings):
    settings.ALLOWED_HOSTS = ["board.example.org"]
    html = signed_in.get("/token/", HTTP_HOST="board.example.org:8123").content.decode()
    assert "curl -H" in html and "http://board.example.org:8123/api/v1/submissions/" in html
    assert "http://board.example.org:8123/api/v1/challenges/demo/phases/" in html


def test_the_api_docs_lead_back_to_the_site(client, db):
    html = client.get("/api/docs/").content.decode()
    assert 'href="/"' in html and 'href="/help/#api"' in html and "favicon.svg" in html


def test_staff_get_an_admin_link_and_every_page_a_favicon(client, alice, admin_user):
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert 'href="/admin/"' not in html and 'rel="icon" href="/static/favicon.svg"' in html
    client.force_login(admin_user)
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_the_favicon_is_a_small_svg():
    from django.conf import settings

    path = settings.BASE_DIR / "static" / "favicon.svg"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<svg") and len(text) < 2000 and "<script" not in text


# -- 5. teams: leave, remove a member, replace the join code ---------------------------------------


@pytest.fixture
def owned(db):
    """carol owns "Lab" (she created it); dave and erin joined it."""
    carol = make_participant("carol", "Lab")
    team = Team.objects.get(name="Lab")
    team.created_by = carol
    team.save()
    dave, erin = make_participant("dave", "Lab"), make_participant("erin", "Lab")
    return team, carol, dave, erin


def client_for(client, user):
    client.force_login(user)
    return client


def test_a_member_leaves_and_it_is_audited(client, owned, demo_val):
    team, carol, dave, erin = owned
    response = client_for(client, dave).post("/team/", {"leave": "1"}, follow=True)
    assert "You left “Lab”." in response.content.decode()
    assert not Membership.objects.filter(user=dave).exists()
    assert AuditEvent.objects.filter(action="team.leave", actor=dave, target_id=str(team.pk)).exists()
    # A member with no team may join another.
    other = Team.objects.create(name="Other")
    client.post("/team/", {"join": "1", "join-join_code": other.join_code})
    assert Membership.objects.get(user=dave).team == other


def test_who_has_submitted_with_the_team_can_neither_leave_nor_be_removed(client, owned, demo_val):
    """The decision: a member who has submitted with a team cannot create or join another one
    (``refuse_after_submitting``); leaving would open no way around that but strand them without a team,
    so it is refused, as is removing them. The organizers move people in the admin."""
    team, carol, dave, erin = owned
    intake.submit(user=dave, phase=demo_val, language="zh", data=demo_file("val-zh.json"))
    left = client_for(client, dave).post("/team/", {"leave": "1"}, follow=True).content.decode()
    assert "You have submitted with “Lab”" in left and "Ask the organizers" in left
    removed = client_for(client, carol).post("/team/", {"remove": str(dave.pk)}, follow=True).content.decode()
    assert "dave has submitted with “Lab”" in removed
    assert Membership.objects.filter(user=dave, team=team).exists()
    assert not AuditEvent.objects.filter(action__in=["team.leave", "team.remove_member"]).exists()


def test_the_owner_removes_a_member_and_replaces_the_join_code(client, owned, demo_val):
    team, carol, dave, erin = owned
    owner_page = client_for(client, carol).get("/team/").content.decode()
    assert f'name="remove" value="{dave.pk}"' in owner_page and 'name="rotate"' in owner_page
    assert "csrfmiddlewaretoken" in owner_page
    response = client.post("/team/", {"remove": str(dave.pk)}, follow=True)
    assert "dave is no longer in the team." in response.content.decode()
    assert not Membership.objects.filter(user=dave).exists()
    assert AuditEvent.objects.filter(action="team.remove_member", actor=carol, details__member="dave").exists()

    old_code = team.join_code
    client.post("/team/", {"rotate": "1"})
    team.refresh_from_db()
    assert team.join_code != old_code and old_code not in str(
        AuditEvent.objects.filter(action="team.rotate_code").values()
    )
    assert AuditEvent.objects.filter(action="team.rotate_code", actor=carol).exists()
    # The old code lets no one in.
    wrong = client_for(client, dave).post("/team/", {"join": "1", "join-join_code": old_code}, follow=True)
    assert "No team has that join code" in wrong.content.decode()


def test_a_member_who_is_not_the_owner_may_not_remove_or_rotate(client, owned, demo_val):
    team, carol, dave, erin = owned
    page = client_for(client, dave).get("/team/").content.decode()
    assert 'name="remove"' not in page and 'name="rotate"' not in page and 'name="leave"' in page
    removed = client.post("/team/", {"remove": str(erin.pk)}, follow=True).content.decode()
    assert "Only the team&#x27;s owner (who created it) can remove a member." in removed
    rotated = client.post("/team/", {"rotate": "1"}, follow=True).content.decode()
    assert "Only the team&#x27;s owner" in rotated
    outsider = make_participant("mallory", "Elsewhere")
    Team.objects.filter(name="Elsewhere").update(created_by=outsider)
    client_for(client, outsider).post("/team/", {"remove": str(erin.pk)})
    assert Membership.objects.filter(user=erin, team=team).exists()
    assert team.join_code == Team.objects.get(pk=team.pk).join_code


def test_the_owner_leaving_hands_the_team_on_and_the_last_member_frees_its_name(client, owned, demo_val):
    team, carol, dave, erin = owned
    client_for(client, carol).post("/team/", {"leave": "1"})
    team.refresh_from_db()
    assert team.created_by == dave
    client_for(client, dave).post("/team/", {"leave": "1"})
    client_for(client, erin).post("/team/", {"leave": "1"})
    assert not Team.objects.filter(name="Lab").exists()
    assert AuditEvent.objects.filter(action="team.delete").count() == 1


def test_team_actions_need_csrf(owned, demo_val):
    from django.test import Client

    team, carol, dave, erin = owned
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(dave)
    assert strict.post("/team/", {"leave": "1"}).status_code == 403
    assert Membership.objects.filter(user=dave).exists()


def test_user_supplied_names_are_escaped_on_the_team_page(client, db, demo_val):
    owner = make_participant("owner1", '<b id="x">Lab</b>')
    Team.objects.filter(memberships__user=owner).update(created_by=owner)
    html = client_for(client, owner).get("/team/").content.decode()
    assert '<b id="x">' not in html and "&lt;b id=&quot;x&quot;&gt;Lab&lt;/b&gt;" in html


# -- 3. "My submissions" fits the page (headless Chromium) -------------------------------------------

FITS = """
var root = document.documentElement, wrap = document.querySelector('.table-wrap');
return [root.scrollWidth, root.clientWidth, wrap ? wrap.scrollWidth : 0, wrap ? wrap.clientWidth : 0];
"""


@pytest.mark.browser
def test_my_submissions_fits_the_page_at_desktop_and_phone_widths(browser, live_server, alice, demo_val):  # noqa: F811
    from leaderboard.submissions import scoring

    scored = intake.submit(
        user=alice,
        phase=demo_val,
        language="en",
        data=demo_file("val-en.json"),
        method=intake.MethodInfo(method_name="A rather long method name with several words"),
    )
    scoring.score_submission(scored.pk)
    intake.submit(user=alice, phase=demo_val, language="zh", data=demo_file("val-zh.json"))
    sign_in(browser, live_server.url, "alice", "pw-alice")
    for width in (1280, 390):
        browser.set_window_size(width, 900)
        browser.get(f"{live_server.url}/submissions/")
        page_width, client_width, table_width, wrap_width = browser.execute_script(FITS)
        assert page_width <= client_width, (width, page_width, client_width)
        if width == 1280:  # whole at a desktop width: no scrolling inside the wrapper either
            assert table_width <= wrap_width, (table_width, wrap_width)
        browser.get(f"{live_server.url}/submissions/{scored.pk}/")
        assert browser.find_element("css selector", "form.method-form .field label")
