"""The sweep (Celery beat, every SWEEP_INTERVAL): what waits because its message was lost is queued again, once
per bound, and recorded."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from leaderboard.audit.services import events_for
from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.submissions import intake
from leaderboard.submissions.models import Result, Submission
from leaderboard.submissions.requeue import SWEEP_ACTOR, requeue_waiting
from tests.support.processes import WorkerProcess, purge_queues, wait_for_status
from tests.support.service import api_client_for, demo_file, upload

BOUND = timedelta(minutes=2)


def test_the_sweep_on_a_real_worker_scores_a_submission_whose_message_was_lost(
    transactional_db, tmp_path, alice, demo_val
):
    from workers.tasks import requeue_waiting as sweep

    response = upload(
        api_client_for(alice), demo_val, "en", demo_file("val-en.json"), public="true", method_name="lost once"
    )
    submission_id = response.json()["id"]
    # The worker empties the queues before it starts: the upload's message is lost, as in a broker outage.
    worker = WorkerProcess(tmp_path / "worker.log", SWEEP_WAITING_AFTER="0")
    worker.start()
    try:
        assert Submission.objects.get(pk=submission_id).status == "submitted"
        sweep.delay()
        submission = wait_for_status(submission_id, timeout=120)
    finally:
        worker.stop()
    assert submission.status == "finished", (submission.error, worker.output()[-3000:])
    rows = APIClient().get("/api/v1/challenges/demo/phases/val/leaderboards/en/l2/").json()["rows"]
    assert [(row["submission_id"], row["method_name"]) for row in rows] == [(submission_id, "lost once")]
    (event,) = events_for(submission)
    assert (event.action, event.actor_label, event.actor) == ("submission.requeue", SWEEP_ACTOR, None)
    assert event.reason.startswith("waited ") and event.reason.endswith(" in submitted; queued again by the sweep")
    assert f"submission {submission_id}: {event.reason}" in worker.output()


def test_the_sweep_waits_the_bound_and_queues_the_same_submission_once_per_bound(db, alice, demo_val):
    # Inside a test's transaction the upload's message is never sent: it waits as if it had been lost.
    submission = intake.submit(user=alice, phase=demo_val, language="en", data=demo_file("val-en.json"))
    try:
        assert requeue_waiting(BOUND, SWEEP_ACTOR).submissions == []  # younger than the bound

        five_minutes_ago = timezone.now() - timedelta(minutes=5)
        Submission.objects.filter(pk=submission.pk).update(created_at=five_minutes_ago, updated_at=five_minutes_ago)
        assert requeue_waiting(BOUND, SWEEP_ACTOR).submissions == [submission.pk]
        # Queued again just now: the next sweeps leave it until it has waited the bound anew.
        assert requeue_waiting(BOUND, SWEEP_ACTOR).submissions == []
        (event,) = events_for(submission)
        assert event.reason == "waited 5 minutes in submitted; queued again by the sweep"
        assert event.details["waited_seconds"] >= 300

        # Its message now waits in the classic queue: the periodic sweep leaves a busy queue alone.
        Submission.objects.filter(pk=submission.pk).update(updated_at=five_minutes_ago)
        done = requeue_waiting(BOUND, SWEEP_ACTOR, only_idle_queues=True)
        assert done.submissions == [] and done.busy_queues == ["classic"]
    finally:
        purge_queues()


def test_the_sweep_queues_again_waiting_and_overdue_judge_runs(db, alice, demo_val):
    submission = intake.submit(user=alice, phase=demo_val, language="en", data=demo_file("val-en.json"))
    long_ago = timezone.now() - timedelta(minutes=30)
    runs = {}
    for status, resume_at in (
        (JudgeStatus.QUEUED, None),
        (JudgeStatus.INCOMPLETE, long_ago),
        (JudgeStatus.INCOMPLETE, None),
    ):
        result = Result.objects.create(
            submission=submission,
            metrics={},
            per_clip={},
            clips=8,
            evaluation_version="test",
            protocol="test",
            reference_hash="test",
            duration_seconds=0,
            rescore_key=f"{status}-{resume_at}",
        )
        run = JudgeRun.objects.create(result=result, submission=submission, status=status, resume_at=resume_at)
        JudgeRun.objects.filter(pk=run.pk).update(updated_at=long_ago)
        runs[status, resume_at] = run.pk
    try:
        Submission.objects.filter(pk=submission.pk).update(status="finished")
        done = requeue_waiting(BOUND, "command requeue_waiting")
        # Not the incomplete run without a resume: that one waits for an organizer.
        queued, overdue = runs[JudgeStatus.QUEUED, None], runs[JudgeStatus.INCOMPLETE, long_ago]
        assert done.judge_runs == [queued, overdue]
        reasons = {pk: [event.reason for event in events_for(JudgeRun.objects.get(pk=pk))] for pk in runs.values()}
        assert reasons == {
            queued: ["waited 30 minutes in queued; queued again by the command requeue_waiting"],
            overdue: ["automatic resume overdue by 30 minutes; queued again by the command requeue_waiting"],
            runs[JudgeStatus.INCOMPLETE, None]: [],
        }
        assert requeue_waiting(BOUND, "command requeue_waiting").judge_runs == []
    finally:
        purge_queues()
