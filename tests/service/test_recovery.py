"""A crashed worker costs seconds, not hours: the lease, its heartbeat and the reconciler (the sweep).

An attempt holds its row with a short lease that a thread of its process renews (``LeaseHeartbeat``). Killed,
the process stops renewing; a killed pool process's message comes back at once and takes over when the lease
lapses; a killed worker's stays unacknowledged in Redis for hours, so the sweep (``submissions/requeue.py``,
sent by a real ``celery beat``) queues the run again as soon as its lease lapses. The slow tests kill real
``celery worker`` processes with SIGKILL mid-run, as a lost machine or the OOM killer would.

The processes run with a shorter lease and sweep interval than production's (6 s and 2 s, so ten kills take
about two minutes); ``RECOVERY_LEASE_SECONDS`` and ``RECOVERY_SWEEP_INTERVAL`` set them, e.g. to the defaults
(30 and 30) for the figures in docs/reliability.md. Nothing else differs from production.
"""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from leaderboard.audit.models import AuditEvent
from leaderboard.audit.services import ActionRefused, events_for
from leaderboard.challenges.models import Phase
from leaderboard.judging import runner
from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.notifications.models import SentNotification
from leaderboard.statemachine import LeaseHeartbeat, renew_lease
from leaderboard.submissions import lifecycle, scoring
from leaderboard.submissions.models import Result, Status, Submission
from leaderboard.submissions.requeue import SWEEP_ACTOR, requeue_stuck, requeue_waiting
from tests.support.admin import CHANGELISTS, logged_in, make_organizer, messages_of, run_action, uploaded
from tests.support.judge_server import FakeJudge
from tests.support.judging import run_of, scored_submission, set_judge, wait_for_judge
from tests.support.processes import BeatProcess, WorkerProcess, drop_unacked, purge_queues, wait_for_status
from tests.support.service import api_client_for, demo_file, make_participant, upload

LEASE = os.environ.get("RECOVERY_LEASE_SECONDS", "6")
SWEEP = os.environ.get("RECOVERY_SWEEP_INTERVAL", "2")
#: The issue's bound: a killed run finishes within two minutes of the kill.
BOUND = 120
KILLS = 10
SWEEP_BOUND = timedelta(minutes=2)


# -- real processes ---------------------------------------------------------------------------------------


@pytest.fixture
def mail_dir(tmp_path) -> Path:
    path = tmp_path / "mail"
    path.mkdir()
    return path


@pytest.fixture
def processes_env(mail_dir) -> dict[str, str]:
    """The workers' and beat's environment: short lease and sweep, emails written to files we can count."""
    return {
        "LEASE_SECONDS": LEASE,
        "SWEEP_INTERVAL": SWEEP,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }


@pytest.fixture
def beat(transactional_db, tmp_path, processes_env):
    beat = BeatProcess(tmp_path / "beat.log", **processes_env)
    beat.start()
    try:
        yield beat
    finally:
        beat.stop()


@pytest.fixture
def team(transactional_db, demo_val):
    """A participant with an email address (to count the result emails), allowed as many uploads as we need."""
    user = make_participant("alice", "Team A")
    user.email = "alice@example.org"
    user.save()
    Phase.objects.filter(pk=demo_val.pk).update(max_submissions_per_day=None, max_submissions_total=None)
    yield api_client_for(user)
    drop_unacked()  # what the killed workers held: not for a later run on this Redis


