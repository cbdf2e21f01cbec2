"""Re-scoring: new results beside the old ones, identical numbers for identical inputs, an audit event each time.

Classic metrics are computed for real (Java and all); the judge is the loopback
FakeJudge; the queued path runs on a real Celery worker.
"""

from __future__ import annotations

import time

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from leaderboard.audit.models import AuditEvent
from leaderboard.challenges.models import ReferenceSet
from leaderboard.judging import runner
from leaderboard.judging.finishing import Outcome
from leaderboard.judging.models import JudgeStatus
from leaderboard.submissions import moderation
from leaderboard.submissions.models import Result, Submission
from tests.support.admin import CHANGELISTS, logged_in, make_organizer, messages_of, run_action, uploaded
from tests.support.judging import run_of, scored_submission
from tests.support.processes import wait_for_status


def board_scores(phase, submission_id, language="en", stage="l1") -> dict:
    """The scores a public board shows for a submission."""
    return board_row(phase, submission_id, language, stage)["scores"]


def shown(metrics: dict, scores: dict) -> dict:
    return {name: metrics[name] for name in scores}


def board_row(phase, submission_id, language="en", stage="l1") -> dict:
    body = (
        APIClient()
        .get(f"/api/v1/challenges/{phase.challenge.slug}/phases/{phase.slug}/leaderboards/{language}/{stage}/")
        .json()
    )
    return next(row for row in body["rows"] if row["submission_id"] == submission_id)


@pytest.fixture
def no_judge(settings):
    settings.JUDGE_DEFAULTS = {}


def test_unchanged_inputs_give_bit_identical_numbers_and_the_old_result_is_kept(alice, demo_val, no_judge):
    submission = scored_submission(alice, demo_val)
    old = Result.objects.get(pk=submission.current_result_id)
    organizer = make_organizer()

    rescored = moderation.rescore_submissions(organizer, [submission], "Determinism check", in_process=True)
    new = rescored.new_results[submission.pk]
    submission.refresh_from_db()
    assert new.pk != old.pk and submission.current_result_id == new.pk  # no judge: current at once
    assert Result.objects.get(pk=new.pk).metrics == old.metrics  # every float, bit for bit
    assert (new.reference_hash, new.evaluation_version) == (old.reference_hash, old.evaluation_version)
    assert set(Result.objects.filter(submission=submission).values_list("pk", flat=True)) == {old.pk, new.pk}
    assert board_scores(demo_val, submission.pk)["cider"] == old.metrics["cider"]
    event = AuditEvent.objects.get()
    assert (event.action, event.reason, event.actor) == ("submission.rescore", "Determinism check", organizer)
    assert event.details == {"mode": "in_process", "previous_result": old.pk}


def test_a_fixed_reference_gives_a_new_result_and_the_board_switches_once_it_is_judged(alice, judged_val, fake_judge):
    submission = scored_submission(alice, judged_val)
    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    old = Result.objects.get(pk=submission.current_result_id)
    assert fake_judge.calls == 20 and "l1" in old.metrics

    references = ReferenceSet.objects.get(phase=judged_val, language="en")
    clip_id = sorted(references.narrations)[0]
    references.narrations[clip_id] = "A corrected reference: the keeper climbs the lighthouse stairs at dusk."
    references.save()
    assert references.content_hash != old.reference_hash

    rescored = moderation.rescore_submissions(make_organizer(), judged_val, "Fixed a reference typo", in_process=True)
    new = rescored.new_results[submission.pk]
    assert new.reference_hash == references.content_hash
    submission.refresh_from_db()
    assert submission.current_result_id == old.pk  # the board keeps its stage scores while the re-score is judged
    scores = board_scores(judged_val, submission.pk)
    assert {"l1", "cider"} <= set(scores) and scores == shown(old.metrics, scores)

    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    run = run_of(submission)
    # Only the changed clip is asked again (one L1 and one L2 prompt); the rest comes from the cache.
    assert (fake_judge.calls, run.calls, run.cache_hits) == (22, 2, 18)
    submission.refresh_from_db()
    new = Result.objects.get(pk=new.pk)
    assert submission.current_result_id == new.pk and new.metrics != old.metrics
    scores = board_scores(judged_val, submission.pk)
    assert scores == shown(new.metrics, scores) and scores != shown(old.metrics, scores)
    assert Result.objects.filter(pk=old.pk).exists()
    assert Result.objects.get(pk=old.pk).metrics == old.metrics  # untouched
    event = AuditEvent.objects.get()
    assert (event.action, event.target_type, event.target_id) == (
        "phase.rescore",
        "challenges.phase",
        str(judged_val.pk),
    )
    assert event.details["submissions"] == [submission.pk]
    assert event.details["previous_results"] == {str(submission.pk): old.pk}


