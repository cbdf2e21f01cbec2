"""Method tags: character information, external training data, model size.

Set on upload (API and site), editable afterwards, shown on the board page and in the board API and
CSV, and filterable there with the full board's ranks kept.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from leaderboard.submissions import scoring
from leaderboard.submissions.models import Submission
from tests.support.service import api_client_for, demo_file, upload

BOARD_API = "/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/"
BOARD_PAGE = "/c/demo/val/zh/l1/"


def site_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def scored(user, phase, **fields) -> int:
    response = upload(api_client_for(user), phase, "zh", demo_file("val-zh.json"), name="val-zh.json", **fields)
    assert response.status_code == 201, response.content
    scoring.score_submission(response.json()["id"])
    return response.json()["id"]


@pytest.fixture
def two_entries(alice, bob, demo_val):
    """alice: character info yes, external data no, 7B; bob: no tags said."""
    tagged = scored(
        alice,
        demo_val,
        method_name="Tagged",
        public="true",
        uses_character_info="true",
        external_data="false",
        model_size="7B",
    )
    plain = scored(bob, demo_val, method_name="Plain", public="true")
    return tagged, plain


def rows_of(response) -> dict[str, dict]:
    assert response.status_code == 200, response.content
    return {row["method_name"]: row for row in response.json()["rows"] if not row["baseline"]}


def test_api_upload_sets_the_tags_and_leaving_them_out_says_nothing(two_entries):
    tagged, plain = (Submission.objects.get(pk=pk) for pk in two_entries)
    assert (tagged.uses_character_info, tagged.external_data, tagged.model_size) == (True, False, "7B")
    assert (plain.uses_character_info, plain.external_data, plain.model_size) == (None, None, "")


def test_api_tags_are_strict_booleans(alice, demo_val):
    for bad in ("yes", "1", ""):
        response = upload(
            api_client_for(alice), demo_val, "zh", demo_file("val-zh.json"), uses_character_info=bad, public="true"
        )
        assert response.status_code == 400, bad
        assert "uses_character_info" in str(response.json())
    response = upload(api_client_for(alice), demo_val, "zh", demo_file("val-zh.json"), model_size="x" * 41)
    assert response.status_code == 400
    assert not Submission.objects.exists()


def test_api_edit_sets_and_clears_the_tags_and_refreshes_the_board(two_entries, alice):
    tagged, _ = two_entries
    client = api_client_for(alice)
    response = client.patch(
        f"/api/v1/submissions/{tagged}/", {"external_data": True, "model_size": "13B"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["uses_character_info"], body["external_data"], body["model_size"]) == (True, True, "13B")
    assert rows_of(client.get(BOARD_API))["Tagged"]["model_size"] == "13B"

    response = client.patch(f"/api/v1/submissions/{tagged}/", {"uses_character_info": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["uses_character_info"] is None
    assert rows_of(client.get(BOARD_API))["Tagged"]["uses_character_info"] is None
    # In a form, "null" says "not said"; anything but true/false/null is refused.
    response = client.patch(f"/api/v1/submissions/{tagged}/", {"external_data": "null"}, format="multipart")
    assert response.status_code == 200 and response.json()["external_data"] is None
    response = client.patch(f"/api/v1/submissions/{tagged}/", {"external_data": "maybe"}, format="multipart")
    assert response.status_code == 400


def test_site_upload_and_edit_set_the_tags(alice, demo_val):
    client = site_client(alice)
    response = client.post(
        "/c/demo/val/submit/",
        {
            "language": "zh",
            "predictions": SimpleUploadedFile("val-zh.json", demo_file("val-zh.json")),
            "method_name": "Site",
            "uses_character_info": "false",
            "external_data": "true",
            "model_size": "70B",
            "is_public": "on",
        },
    )
    assert response.status_code in (200, 302, 303), response.content
    submission = Submission.objects.get()
    assert (submission.uses_character_info, submission.external_data, submission.model_size) == (False, True, "70B")

    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert 'name="uses_character_info"' in page and 'value="70B"' in page
    response = client.post(
        f"/submissions/{submission.pk}/",
        {
            "method_name": "Site",
            "uses_character_info": "unknown",
            "external_data": "false",
            "model_size": "",
            "is_public": "on",
        },
    )
    assert response.status_code in (200, 302, 303)
    submission.refresh_from_db()
    assert (submission.uses_character_info, submission.external_data, submission.model_size) == (None, False, "")


def test_the_board_api_shows_and_filters_the_tags_keeping_the_ranks(two_entries, alice):
    client = api_client_for(alice)
    everything = rows_of(client.get(BOARD_API))
    assert everything["Tagged"]["uses_character_info"] is True
    assert everything["Tagged"]["external_data"] is False
    assert everything["Tagged"]["model_size"] == "7B"
    assert everything["Plain"]["uses_character_info"] is None and everything["Plain"]["model_size"] == ""

    only = client.get(BOARD_API, {"character_info": "yes"}).json()["rows"]
    assert [row["method_name"] for row in only] == ["Tagged"]
    assert only[0]["rank"] == everything["Tagged"]["rank"]  # the whole board's rank, not renumbered
    assert client.get(BOARD_API, {"character_info": "no"}).json()["rows"] == []
    assert [row["method_name"] for row in client.get(BOARD_API, {"external_data": "no"}).json()["rows"]] == ["Tagged"]
    assert client.get(BOARD_API, {"character_info": "yes", "external_data": "yes"}).json()["rows"] == []


@pytest.mark.parametrize("query", [{"character_info": "maybe"}, {"external_data": ""}, {"external_data": "YES"}])
def test_an_invalid_filter_is_a_json_400(two_entries, query):
    for fmt in ({}, {"format": "csv"}):
        response = Client().get(BOARD_API, {**query, **fmt})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["code"] == "invalid_filter"


def test_the_board_page_shows_badges_and_filters(two_entries, alice):
    client = site_client(alice)
    page = client.get(BOARD_PAGE).content.decode()
    assert "character info" in page and "no external data" in page and ">7B<" in page
    assert 'id="filtered-note"' not in page

    page = client.get(BOARD_PAGE, {"character_info": "yes"}).content.decode()
    assert "Tagged" in page and "Plain" not in page
    assert 'id="filtered-note"' in page and "ranks are those of the whole board" in page

    page = client.get(BOARD_PAGE, {"character_info": "maybe"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Tagged" in text and "Plain" in text and "The filter was ignored" in text


def test_the_csv_has_the_tags_and_escapes_the_model_size(alice, bob, demo_val):
    scored(alice, demo_val, method_name="Tagged", public="true", uses_character_info="true", model_size="=1+2")
    scored(bob, demo_val, method_name="Plain", public="true", external_data="false", model_size="<b>7B</b>")
    response = Client().get(BOARD_API, {"format": "csv"})
    assert response.status_code == 200
    rows = {row["method_name"]: row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert (rows["Tagged"]["uses_character_info"], rows["Tagged"]["external_data"]) == ("yes", "")
    assert rows["Tagged"]["model_size"] == "'=1+2"  # no spreadsheet formula
    assert (rows["Plain"]["uses_character_info"], rows["Plain"]["external_data"]) == ("", "no")

    page = Client().get(BOARD_PAGE).content.decode()
    assert "<b>7B</b>" not in page and "&lt;b&gt;7B&lt;/b&gt;" in page
    filtered = Client().get(BOARD_API, {"format": "csv", "character_info": "yes"}).content.decode()
    assert "Tagged" in filtered and "Plain" not in filtered
