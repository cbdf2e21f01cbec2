"""Organizer actions through Django's real admin: a reason asked on an intermediate page, one audit event each.

Every test posts the action from the change list, then the confirmation form,
as an organizer's browser does, and reads the database afterwards.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from leaderboard.audit.models import AuditEvent
from leaderboard.audit.services import ReasonRequired
from leaderboard.challenges.models import JudgeSettings
from leaderboard.submissions import lifecycle, moderation, rules
from leaderboard.submissions.models import Moderation, Status, Submission
from leaderboard.teams import services as team_services
from leaderboard.teams.models import ApprovalStatus, PhaseApproval, Team
from tests.support.admin import (
    CHANGELISTS,
    change_form_data,
    logged_in,
    make_organizer,
    messages_of,
    run_action,
    uploaded,
)
from tests.support.service import api_client_for, make_participant


def only_event(**filters) -> AuditEvent:
    events = list(AuditEvent.objects.filter(**filters))
    assert len(events) == 1, events
    return events[0]


@pytest.fixture
def organizer(db):
    return make_organizer()


# -- submissions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, moderation_value", [("hide_selected", Moderation.HIDDEN), ("disqualify_selected", Moderation.DISQUALIFIED)]
)
def test_hiding_or_disqualifying_asks_why_then_records_one_event(alice, demo_val, organizer, action, moderation_value):
    submission = uploaded(alice, demo_val)
    client = logged_in(organizer)
    response = run_action(client, CHANGELISTS["submission"], action, [submission], reason="Copied narrations")
    submission.refresh_from_db()
    assert (submission.moderation, submission.moderation_reason) == (moderation_value, "Copied narrations")
    event = only_event()
    assert (event.actor, event.actor_label, event.reason) == (organizer, "olga", "Copied narrations")
    assert (event.action, event.target_type, event.target_id) == (
        f"submission.{action.removesuffix('_selected')}",
        "submissions.submission",
        str(submission.pk),
    )
    assert event.details["moderation"] == ["", moderation_value]
    assert "1 submission(s)" in " ".join(messages_of(response))

    response = run_action(client, CHANGELISTS["submission"], "restore_selected", [submission], reason="Appeal upheld")
    submission.refresh_from_db()
    assert (submission.moderation, submission.moderation_reason) == ("", "")
    restored = only_event(action="submission.restore")
    assert restored.details["moderation"] == [moderation_value, ""] and restored.reason == "Appeal upheld"
    assert "1 submission(s) restored." in messages_of(response)


def test_the_confirmation_page_changes_nothing_and_an_empty_reason_is_asked_again(alice, demo_val, organizer):
    submission = uploaded(alice, demo_val)
    client = logged_in(organizer)
    page = client.post(
        CHANGELISTS["submission"], {"action": "hide_selected", ACTION_CHECKBOX_NAME: [submission.pk], "index": "0"}
    )
    assert page.status_code == 200 and str(submission) in page.content.decode()
    assert not AuditEvent.objects.exists() and Submission.objects.get(pk=submission.pk).moderation == ""

    again = client.post(
        CHANGELISTS["submission"],
        {"action": "hide_selected", ACTION_CHECKBOX_NAME: [submission.pk], "post": "yes", "reason": "   "},
    )
    assert again.status_code == 200 and "This field is required." in again.content.decode()
    assert not AuditEvent.objects.exists() and Submission.objects.get(pk=submission.pk).moderation == ""


def test_a_selection_gets_one_event_per_submission_and_refusals_are_reported(alice, bob, demo_val, organizer):
    first, second = uploaded(alice, demo_val), uploaded(bob, demo_val)
    moderation.hide(organizer, second, "already hidden earlier")
    response = run_action(
        logged_in(organizer), CHANGELISTS["submission"], "hide_selected", [first, second], reason="Spam"
    )
    assert AuditEvent.objects.filter(action="submission.hide", reason="Spam").count() == 1
    assert Submission.objects.get(pk=first.pk).moderation == Moderation.HIDDEN
    assert Submission.objects.get(pk=second.pk).moderation_reason == "already hidden earlier"
    text = " ".join(messages_of(response))
    assert "1 submission(s) hidden." in text and f"#{second.pk} is already hidden" in text


def test_cancelling_stops_a_waiting_and_a_running_submission_and_refuses_a_finished_one(
    alice, bob, demo_val, organizer
):
    waiting, running = uploaded(alice, demo_val), uploaded(bob, demo_val)
    assert lifecycle.transition(
        running.pk, Status.SUBMITTED, Status.RUNNING, lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    client = logged_in(organizer)
    run_action(client, CHANGELISTS["submission"], "cancel_selected", [waiting, running], reason="Wrong phase")
    assert set(Submission.objects.filter(pk__in=[waiting.pk, running.pk]).values_list("status", flat=True)) == {
        Status.CANCELLED
    }
    events = AuditEvent.objects.filter(action="submission.cancel")
    assert {tuple(event.details["status"]) for event in events} == {
        ("submitted", "cancelled"),
        ("running", "cancelled"),
    }
    assert all(event.reason == "Wrong phase" and event.actor == organizer for event in events)
    # A worker finishing the cancelled run cannot overwrite the cancellation.
    assert not lifecycle.transition(running.pk, Status.RUNNING, Status.FINISHED)

    response = run_action(client, CHANGELISTS["submission"], "cancel_selected", [waiting], reason="Again")
    assert AuditEvent.objects.filter(action="submission.cancel").count() == 2
    assert "only a submission waiting for or in scoring can be cancelled" in " ".join(messages_of(response))


def test_cancelling_also_cancels_the_judge_runs_still_going(alice, demo_val, organizer, settings):
    from leaderboard.judging.models import JudgeRun, JudgeStatus
    from leaderboard.submissions.models import Result

    submission = uploaded(alice, demo_val)
    lifecycle.transition(submission.pk, Status.SUBMITTED, Status.RUNNING)
    # A judge run left queued beside a running submission (a re-score's, say).
    result = Result.objects.create(
        submission=submission,
        metrics={},
        per_clip={},
        clips=10,
        evaluation_version="x",
        protocol="x",
        reference_hash="x",
        duration_seconds=0,
    )
    run = JudgeRun.objects.create(result=result, submission=submission, status=JudgeStatus.QUEUED)
    run_action(logged_in(organizer), CHANGELISTS["submission"], "cancel_selected", [submission], reason="Stop it")
    run.refresh_from_db()
    assert run.status == JudgeStatus.CANCELLED
    assert only_event(action="submission.cancel").details["cancelled_judge_runs"] == [run.pk]


def test_marking_and_unmarking_a_baseline_records_the_citation(alice, demo_val, organizer):
    submission = uploaded(alice, demo_val)
    client = logged_in(organizer)
    response = run_action(
        client,
        CHANGELISTS["submission"],
        "mark_baseline_selected",
        [submission],
        citation="Yue et al., Movie101v2 (2024)",
        reason="The paper's reference system",
    )
    submission.refresh_from_db()
    assert submission.is_baseline and submission.baseline_citation == "Yue et al., Movie101v2 (2024)"
    event = only_event(action="submission.mark_baseline")
    assert event.reason == "The paper's reference system"
    assert event.details["baseline_citation"] == ["", "Yue et al., Movie101v2 (2024)"]
    assert "1 submission(s) marked as baselines." in messages_of(response)

    run_action(client, CHANGELISTS["submission"], "unmark_baseline_selected", [submission], reason="Withdrawn")
    submission.refresh_from_db()
    assert not submission.is_baseline and submission.baseline_citation == ""
    assert only_event(action="submission.unmark_baseline").details["is_baseline"] == [True, False]


def test_the_change_form_cannot_edit_moderation_status_or_baseline(alice, demo_val, organizer):
    submission = uploaded(alice, demo_val)
    client = logged_in(organizer)
    client.post(
        f"{CHANGELISTS['submission']}{submission.pk}/change/",
        {"moderation": "hidden", "status": "finished", "is_baseline": "on", "is_public": ""},
    )
    submission.refresh_from_db()
    assert (submission.moderation, submission.status, submission.is_baseline, submission.is_public) == (
        "",
        "submitted",
        False,
        True,
    )
    assert client.get(f"{CHANGELISTS['submission']}add/").status_code == 403


# -- who may act ----------------------------------------------------------------------------


def test_a_participant_and_staff_without_the_change_permission_cannot_act(alice, demo_val):
    submission = uploaded(alice, demo_val)
    for user in (alice, make_organizer("viewer", models=())):
        client = logged_in(user)
        response = client.post(
            CHANGELISTS["submission"],
            {"action": "hide_selected", "post": "yes", ACTION_CHECKBOX_NAME: [submission.pk], "reason": "x"},
        )
        assert response.status_code in (302, 403)
    viewer = make_organizer("reader", models=())
    viewer.user_permissions.add(Permission.objects.get(codename="view_submission"))
    response = logged_in(viewer).post(
        CHANGELISTS["submission"],
        {"action": "hide_selected", "post": "yes", ACTION_CHECKBOX_NAME: [submission.pk], "reason": "x"},
        follow=True,
    )
    assert response.status_code == 200
    assert Submission.objects.get(pk=submission.pk).moderation == "" and not AuditEvent.objects.exists()


def test_a_superuser_may_act(alice, demo_val):
    superuser = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    submission = uploaded(alice, demo_val)
    run_action(logged_in(superuser), CHANGELISTS["submission"], "disqualify_selected", [submission], reason="Rules")
    assert Submission.objects.get(pk=submission.pk).moderation == Moderation.DISQUALIFIED
    assert only_event().actor_label == "root"


# -- teams and approvals ----------------------------------------------------------------------


def test_banning_and_unbanning_a_team(alice, demo_val, organizer):
    team = Team.objects.get(name="Team A")
    client = logged_in(organizer)
    response = run_action(client, CHANGELISTS["team"], "ban_selected", [team], reason="Several accounts")
    team.refresh_from_db()
    assert team.banned and team.ban_reason == "Several accounts"
    event = only_event(action="team.ban")
    assert (event.target_type, event.actor, event.details["banned"]) == ("teams.team", organizer, [False, True])
    assert "1 team(s) banned." in messages_of(response)
    # The ban shows where the team submits (the eligibility rules read it).
    refused = api_client_for(alice).post("/api/v1/challenges/demo/phases/val/approval/")
    assert refused.status_code == 400 and "banned" in refused.json()["detail"]

    run_action(client, CHANGELISTS["team"], "unban_selected", [team], reason="Explained")
    team.refresh_from_db()
    assert not team.banned and team.ban_reason == ""
    assert only_event(action="team.unban").details["ban_reason"] == ["Several accounts", ""]


@pytest.fixture
def gated_val(demo_val):
    demo_val.requires_approval = True
    demo_val.save()
    return demo_val


@pytest.mark.parametrize(
    "action, status", [("approve_selected", ApprovalStatus.APPROVED), ("reject_selected", ApprovalStatus.REJECTED)]
)
def test_deciding_on_an_approval_request(alice, gated_val, organizer, action, status):
    approval = team_services.request_approval(alice, gated_val)
    assert approval.status == ApprovalStatus.PENDING
    assert only_event(action="approval.request").actor == alice
    response = run_action(
        logged_in(organizer), CHANGELISTS["approval"], action, [approval], reason="Checked the registration form"
    )
    approval.refresh_from_db()
    assert (approval.status, approval.note, approval.decided_by) == (status, "Checked the registration form", organizer)
    assert approval.decided_at is not None
    event = only_event(action=f"approval.{action.removesuffix('_selected')}")
    assert event.details["status"] == ["pending", status] and event.details["team"] == "Team A"
    assert messages_of(response)

    body = api_client_for(alice).get("/api/v1/challenges/demo/phases/val/approval/").json()
    assert (body["required"], body["status"], body["note"]) == (True, status, "Checked the registration form")


def test_participants_ask_for_approval_through_the_api_and_the_site(alice, bob, gated_val, demo_test):
    client = api_client_for(alice)
    assert client.get("/api/v1/challenges/demo/phases/val/approval/").json()["status"] is None
    asked = client.post("/api/v1/challenges/demo/phases/val/approval/")
    assert asked.status_code == 200 and asked.json()["status"] == "pending"
    assert client.post("/api/v1/challenges/demo/phases/val/approval/").json()["status"] == "pending"
    assert PhaseApproval.objects.filter(phase=gated_val).count() == 1
    assert AuditEvent.objects.filter(action="approval.request").count() == 1  # asking twice changes nothing
    not_needed = client.post("/api/v1/challenges/demo/phases/test/approval/")
    assert not_needed.status_code == 400 and "no approval is needed" in not_needed.json()["detail"]
    assert (
        api_client_for(make_participant("loner")).post("/api/v1/challenges/demo/phases/val/approval/").status_code
        == 400
    )
    assert APIClient().post("/api/v1/challenges/demo/phases/val/approval/").status_code in (401, 403)

    site = Client()
    site.force_login(bob)
    page = site.get("/c/demo/").content.decode()
    assert "/c/demo/val/approval/" in page and "Ask for approval" in page
    response = site.post("/c/demo/val/approval/", follow=True)
    assert response.redirect_chain[-1][0] == "/c/demo/"
    assert PhaseApproval.objects.get(team__name="Team B", phase=gated_val).status == ApprovalStatus.PENDING
    assert "Waiting for approval" in response.content.decode()


def test_a_rejected_team_may_ask_again(alice, gated_val, organizer):
    approval = team_services.request_approval(alice, gated_val)
    team_services.reject(organizer, approval, "Use your institutional address")
    again = team_services.request_approval(alice, gated_val)
    assert again.pk == approval.pk and again.status == ApprovalStatus.PENDING and again.decided_by is None
    assert AuditEvent.objects.filter(action="approval.request").count() == 2


# -- phases ---------------------------------------------------------------------------------------


def test_editing_dates_limits_visibility_and_freeze_is_audited_old_to_new(demo_val, organizer):
    client = logged_in(organizer)
    url = f"{CHANGELISTS['phase']}{demo_val.pk}/change/"
    per_day_before = demo_val.max_submissions_per_day
    data = change_form_data(client.get(url))
    data.update(
        max_submissions_per_day="2", board_visibility="organizers", frozen_at_0="2031-01-02", frozen_at_1="10:00:00"
    )
    refused = client.post(url, data)
    assert refused.status_code == 200 and "Say why" in refused.content.decode()
    assert not AuditEvent.objects.exists()

    response = client.post(url, {**data, "change_reason": "Final week"}, follow=True)
    assert response.status_code == 200, response.context["adminform"].form.errors
    demo_val.refresh_from_db()
    assert (demo_val.max_submissions_per_day, demo_val.board_visibility) == (2, "organizers")
    event = only_event(action="phase.change")
    assert event.reason == "Final week" and event.target_id == str(demo_val.pk)
    assert event.details["changes"] == {
        "max_submissions_per_day": [per_day_before, 2],
        "board_visibility": ["public", "organizers"],
        "frozen_at": [None, "2031-01-02T10:00:00+00:00"],
    }

    # Saving without changes needs no reason and records nothing.
    client.post(url, change_form_data(client.get(url)))
    assert AuditEvent.objects.count() == 1


def test_judge_settings_are_edited_on_the_phase_page_and_audited_old_to_new(demo_val, organizer):
    """A phase without judge settings shows the defaults; storing its first ones is audited like any change."""
    client = logged_in(organizer)  # may change phases: that is enough for their judge settings
    url = f"{CHANGELISTS['phase']}{demo_val.pk}/change/"
    assert not JudgeSettings.objects.filter(phase=demo_val).exists()
    data = change_form_data(client.get(url))
    assert data["judge_settings-0-enabled"] == "on" and not data.get("judge_settings-0-model")
    data.update({"judge_settings-0-model": "phase-model", "judge_settings-0-max_tokens": "64"})
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "Say why judge_max_tokens, judge_model changed" in refused.content.decode()
    assert not AuditEvent.objects.exists() and not JudgeSettings.objects.exists()

    response = client.post(url, {**data, "change_reason": "A stronger judge"}, follow=True)
    assert response.status_code == 200
    judge = JudgeSettings.objects.get(phase=demo_val)
    assert (judge.enabled, judge.model, judge.max_tokens) == (True, "phase-model", 64)
    event = only_event(action="phase.change")
    assert event.reason == "A stronger judge" and event.target_id == str(demo_val.pk)
    assert event.details["changes"] == {"judge_model": ["", "phase-model"], "judge_max_tokens": [None, 64]}

    data = change_form_data(client.get(url))
    del data["judge_settings-0-enabled"]  # an unticked box is not posted
    client.post(url, {**data, "change_reason": "The judge is down for maintenance"})
    assert AuditEvent.objects.first().details["changes"] == {"judge_enabled": [True, False]}
    client.post(url, change_form_data(client.get(url)))  # unchanged: no reason needed, nothing recorded
    assert AuditEvent.objects.count() == 2


def test_phases_are_not_edited_unaudited_through_the_challenge_page(demo_val, organizer):
    from leaderboard.challenges.admin import PhaseInline

    assert set(PhaseInline.fields) <= set(PhaseInline.readonly_fields)


# -- the audit log ---------------------------------------------------------------------------------


def test_the_audit_log_is_read_only_in_the_admin(alice, demo_val, organizer):
    submission = uploaded(alice, demo_val)
    moderation.hide(organizer, submission, "Spam")
    event = only_event()
    superuser = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client = logged_in(superuser)
    listing = client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200 and "submission.hide" in listing.content.decode()
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"reason": "edited"}).status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).reason == "Spam"


# -- services refuse an empty reason ------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda who, submission, approval, team: moderation.hide(who, submission, " "),
        lambda who, submission, approval, team: moderation.disqualify(who, submission, ""),
        lambda who, submission, approval, team: moderation.restore(who, submission, "\n"),
        lambda who, submission, approval, team: moderation.cancel_submission_by_organizer(who, submission, ""),
        lambda who, submission, approval, team: moderation.mark_baseline(who, submission, "Cited", ""),
        lambda who, submission, approval, team: moderation.mark_baseline(who, submission, "", "why"),
        lambda who, submission, approval, team: moderation.unmark_baseline(who, submission, ""),
        lambda who, submission, approval, team: moderation.rescore_submissions(who, [submission], ""),
        lambda who, submission, approval, team: moderation.rescore_submissions(who, submission.phase, " "),
        lambda who, submission, approval, team: team_services.approve(who, approval, ""),
        lambda who, submission, approval, team: team_services.reject(who, approval, " "),
        lambda who, submission, approval, team: team_services.ban(who, team, ""),
        lambda who, submission, approval, team: team_services.unban(who, team, ""),
    ],
    ids=[
        "hide",
        "disqualify",
        "restore",
        "cancel",
        "baseline-reason",
        "baseline-citation",
        "unmark",
        "rescore",
        "rescore-phase",
        "approve",
        "reject",
        "ban",
        "unban",
    ],
)
def test_every_organizer_service_refuses_an_empty_reason(alice, demo_val, organizer, call):
    submission = uploaded(alice, demo_val)
    approval = PhaseApproval.objects.create(team=submission.team, phase=demo_val)
    with pytest.raises(ReasonRequired):
        call(organizer, submission, approval, submission.team)
    assert not AuditEvent.objects.exists()


# -- what participants can never change ------------------------------------------------------------------


PROTECTED = (
    "status",
    "moderation",
    "moderation_reason",
    "is_baseline",
    "baseline_citation",
    "team_id",
    "phase_id",
    "language",
    "current_result_id",
    "error",
    "attempts",
    "user_id",
)


def test_participants_cannot_change_status_scores_baseline_moderation_or_ownership(alice, bob, demo_val, demo_test):
    submission = uploaded(alice, demo_val)
    moderation.hide(make_organizer(), submission, "Under review")
    before = Submission.objects.values(*PROTECTED).get(pk=submission.pk)
    forged = {
        "status": "finished",
        "scores": {"CIDEr": 99.0},
        "result": {"reference_hash": "x"},
        "is_baseline": True,
        "baseline_citation": "me",
        "moderation": "",
        "moderation_reason": "",
        "team": "Team B",
        "phase": "test",
        "language": "zh",
        "user": "bob",
        "error": "",
        "current_result": 1,
        "id": 999,
    }
    client = api_client_for(alice)
    response = client.patch(
        f"/api/v1/submissions/{submission.pk}/", {**forged, "method_name": "renamed"}, format="json"
    )
    assert response.status_code in (200, 400)
    assert Submission.objects.values(*PROTECTED).get(pk=submission.pk) == before
    if response.status_code == 200:
        body = response.json()
        assert (body["status"], body["scores"], body["team"], body["phase"]) == ("submitted", {}, "Team A", "val")

    site = Client()
    site.force_login(alice)
    site.post(
        f"/submissions/{submission.pk}/",
        {**{key: str(value) for key, value in forged.items()}, "method_name": "site rename", "is_public": "on"},
    )
    after = Submission.objects.get(pk=submission.pk)
    assert Submission.objects.values(*PROTECTED).get(pk=submission.pk) == before
    assert after.method_name == "site rename" and after.is_public  # what the team may change, it can

    # Another team cannot even see it.
    assert (
        api_client_for(bob).patch(f"/api/v1/submissions/{submission.pk}/", {"public": False}, format="json").status_code
        == 404
    )
    assert Submission.objects.get(pk=submission.pk).is_public


def test_resuming_and_cancelling_judge_runs_ask_why_and_are_audited(alice, demo_val, organizer):
    from leaderboard.judging.models import JudgeRun, JudgeStatus
    from leaderboard.submissions.models import Result

    organizer.user_permissions.add(
        *Permission.objects.filter(content_type__model="judgerun", codename__in=["change_judgerun", "view_judgerun"])
    )
    submission = uploaded(alice, demo_val)
    result = Result.objects.create(
        submission=submission,
        metrics={},
        per_clip={},
        clips=10,
        evaluation_version="x",
        protocol="x",
        reference_hash="x",
        duration_seconds=0,
    )
    incomplete = JudgeRun.objects.create(
        result=result, submission=submission, status=JudgeStatus.INCOMPLETE, reason="3 of 20 judgments failed"
    )
    client = logged_in(organizer)
    response = run_action(
        client, "/admin/judging/judgerun/", "resume_judging", [incomplete], reason="The endpoint is back"
    )
    incomplete.refresh_from_db()
    assert incomplete.status == JudgeStatus.QUEUED and incomplete.reason == ""
    event = only_event(action="judge.resume")
    assert (event.actor, event.reason, event.details["status"]) == (
        organizer,
        "The endpoint is back",
        ["incomplete", "queued"],
    )
    assert any("queued again" in message for message in messages_of(response))

    run_action(client, "/admin/judging/judgerun/", "cancel_judging", [incomplete], reason="Wrong model")
    incomplete.refresh_from_db()
    assert incomplete.status == JudgeStatus.CANCELLED
    assert only_event(action="judge.cancel").details["status"] == ["queued", "cancelled"]

    # A cancelled run cannot be cancelled again: refused by name, no second event.
    response = run_action(client, "/admin/judging/judgerun/", "cancel_judging", [incomplete], reason="Again")
    assert any(f"judge run #{incomplete.pk} is cancelled" in message for message in messages_of(response))
    assert AuditEvent.objects.filter(action="judge.cancel").count() == 1


def test_an_organizer_approves_a_team_for_a_phase_before_it_asks(alice, gated_val, organizer):
    team = Team.objects.get(name="Team A")
    assert rules.submission_refusal(alice, gated_val, "en").code == "approval_required"
    page = logged_in(organizer).post(
        CHANGELISTS["team"], {"action": "approve_for_phase", ACTION_CHECKBOX_NAME: [str(team.pk)], "index": "0"}
    )
    assert 'name="phase"' in page.content.decode()
    run_action(
        logged_in(organizer),
        CHANGELISTS["team"],
        "approve_for_phase",
        [team],
        phase=str(gated_val.pk),
        reason="Invited: the authors of the benchmark",
    )
    approval = PhaseApproval.objects.get(team=team, phase=gated_val)
    assert (approval.status, approval.note, approval.decided_by) == (
        ApprovalStatus.APPROVED,
        "Invited: the authors of the benchmark",
        organizer,
    )
    assert rules.submission_refusal(alice, gated_val, "en") is None
    assert only_event(action="approval.approve").details["status"] == ["pending", "approved"]
    assert only_event(action="approval.create").actor == organizer
