"""Submitting and scoring through the services: the state machine, limits and failures."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

import evaluation
from leaderboard.challenges.models import ReferenceSet
from leaderboard.statemachine import IllegalTransition
from leaderboard.submissions import intake, lifecycle, rules, scoring
from leaderboard.submissions.models import Result, Status, Submission
from tests.support.service import demo_file, make_participant


def submit_demo(user, phase, language="zh", name="val-zh.json", **method):
    return intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=demo_file(name),
        filename=name,
        method=intake.MethodInfo(**method),
    )


def test_a_valid_file_is_stored_and_waits(alice, demo_val):
    submission = submit_demo(alice, demo_val, method_name="baseline", is_public=True)
    assert submission.status == Status.SUBMITTED
    assert submission.team.name == "Team A" and submission.file_format == "json"
    with submission.predictions_file.open("rb") as handle:
        assert handle.read() == demo_file("val-zh.json")
    assert "val-zh" not in submission.predictions_file.name  # the participant's name never becomes a path


def test_a_rejected_file_creates_nothing_and_uses_no_limit(alice, demo_val):
    before = rules.quota(alice.membership.team, demo_val)
    with pytest.raises(intake.SubmissionRejected) as rejected:
        intake.submit(user=alice, phase=demo_val, language="zh", data=b'{"nope": 1}')
    assert {p.code for p in rejected.value.problems} == {"not_a_string", "malformed_clip_id", "missing_clip_id"}
    assert Submission.objects.count() == 0
    assert rules.quota(alice.membership.team, demo_val) == before


def test_scoring_writes_the_evaluation_numbers(alice, demo_val):
    submission = submit_demo(alice, demo_val)
    outcome = scoring.score_submission(submission.pk)
    assert outcome.outcome == scoring.Outcome.FINISHED
    submission.refresh_from_db()
    assert submission.status == Status.FINISHED and submission.error == ""
    result = Result.objects.get(pk=submission.current_result_id)
    references = ReferenceSet.objects.get(phase=demo_val, language="zh")
    expected = evaluation.score(references.narrations, json.loads(demo_file("val-zh.json")), "zh")
    assert result.metrics == expected.metrics
    assert result.reference_hash == references.content_hash == expected.reference_hash
    assert result.evaluation_version == evaluation.__version__ and result.clips == 10
    assert Result.objects.only("per_clip").get(pk=result.pk).per_clip == expected.per_clip


def test_a_task_delivered_twice_scores_once(alice, demo_val):
    submission = submit_demo(alice, demo_val)
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.SKIPPED
    assert Result.objects.filter(submission=submission).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_let_exactly_one_win(alice, demo_val):
    submission = submit_demo(alice, demo_val)
    barrier = threading.Barrier(8)
    wins = []

    def claim():
        barrier.wait()
        wins.append(lifecycle.transition(submission.pk, Status.SUBMITTED, Status.RUNNING))
        connection.close()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_the_state_machine_refuses_illegal_edges(alice, demo_val):
    submission = submit_demo(alice, demo_val)
    scoring.score_submission(submission.pk)
    with pytest.raises(IllegalTransition):
        lifecycle.transition(submission.pk, Status.FINISHED, Status.RUNNING)


def test_missing_references_fail_with_a_reason_and_are_not_charged(alice, demo_val):
    submission = submit_demo(alice, demo_val)
    used = rules.quota(alice.membership.team, demo_val).used_total
    ReferenceSet.objects.filter(phase=demo_val, language="zh").delete()
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FAILED
    submission.refresh_from_db()
    assert submission.status == Status.FAILED
    assert "no longer has references" in submission.error and "does not count" in submission.error
    assert rules.quota(alice.membership.team, demo_val).used_total == used - 1


def test_cancelled_while_running_drops_the_result(alice, demo_val, monkeypatch):
    submission = submit_demo(alice, demo_val)
    real_score = evaluation.score

    def cancel_meanwhile(*args, **kwargs):
        assert lifecycle.cancel_submission(submission.pk)
        return real_score(*args, **kwargs)

    monkeypatch.setattr(evaluation, "score", cancel_meanwhile)
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.SKIPPED
    submission.refresh_from_db()
    assert submission.status == Status.CANCELLED and not Result.objects.exists()


def test_a_live_lease_makes_a_second_delivery_wait(alice, demo_val):
    submission = submit_demo(alice, demo_val)
    lease_expires_at = timezone.now() + timedelta(minutes=5)
    lifecycle.transition(submission.pk, Status.SUBMITTED, Status.RUNNING, lease_expires_at=lease_expires_at)
    outcome = scoring.score_submission(submission.pk)
    asked_until = timezone.now()
    # It is asked again a second after the lease runs out, counted from when it was told to wait.
    assert outcome.outcome == scoring.Outcome.BUSY
    assert (lease_expires_at - asked_until).total_seconds() + 1 <= outcome.retry_in_seconds <= 5 * 60 + 1


def test_an_expired_lease_is_taken_over(alice, demo_val):
    submission = submit_demo(alice, demo_val)
    lifecycle.transition(
        submission.pk,
        Status.SUBMITTED,
        Status.RUNNING,
        attempts=1,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    submission.refresh_from_db()
    assert submission.attempts == 2 and submission.status == Status.FINISHED


def test_too_many_crashed_attempts_fail(alice, demo_val, settings):
    submission = submit_demo(alice, demo_val)
    lifecycle.transition(
        submission.pk,
        Status.SUBMITTED,
        Status.RUNNING,
        attempts=settings.SCORING_MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FAILED
    submission.refresh_from_db()
    assert "interrupted 3 times" in submission.error


def test_daily_and_total_limits(alice, demo_val):
    demo_val.max_submissions_per_day, demo_val.max_submissions_total = 2, 3
    demo_val.save()
    submit_demo(alice, demo_val)
    submit_demo(alice, demo_val)
    with pytest.raises(intake.SubmissionRefused) as refused:
        submit_demo(alice, demo_val)
    assert refused.value.refusal.code == "daily_limit" and "resets at 00:00 UTC" in refused.value.refusal.message
    # Yesterday's submissions count towards the total only.
    Submission.objects.update(created_at=timezone.now() - timedelta(days=1))
    submit_demo(alice, demo_val)
    with pytest.raises(intake.SubmissionRefused) as refused:
        submit_demo(alice, demo_val)
    assert refused.value.refusal.code == "total_limit"


def test_failed_runs_do_not_use_the_limit(alice, demo_val):
    demo_val.max_submissions_per_day = 1
    demo_val.save()
    first = submit_demo(alice, demo_val)
    lifecycle.transition(first.pk, Status.SUBMITTED, Status.FAILED, error="worker lost")
    assert submit_demo(alice, demo_val).status == Status.SUBMITTED


@pytest.mark.parametrize(
    ("starts", "ends", "code"),
    [(timedelta(hours=1), None, "phase_not_open"), (-timedelta(days=2), -timedelta(days=1), "phase_closed")],
)
def test_submissions_outside_the_phase_window_are_refused(alice, demo_val, starts, ends, code):
    now = timezone.now()
    demo_val.starts_at = now + starts
    demo_val.ends_at = now + ends if ends else None
    demo_val.save()
    with pytest.raises(intake.SubmissionRefused) as refused:
        submit_demo(alice, demo_val)
    assert refused.value.refusal.code == code


def test_a_user_without_a_team_is_refused(db, demo_val, django_user_model):
    loner = make_participant("loner")  # verified, without a team
    with pytest.raises(intake.SubmissionRefused) as refused:
        submit_demo(loner, demo_val)
    assert refused.value.refusal.code == "no_team"
