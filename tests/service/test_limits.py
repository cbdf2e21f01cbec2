"""Submission limits: counted and reserved under the team's row lock, and what is not charged."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from leaderboard.judging import runner
from leaderboard.judging.lifecycle import cancel_judge_run
from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.submissions import intake, lifecycle, rules, scoring
from leaderboard.submissions.models import Status, Submission
from tests.support.judge_server import FakeJudge, Fault
from tests.support.judging import set_judge
from tests.support.service import api_client_for, demo_file, upload

QUOTA = "/api/v1/challenges/demo/phases/val/quota/"


def used(user, phase) -> tuple[int, int]:
    usage = rules.quota(user.membership.team, phase)
    return usage.used_today, usage.used_total


def submit(user, phase) -> Submission:
    return intake.submit(user=user, phase=phase, language="zh", data=demo_file("val-zh.json"), filename="p.json")


# -- the race ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_uploads_against_a_daily_limit_of_five(alice, demo_val):
    """Real concurrent transactions: each thread has its own database connection and its own HTTP request."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serializes every write and has no SELECT ... FOR UPDATE, "
            "so it cannot show the race (set DATABASE_URL=postgres://...)"
        )
    demo_val.max_submissions_per_day, demo_val.max_submissions_total = 5, 100
    demo_val.save()
    api_client_for(alice)  # the token exists before the threads start
    data = demo_file("val-zh.json")
    start = threading.Barrier(20)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def one_upload():
        try:
            client = api_client_for(alice)
            start.wait()
            response = upload(client, demo_val, "zh", data)
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=one_upload) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 20
    created = [body for status, body in answers if status == 201]
    refused = [body for status, body in answers if status == 429]
    assert len(created) == 5 and len(refused) == 15, sorted(status for status, _ in answers)
    assert all(body["code"] == "daily_limit" and "the limit resets at 00:00 UTC" in body["detail"] for body in refused)
    assert Submission.objects.filter(team__name="Team A").count() == 5
    assert {body["id"] for body in created} == set(Submission.objects.values_list("pk", flat=True))
    quota = api_client_for(alice).get(QUOTA).json()
    assert quota["left_today"] == 0 and quota["left_total"] == 95 and quota["can_submit"] is False


# -- what the page and the API say --------------------------------------------------------------


def test_the_api_quota_and_the_submit_page_say_what_is_left(alice, demo_val):
    demo_val.max_submissions_per_day, demo_val.max_submissions_total = 3, 10
    demo_val.save()
    submit(alice, demo_val)
    summary = "2 submissions left today, resets at 00:00 UTC; 9 left in total"
    body = api_client_for(alice).get(QUOTA).json()
    assert body["summary"] == summary
    assert (body["left_today"], body["left_total"], body["can_submit"]) == (2, 9, True)
    assert body["resets_at"] == (rules.day_start(timezone.now()) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    page = Client()
    page.force_login(alice)
    html = " ".join(page.get("/c/demo/val/submit/").content.decode().split())
    assert "2 submissions left today, resets at 00:00 UTC" in html and "9 left in total" in html


def test_without_limits_the_quota_says_so(alice, demo_val):
    demo_val.max_submissions_per_day = demo_val.max_submissions_total = None
    demo_val.save()
    body = api_client_for(alice).get(QUOTA).json()
    assert body["summary"] == "no daily limit; no total limit" and body["left_today"] is None


def test_a_used_up_limit_on_the_page_and_the_api(alice, demo_val):
    demo_val.max_submissions_per_day = 1
    demo_val.save()
    submit(alice, demo_val)
    body = api_client_for(alice).get(QUOTA).json()
    assert body["summary"].startswith("0 submissions left today, resets at 00:00 UTC")
    assert body["can_submit"] is False and "resets at 00:00 UTC" in body["reason"]
    page = Client()
    page.force_login(alice)
    html = page.get("/c/demo/val/submit/").content.decode()
    assert "used its 1 submissions for today" in html and 'id="submit-form"' not in html


def test_the_day_resets_at_midnight_utc(alice, demo_val):
    demo_val.max_submissions_per_day, demo_val.max_submissions_total = 1, 2
    demo_val.save()
    first = submit(alice, demo_val)
    assert rules.submission_refusal(alice, demo_val).code == "daily_limit"
    midnight = rules.day_start(timezone.now())
    Submission.objects.filter(pk=first.pk).update(created_at=midnight - timedelta(microseconds=1))
    assert rules.submission_refusal(alice, demo_val) is None  # yesterday's counts in the total only
    Submission.objects.filter(pk=first.pk).update(created_at=midnight)
    assert rules.submission_refusal(alice, demo_val).code == "daily_limit"


# -- what is not charged --------------------------------------------------------------------------


def test_a_rejected_file_creates_nothing_and_charges_nothing(alice, demo_val):
    before = used(alice, demo_val)
    response = upload(api_client_for(alice), demo_val, "zh", b'{"junk": 1}')
    assert response.status_code == 400 and "no limit was used" in response.json()["detail"]
    assert used(alice, demo_val) == before and not Submission.objects.exists()


def test_a_worker_lost_too_often_is_not_charged(alice, demo_val, settings):
    submission = submit(alice, demo_val)
    assert used(alice, demo_val) == (1, 1)
    lifecycle.transition(
        submission.pk,
        Status.SUBMITTED,
        Status.RUNNING,
        attempts=settings.SCORING_MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FAILED
    submission.refresh_from_db()
    assert submission.status == Status.FAILED and "does not count against your team's limits" in submission.error
    assert used(alice, demo_val) == (0, 0)


def test_a_run_stopped_by_the_time_limit_is_not_charged(alice, demo_val):
    submission = submit(alice, demo_val)
    lifecycle.transition(submission.pk, Status.SUBMITTED, Status.RUNNING)
    assert used(alice, demo_val) == (1, 1)
    assert scoring.record_failure(submission.pk, "time_limit")
    submission.refresh_from_db()
    assert submission.status == Status.FAILED and "longer than the limit" in submission.error
    assert used(alice, demo_val) == (0, 0)


def test_a_cancelled_submission_is_not_charged(alice, demo_val):
    submission = submit(alice, demo_val)
    assert used(alice, demo_val) == (1, 1)
    assert lifecycle.cancel_submission(submission.pk)
    assert used(alice, demo_val) == (0, 0)


def test_an_unavailable_judge_neither_fails_nor_charges_the_submission(alice, demo_val, settings):
    """The judge stage never touches the submission's status: its classic scores stand, its charge is unchanged."""
    with FakeJudge() as judge:
        settings.JUDGE_DEFAULTS = {"backoff_base": 0.001, "concurrency": 4}
        judge.fault_rule = lambda prompt, index: Fault(status=503)
        set_judge(demo_val, base_url=judge.base_url, model="fake-judge-1")
        submission = submit(alice, demo_val)
        assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
        before = used(alice, demo_val)
        run = JudgeRun.objects.get(submission=submission)
        runner.judge_result(run.pk)
    run.refresh_from_db()
    submission.refresh_from_db()
    assert run.status == JudgeStatus.INCOMPLETE
    assert submission.status == Status.FINISHED and submission.error == ""
    assert used(alice, demo_val) == before == (1, 1)
    # Cancelling the judge run changes nothing either.
    cancel_judge_run(run.pk)
    submission.refresh_from_db()
    assert submission.status == Status.FINISHED and used(alice, demo_val) == before