def upload_val(client, phase) -> int:
    response = upload(client, phase, "en", demo_file("val-en.json"), public="true", method_name="kill me")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def wait_until(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {timeout} s"
        time.sleep(0.005)


def claimed(submission_id: int) -> bool:
    return Submission.objects.filter(pk=submission_id, status=Status.RUNNING).exists()


def result_emails(mail_dir: Path, submission_id: int) -> int:
    subject = f"submission #{submission_id} is scored"
    return sum(
        1
        for path in mail_dir.iterdir()
        for line in path.read_text(errors="replace").splitlines()
        if line.startswith("Subject:") and line.endswith(subject)
    )


def redeliver_unacked() -> int:
    """What Redis does once its visibility timeout has passed: the messages killed workers held go back to their
    queues. Returns how many."""
    from workers.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        tags = channel.client.hkeys(channel.unacked_key)
        for tag in tags:
            channel.qos.restore_by_tag(tag)
    return len(tags)


def assert_scored_once(submission_id: int, mail_dir: Path, attempts: int = 2) -> None:
    submission = Submission.objects.get(pk=submission_id)
    assert (submission.status, submission.attempts) == (Status.FINISHED, attempts), submission.error
    assert Result.objects.filter(submission_id=submission_id).count() == 1
    sent = SentNotification.objects.filter(submission_id=submission_id)
    # The email is written before its marker commits: wait for both.
    wait_until(
        lambda: result_emails(mail_dir, submission_id) >= 1 and sent.exists(), what=f"emailed about #{submission_id}"
    )
    assert list(sent.values_list("kind", flat=True)) == ["finished"]
    assert result_emails(mail_dir, submission_id) == 1


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the unacknowledged message is Redis's behaviour")
def test_a_worker_killed_mid_scoring_ten_times_costs_seconds_and_scores_each_submission_once(
    transactional_db, tmp_path, demo_val, team, beat, processes_env, mail_dir
):
    worker = WorkerProcess(tmp_path / "worker-0.log", **processes_env)
    worker.start()
    killed: dict[int, datetime] = {}
    try:
        for kill in range(1, KILLS + 1):
            submission_id = upload_val(team, demo_val)
            wait_until(lambda: claimed(submission_id), what=f"#{submission_id} claimed")  # noqa: B023
            worker.kill()
            killed[submission_id], deadline = timezone.now(), time.monotonic() + BOUND
            # Killed mid-scoring: claimed, nothing stored.
            assert Submission.objects.get(pk=submission_id).status == Status.RUNNING
            assert not Result.objects.filter(submission_id=submission_id).exists()

            worker = WorkerProcess(tmp_path / f"worker-{kill}.log", purge=False, **processes_env)
            worker.start()
            submission = wait_for_status(submission_id, timeout=deadline - time.monotonic())
            assert submission.status == Status.FINISHED, (submission.error, worker.output()[-3000:])

        figures = []
        for submission_id, killed_at in killed.items():
            assert_scored_once(submission_id, mail_dir)
            # The sweep took it over (the message the killed worker held stays unacknowledged), and said why.
            event = AuditEvent.objects.filter(action="submission.requeue", target_id=str(submission_id)).first()
            assert event is not None and event.actor_label == SWEEP_ACTOR
            assert event.details["found"].startswith("lease of attempt 1 lapsed")
            logged = f"submission {submission_id}: {event.reason}"
            assert any(logged in path.read_text() for path in tmp_path.glob("worker-*.log"))
            finished_at = Submission.objects.get(pk=submission_id).finished_at
            figures.append(((event.created_at - killed_at).total_seconds(), (finished_at - killed_at).total_seconds()))
        print(
            f"\n{len(figures)} workers killed mid-scoring and restarted (lease {LEASE} s, sweep every {SWEEP} s); "
            "seconds from SIGKILL to the sweep's requeue / to finished: "
            + ", ".join(f"{requeued:.1f} / {finished:.1f}" for requeued, finished in figures)
        )

        # Hours later Redis hands the killed workers' messages out again: each finds its run done, and does nothing.
        skipped_before = worker.output().count("'skipped'")
        assert redeliver_unacked() >= KILLS
        wait_until(lambda: worker.output().count("'skipped'") >= skipped_before + KILLS, what="skipped the duplicates")
    finally:
        worker.stop()
    for submission_id in killed:
        assert_scored_once(submission_id, mail_dir)


@pytest.mark.slow
def test_a_killed_pool_process_is_replaced_and_its_redelivered_message_takes_over_within_a_lease(
    transactional_db, tmp_path, demo_val, team, processes_env, mail_dir
):
    # No beat: the message Celery requeues when it loses the pool process is enough.
    worker = WorkerProcess(tmp_path / "worker.log", **processes_env)
    worker.start()
    survived: list[float] = []
    try:
        for _ in range(3):
            wait_until(lambda: len(worker.pool_pids()) == 1, what="one pool process")
            submission_id = upload_val(team, demo_val)
            wait_until(lambda: claimed(submission_id), what=f"#{submission_id} claimed")  # noqa: B023
            (pool,) = worker.pool_pids()
            os.kill(pool, signal.SIGKILL)
            killed_at = time.monotonic()
            submission = wait_for_status(submission_id, timeout=BOUND)  # the bound, from the kill
            survived.append(time.monotonic() - killed_at)
            assert submission.status == Status.FINISHED, (submission.error, worker.output()[-3000:])
            assert_scored_once(submission_id, mail_dir)
            assert not AuditEvent.objects.filter(action="submission.requeue").exists()
        assert worker.output().count("WorkerLostError") >= 3
    finally:
        worker.stop()
    print(
        f"\n{len(survived)} pool processes killed mid-scoring (lease {LEASE} s); seconds from SIGKILL to finished: "
        + ", ".join(f"{seconds:.1f}" for seconds in survived)
    )


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the unacknowledged message is Redis's behaviour")
def test_a_judge_worker_killed_mid_run_is_taken_over_and_asks_only_what_was_not_answered(
    transactional_db, tmp_path, demo_val, team, beat, processes_env, mail_dir
):
    judge_env = {**processes_env, "JUDGE_CONCURRENCY": "1"}
    with FakeJudge(latency=0.3) as judge:
        set_judge(demo_val, base_url=judge.base_url, model="fake-judge-1")
        classic = WorkerProcess(tmp_path / "classic.log", **judge_env)
        judge_worker = WorkerProcess(tmp_path / "judge-0.log", queues="judge", purge=False, **judge_env)
        classic.start()
        judge_worker.start()
        try:
            submission_id = upload_val(team, demo_val)
            assert wait_for_status(submission_id, timeout=BOUND).status == Status.FINISHED, classic.output()[-3000:]
            wait_until(
                lambda: JudgeRun.objects.filter(
                    submission_id=submission_id, status=JudgeStatus.RUNNING, judged_clips__gte=2
                ).exists(),
                what="judging",
            )
            judge_worker.kill()
            killed_at = time.monotonic()
            assert run_of(Submission.objects.get(pk=submission_id)).status == JudgeStatus.RUNNING

            judge_worker = WorkerProcess(tmp_path / "judge-1.log", queues="judge", purge=False, **judge_env)
            judge_worker.start()
            run = wait_for_judge(submission_id, timeout=killed_at + BOUND - time.monotonic())
            elapsed = time.monotonic() - killed_at
            # The team's email goes out once the scores are final, from the classic worker.
            wait_until(lambda: result_emails(mail_dir, submission_id) >= 1, what=f"emailed about #{submission_id}")
        finally:
            classic.stop()
            judge_worker.stop()
        print(
            f"\na judge worker killed mid-run (lease {LEASE} s, sweep every {SWEEP} s): complete {elapsed:.1f} s later"
        )
        assert (run.status, run.takeovers, run.attempts) == (JudgeStatus.COMPLETE, 1, 2), run.reason
        # 10 clips, 2 stages: each judgment asked once, but the one in flight when the worker died.
        assert 20 <= judge.calls <= 21
    (event,) = events_for(run)
    assert event.action == "judge.requeue" and event.details["found"].startswith("lease of attempt 1 lapsed")
    assert {"l1", "l2"} <= set(Result.objects.get(pk=run.result_id).metrics)
    assert_scored_once(submission_id, mail_dir, attempts=1)


# -- the lease and the reconciler, in this process ----------------------------------------------------------


def running_since(submission: Submission, *, claimed_ago: float, lease_left: float, attempts: int = 1) -> None:
    """As a worker's claim ``claimed_ago`` seconds ago would leave it, its lease running out in ``lease_left``."""
    now = timezone.now()
    assert lifecycle.transition(submission.pk, Status.SUBMITTED, Status.RUNNING, attempts=attempts)
    Submission.objects.filter(pk=submission.pk).update(
        updated_at=now - timedelta(seconds=claimed_ago), lease_expires_at=now + timedelta(seconds=lease_left)
    )


def test_the_sweep_takes_over_a_run_whose_lease_lapsed_at_once_and_says_why(alice, demo_val, caplog):
    lapsed, live = uploaded(alice, demo_val), uploaded(alice, demo_val)
    running_since(lapsed, claimed_ago=40, lease_left=-5)
    running_since(live, claimed_ago=600, lease_left=20)  # a long run whose worker renews its lease
    try:
        done = requeue_waiting(SWEEP_BOUND, SWEEP_ACTOR, only_idle_queues=True)
        assert done.submissions == [lapsed.pk]
        (event,) = events_for(lapsed)
        assert (event.action, event.actor_label) == ("submission.requeue", SWEEP_ACTOR)
        assert re.fullmatch(
            r"lease of attempt 1 lapsed [5-9] seconds ago in running \(its worker stopped\); queued again by the sweep",
            event.reason,
        )
        assert (event.details["status"], event.details["attempt"]) == ("running", 1)
        assert f"submission {lapsed.pk}: {event.reason}" in caplog.text
        assert not events_for(live)

        # Queued once: the next sweeps leave it until it has waited the bound anew, busy queue or not.
        assert requeue_waiting(SWEEP_BOUND, SWEEP_ACTOR, only_idle_queues=True).submissions == []
        Submission.objects.filter(pk=lapsed.pk).update(updated_at=timezone.now() - timedelta(minutes=3))
        done = requeue_waiting(SWEEP_BOUND, SWEEP_ACTOR, only_idle_queues=True)
        assert done.busy_queues == ["classic"] and done.submissions == [lapsed.pk]
    finally:
        purge_queues()


def test_two_deliveries_after_a_lost_worker_score_once_and_the_dead_attempt_writes_nothing(alice, demo_val):
    submission = uploaded(alice, demo_val)
    running_since(submission, claimed_ago=40, lease_left=-1)
    # The sweep's message and, hours later, the one the dead worker held.
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    assert scoring.score_submission(submission.pk) == scoring.ScoringOutcome(scoring.Outcome.SKIPPED)
    submission.refresh_from_db()
    assert (submission.status, submission.attempts, submission.lease_expires_at) == (Status.FINISHED, 2, None)
    assert Result.objects.filter(submission=submission).count() == 1
    # Were the first attempt alive after all, it could neither renew its lease nor store a result.
    assert not renew_lease(Submission, submission.pk, Status.RUNNING, 1, timedelta(seconds=30))
    assert not lifecycle.transition(submission.pk, Status.RUNNING, Status.FINISHED)


def test_the_heartbeat_renews_the_lease_while_the_attempt_holds_the_row_and_stops_when_it_is_taken_over(
    transactional_db, alice, demo_val
):
    submission = uploaded(alice, demo_val)
    running_since(submission, claimed_ago=0, lease_left=0.6)
    lease = timedelta(seconds=0.6)
    with LeaseHeartbeat(Submission, submission.pk, Status.RUNNING, 1, lease=lease) as heartbeat:
        time.sleep(1.5)  # past the lease of the claim
        assert Submission.objects.get(pk=submission.pk).lease_expires_at > timezone.now()
        assert heartbeat.renewals >= 3 and not heartbeat.lost
        Submission.objects.filter(pk=submission.pk).update(attempts=2)  # another worker took it over
        wait_until(lambda: heartbeat.lost, timeout=5, what="lost")
    renewed = Submission.objects.get(pk=submission.pk).lease_expires_at
    time.sleep(0.5)
    assert Submission.objects.get(pk=submission.pk).lease_expires_at == renewed


def test_the_sweep_takes_over_a_judge_run_whose_lease_lapsed(alice, judged_val, fake_judge, caplog):
    submission = scored_submission(alice, judged_val)
    run = run_of(submission)
    now = timezone.now()
    JudgeRun.objects.filter(pk=run.pk).update(
        status=JudgeStatus.RUNNING, attempts=1, updated_at=now - timedelta(seconds=40), lease_expires_at=now
    )
    try:
        assert requeue_waiting(SWEEP_BOUND, SWEEP_ACTOR).judge_runs == [run.pk]
        (event,) = events_for(run)
        assert event.reason.startswith("lease of attempt 1 lapsed ") and event.details["status"] == "running"
        assert f"judge run {run.pk} of submission {submission.pk}: {event.reason}" in caplog.text
        # The message takes it over: it asks the judge, once.
        assert runner.judge_result(run.pk).outcome == "complete"
        run.refresh_from_db()
        assert (run.status, run.takeovers, run.attempts, fake_judge.calls) == (JudgeStatus.COMPLETE, 1, 2, 20)
        assert runner.judge_result(run.pk).outcome == "skipped"
    finally:
        purge_queues()


# -- an organizer's requeue: the admin action and the command -------------------------------------------------


def test_requeue_stuck_in_the_admin_queues_a_waiting_and_a_lapsed_run_and_leaves_a_live_or_finished_one(
    alice, bob, demo_val
):
    organizer = make_organizer(models=("submission",))
    waiting, lapsed, live, cancelled = (uploaded(user, demo_val) for user in (alice, bob, alice, bob))
    running_since(lapsed, claimed_ago=50, lease_left=-10)
    running_since(live, claimed_ago=50, lease_left=20)
    assert lifecycle.cancel_submission(cancelled.pk)
    try:
        response = run_action(
            logged_in(organizer),
            CHANGELISTS["submission"],
            "requeue_stuck_selected",
            [waiting, lapsed, live, cancelled],
            reason="worker machine replaced",
        )
    finally:
        purge_queues()
    events = {int(event.target_id): event for event in AuditEvent.objects.filter(action="submission.requeue")}
    assert set(events) == {waiting.pk, lapsed.pk}
    assert {(event.actor, event.reason) for event in events.values()} == {(organizer, "worker machine replaced")}
    found = events[lapsed.pk].details["found"]
    assert re.fullmatch(r"lease of attempt 1 lapsed 1\d seconds ago in running \(its worker stopped\)", found)
    assert events[waiting.pk].details["found"].startswith("waited ")
    text = " ".join(messages_of(response))
    assert "2 submission(s) queued again." in text
    assert f"#{live.pk} is running and its worker keeps its lease alive" in text
    assert f"#{cancelled.pk} is cancelled: only a waiting submission, or a running one" in text


def test_requeue_stuck_in_the_admin_of_judge_runs(alice, judged_val, fake_judge):
    organizer = make_organizer(models=("judgerun",))
    run = run_of(scored_submission(alice, judged_val))
    now = timezone.now()
    JudgeRun.objects.filter(pk=run.pk).update(status=JudgeStatus.RUNNING, attempts=1, lease_expires_at=now)
    try:
        response = run_action(
            logged_in(organizer), "/admin/judging/judgerun/", "requeue_stuck", [run], reason="judge worker lost"
        )
    finally:
        purge_queues()
    (event,) = events_for(run)
    assert (event.action, event.actor, event.reason) == ("judge.requeue", organizer, "judge worker lost")
    assert "1 judge run(s) queued again." in messages_of(response)


def test_the_requeue_stuck_command_says_what_it_queued_and_what_it_left(alice, demo_val):
    lapsed, live = uploaded(alice, demo_val), uploaded(alice, demo_val)
    running_since(lapsed, claimed_ago=50, lease_left=-10)
    running_since(live, claimed_ago=50, lease_left=20)
    out, err = StringIO(), StringIO()
    try:
        with pytest.raises(CommandError, match="1 left as they were"):
            call_command(
                "requeue_stuck", "--submission", str(lapsed.pk), str(live.pk), "--reason", "oom", stdout=out, stderr=err
            )
        with pytest.raises(CommandError, match="not found: 999999"):
            call_command("requeue_stuck", "--submission", "999999", "--reason", "oom")
    finally:
        purge_queues()
    assert out.getvalue() == f"#{lapsed.pk}: queued again\n"
    assert "keeps its lease alive" in err.getvalue()
    (event,) = AuditEvent.objects.filter(action="submission.requeue")
    assert (event.actor_label, event.reason, event.target_id) == ("command requeue_stuck", "oom", str(lapsed.pk))
    with pytest.raises(ActionRefused, match="Give a reason"):
        requeue_stuck("command requeue_stuck", lapsed, "  ")
