"""Result emails and organizers' digests: in-process with the locmem backend, and through a real worker."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import partial
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from leaderboard.challenges.models import ReferenceSet
from leaderboard.judging import finishing, runner
from leaderboard.judging.finishing import Outcome
from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.notifications import services as notifications
from leaderboard.notifications.models import EmailPreference, SentNotification
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Submission
from tests.support.judge_server import FakeJudge
from tests.support.judging import set_judge
from tests.support.processes import WorkerProcess, wait_for_status
from tests.support.service import api_client_for, demo_file, make_participant, make_site_organizer, upload


def with_email(user, address=None):
    user.email = address or f"{user.username}@example.org"
    user.save(update_fields=["email"])
    return user


def submitted(user, phase, language="en", name=None) -> Submission:
    return intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=demo_file(name or f"val-{language}.json"),
        filename="p.json",
        method=intake.MethodInfo(method_name="my model", is_public=True),
    )


def queued_emails(callbacks) -> list[tuple[int, str]]:
    """The result emails the captured on-commit callbacks would queue."""
    return [
        callback.args
        for callback in callbacks
        if isinstance(callback, partial) and callback.func is notifications.enqueue_notification
    ]


@pytest.fixture
def organizer(db):
    return make_site_organizer(with_email(make_participant("olga")))


def test_the_finished_email_has_the_classic_scores_and_says_why_l1_l2_are_absent(
    alice, demo_val, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(alice)
    submission = submitted(alice, demo_val)
    with django_capture_on_commit_callbacks() as callbacks:
        assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    assert queued_emails(callbacks) == [(submission.pk, "finished")]

    assert notifications.notify_submission(submission.pk, "finished") == notifications.Sent.SENT
    [email] = mailoutbox
    submission.refresh_from_db()
    metrics = submission.current_result.metrics
    assert email.to == ["alice@example.org"]
    assert email.subject.endswith(f"submission #{submission.pk} is scored")
    assert f"BLEU-4: {metrics['bleu_4']:.4f}" in email.body
    assert f"CIDEr: {metrics['cider']:.4f}" in email.body
    assert "L1 and L2: not available. No LLM judge is configured for this phase" in email.body
    assert f"/submissions/{submission.pk}/" in email.body
    assert "Method: my model" in email.body

    # Redelivered: nothing more is sent.
    assert notifications.notify_submission(submission.pk, "finished") == notifications.Sent.ALREADY_SENT
    assert len(mailoutbox) == 1
    assert SentNotification.objects.filter(submission=submission).count() == 1


def test_the_failed_email_carries_the_reason_the_team_sees(
    alice, demo_test, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(alice)
    submission = submitted(alice, demo_test, "en", "test-en.jsonl")
    hidden = list(ReferenceSet.objects.get(phase=demo_test, language="en").narrations.values())
    ReferenceSet.objects.filter(phase=demo_test, language="en").delete()
    with django_capture_on_commit_callbacks() as callbacks:
        assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FAILED
    assert queued_emails(callbacks) == [(submission.pk, "failed")]

    assert notifications.notify_submission(submission.pk, "failed") == notifications.Sent.SENT
    assert notifications.notify_submission(submission.pk, "failed") == notifications.Sent.ALREADY_SENT
    [email] = mailoutbox
    submission.refresh_from_db()
    assert f"#{submission.pk} failed" in email.subject
    assert submission.error in email.body and "no longer has references" in email.body
    assert "Traceback" not in email.body
    assert not [text for text in hidden if text in email.body]
    # A failed submission has no "finished" email.
    assert notifications.notify_submission(submission.pk, "finished") == notifications.Sent.NOT_READY


def test_with_a_judge_the_email_waits_for_the_judge_and_then_has_l1_and_l2(
    alice, demo_val, settings, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(alice)
    with FakeJudge() as judge:
        settings.JUDGE_DEFAULTS = {"backoff_base": 0.01, "concurrency": 4}
        set_judge(demo_val, base_url=judge.base_url, model="fake-judge-mail")
        submission = submitted(alice, demo_val)
        scoring.score_submission(submission.pk)
        run = JudgeRun.objects.get(submission=submission)
        assert run.status == JudgeStatus.QUEUED
        # Classic scores alone are not final yet.
        assert notifications.notify_submission(submission.pk, "finished") == notifications.Sent.NOT_READY
        assert mailoutbox == []
        with django_capture_on_commit_callbacks() as callbacks:
            assert runner.judge_result(run.pk).outcome == Outcome.COMPLETE
    assert queued_emails(callbacks) == [(submission.pk, "finished")]
    assert notifications.notify_submission(submission.pk, "finished") == notifications.Sent.SENT
    submission.refresh_from_db()
    metrics = submission.current_result.metrics
    [email] = mailoutbox
    assert f"L1: {metrics['l1']:.2f}" in email.body and f"L2: {metrics['l2']:.2f}" in email.body
    assert f"BLEU-1: {metrics['bleu_1']:.4f}" in email.body
    assert "not available" not in email.body


def test_an_incomplete_judge_run_makes_the_scores_final(
    alice, demo_val, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(alice)
    submission = submitted(alice, demo_val)
    scoring.score_submission(submission.pk)
    run = JudgeRun.objects.get(submission=submission)
    # As if a judge were configured and had given up: what the team reads is in the reason.
    JudgeRun.objects.filter(pk=run.pk).update(status=JudgeStatus.RUNNING, attempts=1)
    with django_capture_on_commit_callbacks() as callbacks:
        finishing.record_interruption(run.pk, "an internal error (the organizers can see it in the logs)")
    assert queued_emails(callbacks) == [(submission.pk, "finished")]
    assert notifications.notify_submission(submission.pk, "finished") == notifications.Sent.SENT
    assert "Judging stopped: an internal error" in mailoutbox[0].body


def test_no_email_for_a_user_who_turned_them_off_or_has_no_address(alice, bob, demo_val, mailoutbox):
    with_email(alice)
    EmailPreference.objects.create(user=alice, on_result=False)
    first = submitted(alice, demo_val)
    scoring.score_submission(first.pk)
    assert notifications.notify_submission(first.pk, "finished") == notifications.Sent.OPTED_OUT
    second = submitted(bob, demo_val, "zh")  # bob has no address
    scoring.score_submission(second.pk)
    assert notifications.notify_submission(second.pk, "finished") == notifications.Sent.NO_ADDRESS
    assert mailoutbox == [] and not SentNotification.objects.exists()


def test_a_participant_turns_result_emails_off_and_cannot_take_the_digest(alice, organizer):
    client = Client()
    client.force_login(alice)
    page = client.get("/account/email/")
    assert page.status_code == 200 and 'name="on_result"' in page.text and 'name="digest"' not in page.text
    response = client.post("/account/email/", {"digest": "on"})
    assert response.status_code == 302
    preference = EmailPreference.objects.get(user=alice)
    assert (preference.on_result, preference.digest) == (False, False)

    client.force_login(organizer)
    assert 'name="digest"' in client.get("/account/email/").text
    client.post("/account/email/", {"on_result": "on", "digest": "on"})
    preference = EmailPreference.objects.get(user=organizer)
    assert (preference.on_result, preference.digest) == (True, True)
    assert Client().get("/account/email/").status_code == 302  # sign in first


def test_the_digest_lists_new_submissions_once(alice, bob, organizer, demo_val, mailoutbox):
    EmailPreference.objects.create(user=organizer, digest=True)
    with_email(alice)
    EmailPreference.objects.create(user=alice, digest=True)  # not an organizer: no digest
    first = submitted(alice, demo_val, "en")
    second = submitted(bob, demo_val, "zh")

    assert notifications.send_digests() == 1
    [email] = mailoutbox
    assert email.to == ["olga@example.org"] and "2 new submission" in email.subject
    for submission, team, language in ((first, "Team A", "en"), (second, "Team B", "zh")):
        line = next(line for line in email.body.splitlines() if f"#{submission.pk} " in line)
        assert team in line and "demo/val" in line and f" {language} " in line and "submitted" in line

    # Nothing new: no empty digest. A later submission: only it.
    assert notifications.send_digests() == 0 and len(mailoutbox) == 1
    third = submitted(alice, demo_val, "zh")
    out = StringIO()
    call_command("send_digest", stdout=out)
    assert "sent 1 digest(s)" in out.getvalue()
    body = mailoutbox[1].body
    assert f"#{third.pk} " in body and f"#{first.pk} " not in body and f"#{second.pk} " not in body


def test_the_first_digest_covers_the_last_day(bob, organizer, demo_val, mailoutbox):
    EmailPreference.objects.create(user=organizer, digest=True)
    old = submitted(bob, demo_val, "zh")
    Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert notifications.send_digests() == 0 and mailoutbox == []
    assert EmailPreference.objects.get(user=organizer).last_digest_at is not None


# -- through a real worker -----------------------------------------------------------


def emails_in(folder: Path) -> list[str]:
    """Each message the file-based backend wrote (it separates them with a line of dashes)."""
    messages = []
    for path in sorted(folder.glob("*.log")):
        messages += [part for part in path.read_text().split("-" * 79) if "Subject:" in part]
    return messages


def wait_for_email(folder: Path, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [message for message in emails_in(folder) if text in message]
        if found:
            return found[0]
        time.sleep(0.25)
    raise AssertionError(f"no email with {text!r} in {folder}: {emails_in(folder)}")


def test_the_worker_sends_the_finished_and_failed_emails_once(transactional_db, tmp_path, alice, demo_val, monkeypatch):
    from workers.tasks import notify_submission, score_submission

    outbox = tmp_path / "outbox"
    outbox.mkdir()
    worker = WorkerProcess(
        tmp_path / "worker.log",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
    )
    worker.start()
    try:
        with_email(alice)
        client = api_client_for(alice)
        finished_id = upload(client, demo_val, "en", demo_file("val-en.json")).json()["id"]
        finished = wait_for_status(finished_id, timeout=120)
        assert finished.status == "finished", worker.output()[-2000:]
        email = wait_for_email(outbox, f"submission #{finished_id} is scored")
        metrics = finished.current_result.metrics
        assert "To: alice@example.org" in email
        assert f"METEOR: {metrics['meteor']:.4f}" in email and f"CIDEr: {metrics['cider']:.4f}" in email

        # Queued by hand once the references are gone, so the run fails whatever the worker's speed.
        monkeypatch.setattr(intake, "enqueue_scoring", lambda submission_id: True)
        failed_id = upload(client, demo_val, "zh", demo_file("val-zh.json")).json()["id"]
        ReferenceSet.objects.filter(phase=demo_val, language="zh").delete()
        score_submission.delay(failed_id)
        failed = wait_for_status(failed_id, timeout=120)
        assert failed.status == "failed"
        email = wait_for_email(outbox, f"submission #{failed_id} failed")
        assert "no longer has references" in email and "Traceback" not in email

        # A redelivered task sends nothing more.
        notify_submission.delay(finished_id, "finished")
        assert worker.wait_for_output("'already_sent'", timeout=60), worker.output()[-2000:]
    finally:
        worker.stop()
    subjects = [message for message in emails_in(outbox) if f"#{finished_id} is scored" in message]
    assert len(subjects) == 1
    assert len(emails_in(outbox)) == 2
    assert SentNotification.objects.filter(submission_id__in=[finished_id, failed_id]).count() == 2


def test_a_refused_digest_does_not_hold_up_the_others_and_goes_out_with_the_next_run(
    bob, organizer, demo_val, mailoutbox, settings
):
    from django.contrib.auth import get_user_model

    settings.EMAIL_BACKEND = "tests.support.email_backends.RefusingBackend"
    refused = make_site_organizer(get_user_model().objects.create_user("rita", email="rita@refused.example"))
    EmailPreference.objects.create(user=refused, digest=True)
    EmailPreference.objects.create(user=organizer, digest=True)
    submission = submitted(bob, demo_val, "zh")

    assert notifications.send_digests() == 1
    assert [email.to for email in mailoutbox] == [["olga@example.org"]]
    # Rita's digest was rolled back, not marked sent: once her address works it holds the same submission.
    assert EmailPreference.objects.get(user=refused).last_digest_at is None
    refused.email = "rita@example.org"
    refused.save()
    assert notifications.send_digests() == 1
    assert mailoutbox[-1].to == ["rita@example.org"] and f"#{submission.pk} " in mailoutbox[-1].body
