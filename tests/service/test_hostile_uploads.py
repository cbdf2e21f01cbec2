"""The hostile corpus (tests/support/hostile.py) uploaded through every way in: the API, the site's upload page
(with and without JavaScript) and ``manage.py submit``.

A refused file gets a 400 (exit status 2 from the command) whose message names the problem, and
creates nothing, charges nothing and writes no file. An accepted one is stored, and its parsed form,
strict UTF-8, reads back as the validator read it.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

import evaluation
from leaderboard.challenges.models import ReferenceSet
from leaderboard.submissions import rules
from leaderboard.submissions.files import read_predictions
from leaderboard.submissions.models import Submission
from tests.support.data import ROOT
from tests.support.hostile import ACCEPTED, BY_NAME, CASES, Hostile
from tests.support.processes import process_env
from tests.support.service import api_client_for, upload

SITE = "/c/demo/val/submit/"
WAYS_IN = ("api", "page script", "form", "command")
#: What each way in answers a file it accepts.
ACCEPTED_STATUS = {"api": 201, "page script": 201, "form": 302, "command": 0}


@pytest.fixture
def media(settings, tmp_path):
    """An empty MEDIA_ROOT, so a test sees every file the service writes."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media: Path) -> list[str]:
    return sorted(str(path.relative_to(media)) for path in media.rglob("*") if path.is_file())


def references(phase) -> dict[str, str]:
    return ReferenceSet.objects.get(phase=phase, language="zh").narrations


def charged(user, phase) -> tuple[int, int]:
    usage = rules.quota(user.membership.team, phase)
    return usage.used_today, usage.used_total


def site_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@dataclass(frozen=True)
class Answer:
    status: int
    #: The problems: the JSON ``errors`` of the API and the page script, the form's page, the command's message.
    said: list[dict] | str


def way_in(way: str, user, phase, folder: Path) -> Callable[[Hostile, bytes], Answer]:
    """A function that uploads a case's bytes to ``phase`` as ``user`` does, one way in."""
    if way == "api":
        client = api_client_for(user)

        def send(case: Hostile, data: bytes) -> Answer:
            response = upload(client, phase, "zh", data, name=case.filename)
            return Answer(response.status_code, response.json().get("errors", []))

    elif way in ("page script", "form"):
        client = site_client(user)
        # What static/js/submit.js posts, which reads JSON back; or the form alone, which gets the page again.
        headers = {"HTTP_ACCEPT": "application/json"} if way == "page script" else {}

        def send(case: Hostile, data: bytes) -> Answer:
            file = SimpleUploadedFile(case.filename, data)
            response = client.post(SITE, {"language": "zh", "predictions": file}, **headers)
            if way == "form":
                return Answer(response.status_code, response.content.decode("utf-8"))
            return Answer(response.status_code, response.json().get("errors", []))

    else:

        def send(case: Hostile, data: bytes) -> Answer:
            path = folder / ("predictions.jsonl" if case.filename.endswith(".jsonl") else "predictions.json")
            path.write_bytes(data)
            arguments = ["--user", user.username, "--phase", "demo/val", "--language", "zh"]
            try:
                call_command("submit", str(path), *arguments, stdout=io.StringIO())
            except CommandError as exc:
                return Answer(exc.returncode, str(exc))
            return Answer(0, "")

    return send


def refused_as_expected(way: str, case: Hostile, answer: Answer) -> bool:
    if way == "command":  # no form fields: the validator answers every file
        return answer.status == 2 and case.expected in answer.said
    code, expected = ("invalid_field", case.field_error) if case.field_error else (case.code, case.expected)
    if way == "form":
        return answer.status == 400 and escape(expected) in answer.said
    return answer.status == 400 and any(error["code"] == code and expected in error["message"] for error in answer.said)


@pytest.mark.parametrize("way", WAYS_IN)
def test_every_hostile_file_is_refused_and_nothing_kept(way, alice, demo_val, media, tmp_path):
    """Each case of the corpus in turn, one demo challenge for all; the failures are listed together."""
    send = way_in(way, alice, demo_val, tmp_path)
    ids = sorted(references(demo_val))
    failures = {}
    for case in CASES:
        data = case.build(ids)
        before = (charged(alice, demo_val), Submission.objects.count(), stored_files(media))
        answer = send(case, data)
        if case.accepted:
            if answer.status != ACCEPTED_STATUS[way]:
                failures[case.name] = (answer.status, str(answer.said)[:300])
            else:
                assert_stored(case, demo_val, data, Submission.objects.latest("pk"))
        elif not refused_as_expected(way, case, answer):
            failures[case.name] = (answer.status, str(answer.said)[:300])
        elif (charged(alice, demo_val), Submission.objects.count(), stored_files(media)) != before:
            failures[case.name] = "refused, but something was created, charged or stored"
    assert not failures, failures
    assert Submission.objects.count() == len(ACCEPTED)


def assert_stored(case: Hostile, phase, data: bytes, submission: Submission) -> None:
    """The upload stored as it came, beside a parsed form that reads back as the validator read it."""
    expected = evaluation.validate(data, references(phase), filename=case.filename).predictions
    with submission.predictions_file.open("rb") as handle:
        assert handle.read() == data, case.name
    assert read_predictions(submission, references(phase)) == expected, case.name
    # The name is kept without its folders, and no longer than its column.
    assert "/" not in submission.original_filename and len(submission.original_filename) <= 255, case.name


def test_a_hostile_file_name_is_shown_escaped(alice, demo_val, media, tmp_path):
    case = BY_NAME["name_html"]
    answer = way_in("api", alice, demo_val, tmp_path)(case, case.build(sorted(references(demo_val))))
    assert answer.status == 201
    submission = Submission.objects.get()
    page = site_client(alice).get(reverse("web:submission-detail", args=[submission.pk])).content.decode()
    assert "<img src=x" not in page


@pytest.mark.django_db(transaction=True)
def test_the_submit_command_in_a_process_prints_the_problem_and_no_traceback(alice, demo_val, tmp_path):
    """Finding 2: the command printed tracebacks for these files."""
    for name in ("deep_top_level", "huge_integer_narration", "surrogate_key"):
        case = BY_NAME[name]
        path = tmp_path / "predictions.json"
        path.write_bytes(case.build(sorted(references(demo_val))))
        done = subprocess.run(
            [sys.executable, "manage.py", "submit", "--user", "alice", "--phase", "demo/val", "--language", "zh", path],
            cwd=ROOT,
            env=process_env(CELERY_BROKER_URL="memory://"),
            capture_output=True,
            timeout=120,
        )
        stderr = done.stderr.decode("utf-8")
        assert done.returncode == 2, (name, stderr)
        assert case.expected in stderr and "Traceback" not in stderr, (name, stderr)
    assert not Submission.objects.exists()
