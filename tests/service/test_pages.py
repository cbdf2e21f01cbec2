"""The server-rendered site, through Django's test client."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Submission
from leaderboard.teams.models import Team
from tests.support.service import api_client_for, demo_file, upload

XSS = '<script>alert("x")</script>'


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def post_file(client, data: bytes, name="val-zh.json", language="zh", accept=None, **fields):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    return client.post(
        "/c/demo/val/submit/",
        {"language": language, "predictions": SimpleUploadedFile(name, data), **fields},
        **headers,
    )


def test_visitors_browse_challenges_phases_and_boards(client, demo_challenge):
    home = client.get("/").content.decode()
    assert "Demo: narration of four invented films" in home
    detail = client.get("/c/demo/").content.decode()
    assert "Validation" in detail and "/c/demo/val/zh/l1/" in detail and "/c/demo/test/en/l2/" in detail
    board = client.get("/c/demo/val/en/l2/")
    assert board.status_code == 200
    html = board.content.decode()
    assert "No public entry yet." in html and "What the columns mean" in html and "CIDEr" in html


def test_submit_page_shows_the_limits(signed_in, demo_val):
    html = signed_in.get("/c/demo/val/submit/").content.decode()
    assert "20 submissions left today, resets at 00:00 UTC" in html and "500 left in total" in html
    assert 'type="file"' in html and "upload-progress" in html


def test_submitting_through_the_page_then_seeing_scores(signed_in, demo_val):
    response = post_file(signed_in, demo_file("val-zh.json"), method_name="page upload", is_public="on")
    submission = Submission.objects.get()
    assert response.status_code == 302 and response.url == f"/submissions/{submission.pk}/"
    assert "Waiting to be scored" in signed_in.get(response.url).content.decode()
    scoring.score_submission(submission.pk)
    html = signed_in.get(response.url).content.decode()
    assert "Scored" in html and "BLEU-4" in html and "0.0844" in html  # BLEU-4 of the demo file, 4 decimals
    assert "Per-clip scores (JSON)" in html
    listing = signed_in.get("/submissions/").content.decode()
    assert "page upload" in listing and "0.5819" in listing  # CIDEr


def test_a_rejected_file_lists_the_same_problems_on_the_page(signed_in, demo_val):
    response = post_file(signed_in, b'{"9100000000000000001_12_18": "x", "9100000000000000001_12_18": "y"}')
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was stored" in html and "Duplicate clip ids (1)" in html and "without a narration (9)" in html
    assert not Submission.objects.exists()


def test_the_progress_bar_path_gets_json(signed_in, demo_val):
    response = post_file(signed_in, demo_file("val-zh.json"), accept="application/json")
    assert response.status_code == 201 and response.json()["redirect"].startswith("/submissions/")
    rejected = post_file(signed_in, b"[]", accept="application/json")
    assert rejected.status_code == 400 and rejected.json()["errors"][0]["code"] == "not_an_object"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"language": "zh", "data": b"[]"}, "invalid_predictions"),
        ({"language": "xx", "data": demo_file("val-zh.json")}, "invalid_fields"),
    ],
)
def test_the_site_and_the_api_answer_a_rejected_upload_with_the_same_json(fields, code, signed_in, alice, demo_val):
    site = post_file(signed_in, fields["data"], language=fields["language"], accept="application/json")
    api = upload(api_client_for(alice), demo_val, fields["language"], fields["data"], name="val-zh.json")
    assert site.status_code == api.status_code == 400
    assert site.json()["code"] == api.json()["code"] == code
    assert site.json()["detail"] == api.json()["detail"]
    assert [error["code"] for error in site.json()["errors"]] == [error["code"] for error in api.json()["errors"]]


def test_the_site_answers_a_refused_upload_as_the_api_does(signed_in, alice, demo_val):
    Team.objects.filter(memberships__user=alice).update(banned=True, ban_reason="cheating")
    site = post_file(signed_in, demo_file("val-zh.json"), accept="application/json")
    api = upload(api_client_for(alice), demo_val, "zh", demo_file("val-zh.json"))
    assert site.status_code == api.status_code == 403
    assert (
        site.json() == api.json() == {"detail": "Your team is banned from submitting: cheating", "code": "team_banned"}
    )


def test_signing_up_creating_and_joining_a_team(client, demo_challenge):
    response = client.post(
        "/signup/",
        {
            "username": "carol",
            "email": "c@example.org",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302 and response.url == "/team/"
    client.post("/team/", {"create": "1", "create-name": "Carol's lab"})
    team = Team.objects.get(name="Carol's lab")
    assert "Carol&#x27;s lab" in client.get("/team/").content.decode()

    client.post("/accounts/logout/")
    client.post(
        "/signup/",
        {
            "username": "dave",
            "email": "d@example.org",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    wrong = client.post("/team/", {"join": "1", "join-join_code": "nope"}, follow=True)
    assert "No team has that join code" in wrong.content.decode()
    client.post("/team/", {"join": "1", "join-join_code": team.join_code})
    assert sorted(team.memberships.values_list("user__username", flat=True)) == ["carol", "dave"]


def test_pages_that_need_an_account_send_visitors_to_sign_in(client, demo_val):
    for url in ("/submissions/", "/team/", "/token/", "/c/demo/val/submit/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_another_teams_submission_page_is_not_found(client, alice, bob, demo_val):
    submission = intake.submit(user=alice, phase=demo_val, language="zh", data=demo_file("val-zh.json"))
    client.force_login(bob)
    assert client.get(f"/submissions/{submission.pk}/").status_code == 404
    assert client.post(f"/submissions/{submission.pk}/", {"method_name": "hijack"}).status_code == 404


def test_user_supplied_strings_are_escaped_everywhere(client, alice, demo_val):
    team = alice.membership.team
    team.name = XSS
    team.save()
    submission = intake.submit(
        user=alice,
        phase=demo_val,
        language="zh",
        data=demo_file("val-zh.json"),
        filename=XSS + ".json",
        method=intake.MethodInfo(method_name=XSS, method_description=XSS, is_public=True),
    )
    scoring.score_submission(submission.pk)
    client.force_login(alice)
    for url in ("/c/demo/val/zh/l1/", "/submissions/", f"/submissions/{submission.pk}/", "/team/"):
        html = client.get(url).content.decode()
        assert XSS not in html, url
        assert "&lt;script&gt;" in html, url


def test_the_token_page_gives_a_working_token(client, alice, demo_val):
    client.force_login(alice)
    html = client.get("/token/").content.decode()
    token = re.search(r'id="token">([0-9a-f]{40})<', html).group(1)
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/submissions/").status_code == 200
    client.post("/token/")
    assert api.get("/api/v1/submissions/").status_code == 401


def test_the_public_flag_can_be_changed_on_the_page(client, alice, demo_val):
    submission = intake.submit(user=alice, phase=demo_val, language="zh", data=demo_file("val-zh.json"))
    scoring.score_submission(submission.pk)
    client.force_login(alice)
    assert client.get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/").json()["rows"] == []
    client.post(f"/submissions/{submission.pk}/", {"method_name": "now public", "is_public": "on"})
    rows = client.get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/").json()["rows"]
    assert [row["method_name"] for row in rows] == ["now public"]
    board = client.get("/c/demo/val/zh/l1/").content.decode()
    assert "now public" in board and "No entry has L1 yet" in board


def test_metric_values_are_rounded_for_reading(client, alice, demo_val):
    submission = intake.submit(
        user=alice,
        phase=demo_val,
        language="zh",
        data=demo_file("val-zh.json"),
        method=intake.MethodInfo(is_public=True),
    )
    scoring.score_submission(submission.pk)
    html = client.get("/c/demo/val/zh/l2/").content.decode()
    assert re.findall(r'<td class="num rank">([0-9.]+)</td>', html) == ["1"]
    # Each score, then its interval at the same precision.
    cells = re.findall(
        r'<td class="num(?: primary)?">([0-9.]+)<span class="ci"[^>]*>\[([0-9.]+), ([0-9.]+)\]</span>', html
    )
    assert len(cells) == 4 and all(re.fullmatch(r"\d+\.\d{4}", number) for cell in cells for number in cell)
    assert json.dumps(0.581906781215175) not in html
