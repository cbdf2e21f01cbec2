"""A real Celery worker process scores what the API accepted."""

from __future__ import annotations

import json
import time

import pytest
from rest_framework.test import APIClient

import evaluation
from leaderboard.challenges.models import ReferenceSet
from leaderboard.submissions.models import Result, Submission
from tests.support.data import shifted_predictions
from tests.support.processes import wait_for_status
from tests.support.service import api_client_for, demo_file, load_test_challenge, upload


def test_an_api_upload_is_scored_by_the_worker_and_reaches_the_board(celery_worker, alice, demo_val):
    client = api_client_for(alice)
    response = upload(client, demo_val, "en", demo_file("val-en.json"), method_name="worker run", public="true")
    assert response.status_code == 201
    submission = wait_for_status(response.json()["id"], timeout=120)
    assert submission.status == "finished", (submission.error, celery_worker.output()[-2000:])
    references = ReferenceSet.objects.get(phase=demo_val, language="en").narrations
    expected = evaluation.score(references, json.loads(demo_file("val-en.json")), "en")
    assert submission.current_result.metrics == expected.metrics
    rows = APIClient().get("/api/v1/challenges/demo/phases/val/leaderboards/en/l2/").json()["rows"]
    assert [(row["rank"], row["method_name"], row["submission_id"]) for row in rows] == [
        (1, "worker run", submission.pk)
    ]


def test_a_message_delivered_twice_is_scored_once(celery_worker, alice, demo_val):
    from workers.tasks import score_submission

    response = upload(api_client_for(alice), demo_val, "zh", demo_file("val-zh.json"))
    submission_id = response.json()["id"]
    score_submission.delay(submission_id)  # a second message for the same submission
    wait_for_status(submission_id, timeout=120)
    # The duplicate is delivered after the first run; it finds the submission finished.
    assert celery_worker.wait_for_output("'skipped'", timeout=60)
    assert Result.objects.filter(submission_id=submission_id).count() == 1


def test_a_failed_run_is_visible_to_the_team_with_its_reason(celery_worker, alice, demo_val):
    response = upload(api_client_for(alice), demo_val, "zh", demo_file("val-zh.json"))
    ReferenceSet.objects.filter(phase=demo_val, language="zh").delete()  # before the worker gets to it
    submission = wait_for_status(response.json()["id"], timeout=120)
    body = api_client_for(alice).get(f"/api/v1/submissions/{submission.pk}/").json()
    assert body["status"] == "failed" and "no longer has references" in body["error"]
    assert "Traceback" not in body["error"]


@pytest.mark.slow
def test_the_full_real_test_split_goes_from_upload_to_board(celery_worker, alice, real_test_split):
    load_test_challenge({"en": real_test_split["en"]})
    predictions = shifted_predictions(real_test_split["en"])
    client = api_client_for(alice)
    started = time.monotonic()
    response = client.post(
        "/api/v1/challenges/movie101v2/phases/test/submissions/",
        {
            "language": "en",
            "public": "true",
            "method_name": "previous clip",
            "predictions": _file(json.dumps(predictions).encode()),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    submission = wait_for_status(response.json()["id"], timeout=600)
    elapsed = time.monotonic() - started
    assert submission.status == "finished", submission.error
    expected = evaluation.score(real_test_split["en"], predictions, "en")
    assert submission.current_result.metrics == expected.metrics and submission.current_result.clips == 2227
    row = APIClient().get("/api/v1/challenges/movie101v2/phases/test/leaderboards/en/l1/").json()["rows"][0]
    # A hidden phase: the public board shows the boards' precision (4 decimals), the result keeps full precision.
    assert row["submission_id"] == submission.pk and row["scores"]["cider"] == round(expected.metrics["cider"], 4)
    print(f"\nreal test split (2,227 clips, en): upload to finished in {elapsed:.1f} s")


def _file(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("test-en.json", data)


def test_a_run_over_the_soft_time_limit_fails_with_the_reason(transactional_db, tmp_path, alice, demo_val, monkeypatch):
    from leaderboard.submissions import intake
    from tests.support.processes import WorkerProcess
    from workers.tasks import score_submission

    # The worker's METEOR needs seconds to start, so a 1-second limit always trips. Celery sends the
    # limits with each message, from the process that queues it; this test queues its own message.
    monkeypatch.setenv("SCORING_SOFT_TIME_LIMIT", "1")
    monkeypatch.setattr(intake, "enqueue_scoring", lambda submission_id: True)
    worker = WorkerProcess(tmp_path / "worker.log")
    worker.start()
    try:
        submission = intake.submit(user=alice, phase=demo_val, language="en", data=demo_file("val-en.json"))
        score_submission.apply_async((submission.pk,), soft_time_limit=1, time_limit=60)
        submission = wait_for_status(submission.pk, timeout=120)
    finally:
        worker.stop()
    assert submission.status == "failed", worker.output()[-2000:]
    assert submission.error.startswith("Scoring took longer than the limit of 1 seconds and was stopped.")
    assert "does not count against your team's limits" in submission.error
    assert "Soft time limit (1s) exceeded" in worker.output()


def test_worker_logs_never_contain_reference_texts(celery_worker, alice, demo_test):
    for name, language in (("test-zh.json", "zh"), ("test-en.jsonl", "en")):
        response = upload(api_client_for(alice), demo_test, language, demo_file(name), name=name)
        assert wait_for_status(response.json()["id"], timeout=120).status == "finished"
    log = celery_worker.output()
    hidden = [text for rs in ReferenceSet.objects.filter(phase=demo_test) for text in rs.narrations.values()]
    assert "succeeded" in log or "finished" in log
    assert not [text for text in hidden if text in log]


def test_a_submission_left_waiting_by_a_broker_outage_is_requeued(
    transactional_db, tmp_path, alice, demo_val, monkeypatch
):
    from io import StringIO

    from django.core.management import call_command

    from leaderboard.celery_app import app
    from tests.support.processes import WorkerProcess

    def broker_down(name, args=None, **options):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(app, "send_task", broker_down)
    response = upload(api_client_for(alice), demo_val, "zh", demo_file("val-zh.json"))
    assert response.status_code == 201  # accepted and stored although it could not be queued
    submission_id = response.json()["id"]
    monkeypatch.undo()
    assert Submission.objects.get(pk=submission_id).status == "submitted"

    worker = WorkerProcess(tmp_path / "worker.log")
    worker.start()
    try:
        out = StringIO()
        call_command("requeue_waiting", "--older-than", "0", stdout=out)
        assert f"queued 1 waiting submission(s): {submission_id}" in out.getvalue()
        assert wait_for_status(submission_id, timeout=120).status == "finished"
    finally:
        worker.stop()
