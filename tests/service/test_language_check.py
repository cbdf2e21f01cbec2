"""A file in the other language's script is refused at every way in, until the upload confirms its language."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from leaderboard.submissions import rules
from leaderboard.submissions.models import Submission
from tests.support.service import api_client_for, demo_file, upload

SITE = "/c/demo/val/submit/"
CHECKBOX = "The file is in the language chosen above"


def charged(user, phase) -> tuple[int, int]:
    usage = rules.quota(user.membership.team, phase)
    return usage.used_today, usage.used_total


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()]


def test_api_refuses_a_chinese_file_sent_as_english_until_confirmed(alice, demo_val, media):
    client = api_client_for(alice)
    response = upload(client, demo_val, "en", demo_file("val-zh.json"))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_predictions"
    [error] = body["errors"]
    assert error["code"] == "language_mismatch"
    assert "You chose English (en)" in error["message"] and "Choose zh" in error["message"]
    assert Submission.objects.count() == 0 and charged(alice, demo_val) == (0, 0) and not stored(media)

    response = upload(client, demo_val, "en", demo_file("val-zh.json"), confirm_language="true")
    assert response.status_code == 201, response.json()
    assert Submission.objects.get().language == "en"


def test_api_refuses_an_english_file_sent_as_chinese(alice, demo_val):
    client = api_client_for(alice)
    response = upload(client, demo_val, "zh", demo_file("val-en.json"), confirm_language="false")
    assert response.status_code == 400
    assert [error["code"] for error in response.json()["errors"]] == ["language_mismatch"]
    assert upload(client, demo_val, "zh", demo_file("val-zh.json")).status_code == 201


def test_api_confirm_language_is_a_strict_boolean(alice, demo_val):
    response = upload(api_client_for(alice), demo_val, "en", demo_file("val-zh.json"), confirm_language="yes")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_fields"
    assert Submission.objects.count() == 0


def test_site_form_shows_the_checkbox_after_the_refusal_and_accepts_it_ticked(alice, demo_val, media):
    client = Client()
    client.force_login(alice)
    page = client.get(SITE).content.decode()
    assert 'id="confirm-language" hidden' in page  # there for the page script, not shown

    response = client.post(
        SITE, {"language": "en", "predictions": SimpleUploadedFile("p.json", demo_file("val-zh.json"))}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "You chose English (en)" in page
    assert CHECKBOX in page and 'id="confirm-language" hidden' not in page and 'id="confirm-language"' in page
    assert Submission.objects.count() == 0 and charged(alice, demo_val) == (0, 0) and not stored(media)

    response = client.post(
        SITE,
        {
            "language": "en",
            "confirm_language": "on",
            "predictions": SimpleUploadedFile("p.json", demo_file("val-zh.json")),
        },
    )
    assert response.status_code == 302
    assert Submission.objects.get().language == "en"


def test_page_script_gets_the_code_that_shows_the_checkbox(alice, demo_val):
    client = Client()
    client.force_login(alice)
    data = {"language": "en", "predictions": SimpleUploadedFile("p.json", demo_file("val-zh.json"))}
    response = client.post(SITE, data, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert [error["code"] for error in response.json()["errors"]] == ["language_mismatch"]
    data = {
        "language": "en",
        "confirm_language": "on",
        "predictions": SimpleUploadedFile("p.json", demo_file("val-zh.json")),
    }
    assert client.post(SITE, data, HTTP_ACCEPT="application/json").status_code == 201


def test_manage_py_submit_refuses_without_the_flag_and_accepts_with_it(alice, demo_val, tmp_path):
    path = tmp_path / "val-zh.json"
    path.write_bytes(demo_file("val-zh.json"))
    arguments = [str(path), "--user", "alice", "--phase", "demo/val", "--language", "en"]
    with pytest.raises(CommandError) as refused:
        call_command("submit", *arguments, stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert "You chose English (en)" in str(refused.value)
    assert Submission.objects.count() == 0 and charged(alice, demo_val) == (0, 0)

    out = io.StringIO()
    call_command("submit", *arguments, "--confirm-language", stdout=out)
    assert "accepted" in out.getvalue()
    assert Submission.objects.get().language == "en"