def test_the_command_needs_a_reason_and_records_who_asked(alice, demo_val, no_judge):
    submission = scored_submission(alice, demo_val)
    with pytest.raises(CommandError, match="--reason"):
        call_command("rescore", "--phase", "demo/val", "--here", stdout=open("/dev/null", "w"))
    with pytest.raises(CommandError, match="reason"):
        call_command("rescore", "--phase", "demo/val", "--reason", "  ", stdout=open("/dev/null", "w"))
    assert not AuditEvent.objects.exists() and submission.results.count() == 1

    call_command(
        "rescore",
        "--phase",
        "demo/val",
        "--language",
        "en",
        "--reason",
        "New evaluation version",
        "--here",
        stdout=open("/dev/null", "w"),
    )
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_label, event.action, event.reason) == (
        None,
        "command rescore",
        "phase.rescore",
        "New evaluation version",
    )
    assert event.details["language"] == "en" and event.details["submissions"] == [submission.pk]
    assert submission.results.count() == 2

    organizer = make_organizer()
    call_command(
        "rescore",
        "--submission",
        str(submission.pk),
        "--reason",
        "Again",
        "--actor",
        "olga",
        "--here",
        stdout=open("/dev/null", "w"),
    )
    event = AuditEvent.objects.filter(action="submission.rescore").get()
    assert (event.actor, event.actor_label) == (organizer, "olga")
    assert submission.results.count() == 3
    with pytest.raises(CommandError, match="no user"):
        call_command("rescore", "--submission", str(submission.pk), "--reason", "x", "--actor", "nobody")


# -- through the admin, on a real worker -------------------------------------------------------------


def wait_for_new_current_result(submission_id: int, old_result_id: int, worker, timeout: float = 180) -> Submission:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        submission = Submission.objects.get(pk=submission_id)
        if submission.current_result_id != old_result_id:
            return submission
        time.sleep(0.25)
    raise AssertionError(f"no new result for #{submission_id}:\n{worker.output()[-3000:]}")


def test_admin_rescores_of_a_selection_and_a_phase_run_on_the_worker_and_keep_every_result(
    alice, bob, demo_val, celery_worker
):
    first, second = uploaded(alice, demo_val), uploaded(bob, demo_val, "zh")
    first, second = (wait_for_status(item.pk) for item in (first, second))
    assert first.status == second.status == "finished", celery_worker.output()[-3000:]
    originals = {item.pk: Result.objects.get(pk=item.current_result_id) for item in (first, second)}
    client = logged_in(make_organizer())

    response = run_action(client, CHANGELISTS["submission"], "rescore_selected", [first], reason="Spot check")
    assert f"1 submission(s) queued for re-scoring: #{first.pk}." in messages_of(response)
    rescored = wait_for_new_current_result(first.pk, originals[first.pk].pk, celery_worker)
    assert Result.objects.get(pk=rescored.current_result_id).metrics == originals[first.pk].metrics
    assert AuditEvent.objects.get(action="submission.rescore").reason == "Spot check"

    selected = [str(demo_val.pk)]
    page = client.post(CHANGELISTS["phase"], {"action": "rescore_phase", ACTION_CHECKBOX_NAME: selected, "index": "0"})
    assert page.status_code == 200 and "All languages" in page.content.decode()
    client.post(
        CHANGELISTS["phase"],
        {
            "action": "rescore_phase",
            ACTION_CHECKBOX_NAME: selected,
            "post": "yes",
            "language": "zh",
            "reason": "Chinese references re-normalized",
        },
    )
    rescored = wait_for_new_current_result(second.pk, originals[second.pk].pk, celery_worker)
    assert Result.objects.get(pk=rescored.current_result_id).metrics == originals[second.pk].metrics
    event = AuditEvent.objects.get(action="phase.rescore")
    assert event.details["submissions"] == [second.pk] and event.details["language"] == "zh"
    assert Result.objects.filter(submission=first).count() == 2  # the zh-only re-score left it alone
    assert Result.objects.filter(submission=second).count() == 2
    assert run_of(rescored).status == JudgeStatus.NOT_CONFIGURED


def test_a_rescore_message_delivered_twice_adds_one_result(alice, demo_val, no_judge):
    from leaderboard.submissions import scoring
    from workers.tasks import rescore_submission

    submission = scored_submission(alice, demo_val)
    organizer = make_organizer()
    # The request as the admin queues it (on commit), then the same message delivered twice.
    request = moderation.rescore_submissions(organizer, [submission], "Twice", in_process=False)
    key = f"audit-{request.events[0].pk}"
    assert rescore_submission.run(submission.pk, key) == "rescored"
    assert rescore_submission.run(submission.pk, key) == "skipped"
    assert Result.objects.filter(submission=submission).count() == 2
    # A new request is a new result.
    assert scoring.rescore(submission.pk, "audit-other") is not None
    assert Result.objects.filter(submission=submission).count() == 3


def test_the_newest_rescore_stays_on_the_board_whichever_judge_run_ends_last(alice, judged_val, fake_judge):
    submission = scored_submission(alice, judged_val)
    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    organizer = make_organizer()
    first = moderation.rescore_submissions(organizer, [submission], "First", in_process=True).new_results[submission.pk]
    second = moderation.rescore_submissions(organizer, [submission], "Second", in_process=True).new_results[
        submission.pk
    ]
    assert runner.judge_result(second.judge_run.pk).outcome == Outcome.COMPLETE
    submission.refresh_from_db()
    assert submission.current_result_id == second.pk
    # The older re-score's judging ends later (say it was resumed): the board keeps the newer result.
    assert runner.judge_result(first.judge_run.pk).outcome == Outcome.COMPLETE
    submission.refresh_from_db()
    assert submission.current_result_id == second.pk


def test_a_queued_rescore_that_fails_is_in_the_audit_log(alice, demo_val, no_judge):
    from workers.tasks import rescore_submission

    submission = scored_submission(alice, demo_val)
    ReferenceSet.objects.filter(phase=demo_val, language=submission.language).delete()
    assert rescore_submission.run(submission.pk, "audit-9") == "failed"
    event = AuditEvent.objects.get(action="submission.rescore_failed")
    assert event.actor_label == "worker" and event.target_id == str(submission.pk) and event.reason
    assert event.details == {"request": "audit-9"}
