"""Phases enforced on the server: eligibility on every entry point, board visibility, freeze, moderation, baselines.

Every rule is checked through the site, the API and the ``submit`` command:
they all ask ``rules.submission_refusal``, and these tests hold them to it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from rest_framework.test import APIClient

from leaderboard.boards.models import Baseline, Board
from leaderboard.boards.ranking import Entry, place_unranked, rank_entries
from leaderboard.boards.selectors import stored_rows
from leaderboard.boards.services import refresh_boards
from leaderboard.challenges.models import ReferenceSet
from leaderboard.judging import runner
from leaderboard.judging.models import JudgeRun
from leaderboard.submissions import intake, rules, scoring
from leaderboard.submissions.models import Result, Submission
from leaderboard.teams.models import PhaseApproval, Team
from tests.support.data import ROOT
from tests.support.judge_server import FakeJudge
from tests.support.judging import set_judge
from tests.support.processes import process_env
from tests.support.service import api_client_for, demo_file, make_participant, upload

ENTRY_POINTS = ("site", "api", "cli")
XSS = '<script>alert("x")</script>'


# -- submitting through each entry point ---------------------------------------------------


@dataclass
class Attempt:
    created: bool
    #: The HTTP status (site, API) or the command's exit status (CLI).
    status: int
    #: The refusal code; the command prints only the message.
    code: str | None
    message: str
    #: The fields the site's form refused.
    fields: list | None = None


def attempt(entry: str, user, phase, language: str = "zh", data: bytes | None = None, tmp_path=None) -> Attempt:
    """Submit ``data`` (the demo file of the language by default) through one entry point."""
    name = f"val-{language}.json" if phase.slug == "val" else f"test-{language}.json"
    data = demo_file(name) if data is None else data
    if entry == "api":
        response = upload(api_client_for(user), phase, language, data, name=name)
        body = response.json()
        return Attempt(response.status_code == 201, response.status_code, body.get("code"), body.get("detail", ""))
    if entry == "site":
        client = Client()
        client.force_login(user)
        response = client.post(
            f"/c/{phase.challenge.slug}/{phase.slug}/submit/",
            {"language": language, "predictions": SimpleUploadedFile(name, data)},
            HTTP_ACCEPT="application/json",
        )
        body = response.json()
        fields = [error["field"] for error in body.get("errors", []) if "field" in error]
        return Attempt(
            response.status_code == 201, response.status_code, body.get("code"), body.get("detail", ""), fields
        )
    path = tmp_path / name
    path.write_bytes(data)
    try:
        call_command(
            "submit",
            str(path),
            "--user",
            user.username,
            "--phase",
            f"{phase.challenge.slug}/{phase.slug}",
            "--language",
            language,
            stdout=open("/dev/null", "w"),
        )
    except CommandError as exc:
        return Attempt(False, exc.returncode, None, str(exc))
    return Attempt(True, 0, None, "")


def refused_status(entry: str, http_status: int) -> int:
    """What each entry point answers a refusal with: its HTTP status, or exit status 3 for the command."""
    return 3 if entry == "cli" else http_status


def set_window(phase, starts: timedelta, ends: timedelta | None):
    now = timezone.now()
    phase.starts_at = now + starts
    phase.ends_at = now + ends if ends is not None else None
    phase.save()


def require_approval(phase, team_name: str, status: str | None, note: str = ""):
    phase.requires_approval = True
    phase.save()
    if status is not None:
        PhaseApproval.objects.create(team=Team.objects.get(name=team_name), phase=phase, status=status, note=note)


# (setup, HTTP status, code, words the message must contain)
RULES = {
    "not_open": (lambda phase: set_window(phase, timedelta(hours=2), None), 403, "phase_not_open", "opens at"),
    "closed": (
        lambda phase: set_window(phase, -timedelta(days=2), -timedelta(hours=1)),
        403,
        "phase_closed",
        "closed at",
    ),
    "banned": (
        lambda phase: Team.objects.filter(name="Team A").update(banned=True, ban_reason="copied answers " + XSS),
        403,
        "team_banned",
        "copied answers",
    ),
    "approval_none": (
        lambda phase: require_approval(phase, "Team A", None),
        403,
        "approval_required",
        "request approval",
    ),
    "approval_pending": (
        lambda phase: require_approval(phase, "Team A", "pending"),
        403,
        "approval_pending",
        "waiting for approval",
    ),
    "approval_rejected": (
        lambda phase: require_approval(phase, "Team A", "rejected", "no affiliation given " + XSS),
        403,
        "approval_rejected",
        "no affiliation given",
    ),
    "daily_limit": (lambda phase: _used_up(phase, per_day=1), 429, "daily_limit", "resets at 00:00 UTC"),
    "total_limit": (lambda phase: _used_up(phase, total=1), 429, "total_limit", "used all 1 submissions"),
}


def _used_up(phase, per_day=None, total=None):
    phase.max_submissions_per_day, phase.max_submissions_total = per_day, total
    phase.save()
    intake.submit(
        user=Team.objects.get(name="Team A").memberships.get().user,
        phase=phase,
        language="zh",
        data=demo_file("val-zh.json"),
    )


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("rule", list(RULES))
def test_every_rule_refuses_on_every_entry_point(rule, entry, alice, demo_val, tmp_path):
    setup, http_status, code, words = RULES[rule]
    setup(demo_val)
    demo_val.refresh_from_db()
    before = Submission.objects.count()
    expected = rules.submission_refusal(alice, demo_val, "zh")
    assert expected is not None and expected.code == code and words in expected.message

    result = attempt(entry, alice, demo_val, tmp_path=tmp_path)

    assert not result.created
    assert result.status == refused_status(entry, http_status)
    assert result.message == expected.message
    if entry != "cli":
        assert result.code == code
    assert Submission.objects.count() == before  # a refusal creates nothing


@pytest.mark.parametrize(
    "moment, state",
    [
        ("before_start", "upcoming"),
        ("at_start", "open"),
        ("before_end", "open"),
        ("at_end", "closed"),
        ("after_end", "closed"),
    ],
)
def test_the_phase_window_has_one_definition(moment, state, alice, demo_val):
    """``Phase.state_at`` defines the window; ``is_open``, ``state`` and the submission rule all follow it."""
    set_window(demo_val, -timedelta(hours=1), timedelta(hours=1))
    at = {
        "before_start": demo_val.starts_at - timedelta(microseconds=1),
        "at_start": demo_val.starts_at,
        "before_end": demo_val.ends_at - timedelta(microseconds=1),
        "at_end": demo_val.ends_at,
        "after_end": demo_val.ends_at + timedelta(days=1),
    }[moment]
    assert demo_val.state_at(at) == state
    assert demo_val.is_open(at) is (state == "open")
    refusal = rules.submission_refusal(alice, demo_val, "zh", at=at)
    assert (refusal.code if refusal else None) == {
        "upcoming": "phase_not_open",
        "open": None,
        "closed": "phase_closed",
    }[state]
    assert demo_val.state == demo_val.state_at() == "open"
    demo_val.ends_at = None  # open-ended
    assert demo_val.state_at(demo_val.starts_at + timedelta(days=10000)) == "open"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_an_approved_team_submits_on_every_entry_point(entry, alice, demo_val, tmp_path):
    require_approval(demo_val, "Team A", "approved", "welcome")
    assert attempt(entry, alice, demo_val, tmp_path=tmp_path).created
    assert Submission.objects.filter(team__name="Team A").count() == 1


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_approval_is_per_team_and_per_phase(entry, alice, bob, demo_val, demo_test, tmp_path):
    require_approval(demo_val, "Team A", "approved")
    result = attempt(entry, bob, demo_val, tmp_path=tmp_path)  # Team B never asked
    assert not result.created and "request approval" in result.message
    assert attempt(entry, alice, demo_test, tmp_path=tmp_path).created  # the test phase needs none


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_language_the_phase_does_not_score_is_refused_everywhere(entry, alice, demo_val, tmp_path):
    ReferenceSet.objects.filter(phase=demo_val, language="en").delete()
    result = attempt(entry, alice, demo_val, language="en", tmp_path=tmp_path)
    assert not result.created and not Submission.objects.exists()
    if entry == "site":
        # The page's form offers only the phase's languages: the choice itself is refused.
        assert result.status == 400 and result.fields == ["language"]
    else:
        assert result.status == (400 if entry == "api" else 3)
        assert "This phase scores zh, not 'en'." in result.message


# (set-up before the upload, the decision taken while the file is validated, the refusal code it brings)
DECISIONS = {
    "ban": (
        lambda phase: None,
        lambda: Team.objects.filter(name="Team A").update(banned=True, ban_reason="spam"),
        "team_banned",
    ),
    "rejection": (
        lambda phase: require_approval(phase, "Team A", "approved"),
        lambda: PhaseApproval.objects.filter(team__name="Team A").update(status="rejected", note="no affiliation"),
        "approval_rejected",
    ),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("decision", list(DECISIONS))
def test_a_ban_or_decision_taken_during_an_upload_holds(decision, entry, alice, demo_val, tmp_path, monkeypatch):
    """A ban or a rejection decided after the entry point's first checks passed, while the file is
    validated, is read by the re-check under the team lock: the upload is refused and creates nothing."""
    before, decide, code = DECISIONS[decision]
    before(demo_val)
    real_validate = intake.validate_predictions
    decided = []

    def validate_while_the_organizers_decide(*args, **kwargs):
        # Every check before validation has passed: the team could submit when the upload began.
        assert rules.submission_refusal(alice, demo_val, "zh") is None
        decide()
        decided.append(True)
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(intake, "validate_predictions", validate_while_the_organizers_decide)
    result = attempt(entry, alice, demo_val, tmp_path=tmp_path)

    assert decided == [True]  # the decision landed between the first checks and the locked re-check
    expected = rules.submission_refusal(alice, demo_val, "zh")
    assert expected is not None and expected.code == code
    assert not result.created and result.message == expected.message
    assert result.status == refused_status(entry, 403)
    assert not Submission.objects.exists()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_an_upload_asks_the_rules_twice_early_and_under_the_team_lock(entry, alice, demo_val, tmp_path, monkeypatch):
    real_refusal = rules.submission_refusal
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return real_refusal(*args, **kwargs)

    monkeypatch.setattr(rules, "submission_refusal", counted)
    assert attempt(entry, alice, demo_val, tmp_path=tmp_path).created
    assert len(calls) == 2


@pytest.mark.parametrize("rule", ["banned", "approval_rejected", "approval_pending", "closed"])
def test_the_submit_page_says_why_with_the_reason_escaped(rule, client, alice, demo_val):
    RULES[rule][0](demo_val)
    client.force_login(alice)
    html = client.get("/c/demo/val/submit/").content.decode()
    expected = rules.submission_refusal(alice, demo_val)
    assert 'role="alert"' in html and 'id="submit-form"' not in html
    assert XSS not in html
    words = RULES[rule][3]
    assert words in html
    if "<script>" in expected.message:
        assert "&lt;script&gt;" in html


def test_the_cli_prints_the_refusal_and_exits_non_zero(alice, demo_val, tmp_path):
    set_window(demo_val, -timedelta(days=2), -timedelta(hours=1))
    path = tmp_path / "val-zh.json"
    path.write_bytes(demo_file("val-zh.json"))
    with pytest.raises(CommandError) as refused:
        call_command("submit", str(path), "--user", "alice", "--phase", "demo/val", "--language", "zh")
    assert refused.value.returncode == 3 and "closed at" in str(refused.value)


def test_the_cli_rejects_a_bad_file_listing_every_problem(alice, demo_val, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"9100000000000000001_12_18": 7, "junk": "x"}))
    with pytest.raises(CommandError) as rejected:
        call_command("submit", str(path), "--user", "alice", "--phase", "demo/val", "--language", "zh")
    assert rejected.value.returncode == 2 and "Nothing was stored and no limit was used" in str(rejected.value)
    assert "junk" in str(rejected.value) and not Submission.objects.exists()


def test_the_cli_checks_its_arguments(alice, demo_val, tmp_path):
    path = tmp_path / "val-zh.json"
    path.write_bytes(demo_file("val-zh.json"))
    for args, words in [
        (["--user", "nobody", "--phase", "demo/val"], "No user named 'nobody'"),
        (["--user", "alice", "--phase", "demo/nope"], "No phase 'demo/nope'"),
        (["--user", "alice", "--phase", "demo/val", "--paper-url", "javascript:alert(1)"], "--paper-url"),
    ]:
        with pytest.raises(CommandError, match=words):
            call_command("submit", str(path), "--language", "zh", *args)
    with pytest.raises(CommandError, match="Cannot read"):
        call_command(
            "submit", str(tmp_path / "absent.json"), "--user", "alice", "--phase", "demo/val", "--language", "zh"
        )
    assert not Submission.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_submit_command_in_a_real_process(alice, demo_val, tmp_path):
    """``python manage.py submit``: the id on success; the reason and a non-zero exit on refusal."""
    path = tmp_path / "val-zh.json"
    path.write_bytes(demo_file("val-zh.json"))
    command = [
        sys.executable,
        "manage.py",
        "submit",
        "--user",
        "alice",
        "--phase",
        "demo/val",
        "--language",
        "zh",
        "--method-name",
        "from the shell",
        "--public",
        str(path),
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=process_env(CELERY_BROKER_URL="memory://"), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    submission = Submission.objects.get()
    assert f"Submission {submission.pk} accepted" in done.stdout
    assert submission.method_name == "from the shell" and submission.is_public and submission.user == alice

    Team.objects.filter(name="Team A").update(banned=True, ban_reason="bots")
    done = subprocess.run(
        command, cwd=ROOT, env=process_env(CELERY_BROKER_URL="memory://"), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 3 and "Your team is banned from submitting: bots" in done.stderr
    assert Submission.objects.count() == 1


# -- board visibility ----------------------------------------------------------------------

VIEWERS = ("visitor", "participant", "organizer")
MODES = {
    "public": ({"board_visibility": "public"}, True),
    "hidden_until_later": ({"board_visibility": "hidden_until", "boards_public_from": timedelta(days=1)}, False),
    "hidden_until_passed": ({"board_visibility": "hidden_until", "boards_public_from": -timedelta(minutes=1)}, True),
    "organizers": ({"board_visibility": "organizers"}, False),
}


def scored(user, phase, language="zh", data=None, **method):
    submission = intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=data or demo_file(f"{phase.slug}-{language}.json"),
        method=intake.MethodInfo(is_public=True, **method),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return Submission.objects.select_related("current_result").get(pk=submission.pk)


def client_for(viewer: str, admin_user, alice) -> Client:
    client = Client()
    if viewer == "participant":
        client.force_login(alice)
    elif viewer == "organizer":
        client.force_login(admin_user)
    return client


def api_for(viewer: str, admin_user, alice) -> APIClient:
    if viewer == "visitor":
        return APIClient()
    return api_client_for(alice if viewer == "participant" else admin_user)


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("mode", list(MODES))
def test_board_visibility_on_every_entry_point(mode, viewer, alice, admin_user, demo_val):
    settings_, public = MODES[mode]
    scored(alice, demo_val, method_name="secret-method-xyz")
    for name, value in settings_.items():
        setattr(demo_val, name, timezone.now() + value if isinstance(value, timedelta) else value)
    demo_val.save()
    visible = public or viewer == "organizer"
    assert rules.can_view_board(admin_user if viewer == "organizer" else alice, demo_val) is visible

    page = client_for(viewer, admin_user, alice).get("/c/demo/val/zh/l1/")
    assert page.status_code == (200 if visible else 404)
    assert ("secret-method-xyz" in page.content.decode()) is visible

    api = api_for(viewer, admin_user, alice).get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/")
    assert api.status_code == (200 if visible else 404)
    if visible:
        assert [row["method_name"] for row in api.json()["rows"]] == ["secret-method-xyz"]
    assert "secret-method-xyz" not in api.content.decode() or visible

    detail = client_for(viewer, admin_user, alice).get("/c/demo/").content.decode()
    assert ("/c/demo/val/zh/l1/" in detail) is visible
    assert "/c/demo/test/zh/l1/" in detail  # the other phase's boards are public
    assert "secret-method-xyz" not in detail


# -- freeze ------------------------------------------------------------------------------------


@pytest.fixture
def judged_val(demo_val, settings):
    with FakeJudge() as judge:
        settings.JUDGE_DEFAULTS = {"backoff_base": 0.01, "concurrency": 4}
        set_judge(demo_val, base_url=judge.base_url, model="fake-judge-1")
        yield demo_val


def judge(submission: Submission) -> JudgeRun:
    run = JudgeRun.objects.filter(submission=submission).latest("created_at")
    runner.judge_result(run.pk)
    run.refresh_from_db()
    return run


def shift(model, pk, **moments):
    model.objects.filter(pk=pk).update(**moments)


def test_a_frozen_board_shows_the_state_at_the_freeze_to_the_public_and_live_to_organizers(
    judged_val, alice, bob, admin_user, db
):
    now = timezone.now()
    phase = judged_val
    # Alice: uploaded and judged long before the freeze; re-scored after it.
    early = scored(alice, phase, "en", method_name="early")
    first_run = judge(early)
    assert first_run.status == "complete"
    shift(Submission, early.pk, created_at=now - timedelta(hours=3))
    shift(Result, early.current_result_id, created_at=now - timedelta(hours=3))
    shift(JudgeRun, first_run.pk, finished_at=now - timedelta(hours=2, minutes=50))
    old_metrics = {**Result.objects.get(pk=early.current_result_id).metrics, "cider": 0.125}
    assert "l1" in old_metrics
    Result.objects.filter(pk=early.current_result_id).update(metrics=old_metrics)  # an older evaluation's numbers
    rescored = scoring.rescore(early.pk)
    judge(early)  # completes now, after the freeze: promoted now
    assert Submission.objects.get(pk=early.pk).current_result_id == rescored.pk

    # Bob: uploaded and scored before the freeze, judged only after it.
    judged_late = scored(bob, phase, "en", method_name="judged-late")
    shift(Submission, judged_late.pk, created_at=now - timedelta(hours=2))
    shift(Result, judged_late.current_result_id, created_at=now - timedelta(hours=2))
    judge(judged_late)

    # Carol: uploaded after the freeze.
    carol = make_participant("carol", "Team C")
    scored(carol, phase, "en", method_name="after-freeze")

    phase.frozen_at = now - timedelta(hours=1)
    phase.save()
    refresh_boards(phase)  # the moments above were moved by hand
    board = Board.objects.get(phase=phase, key="l1")

    public = APIClient().get("/api/v1/challenges/demo/phases/val/leaderboards/en/l1/").json()
    assert public["frozen_at"] and public["as_of"] == public["frozen_at"]
    rows = {row["method_name"]: row for row in public["rows"]}
    assert set(rows) == {"early", "judged-late"}
    assert rows["early"]["scores"]["cider"] == 0.125  # the result current then
    assert rows["early"]["scores"]["l1"] == old_metrics["l1"]  # judged before the freeze
    assert "l1" not in rows["judged-late"]["scores"]  # judged after it: classic numbers only
    assert rows["early"]["rank"] == 1 and rows["judged-late"]["rank"] == 2
    assert public == api_client_for(alice).get("/api/v1/challenges/demo/phases/val/leaderboards/en/l1/").json()

    live = api_client_for(admin_user).get("/api/v1/challenges/demo/phases/val/leaderboards/en/l1/").json()
    assert live["frozen_at"] == public["frozen_at"] and live["as_of"] is None
    rows = {row["method_name"]: row for row in live["rows"]}
    assert set(rows) == {"early", "judged-late", "after-freeze"}
    assert rows["early"]["scores"]["cider"] == rescored.metrics["cider"] != 0.125
    assert "l1" in rows["judged-late"]["scores"]

    # The same through the selector, with an explicit moment.
    as_of_rows = stored_rows(phase, "en", board, as_of=phase.frozen_at)
    assert [row.method_name for row in as_of_rows] == [row["method_name"] for row in public["rows"]]

    frozen_html = Client().get("/c/demo/val/en/l1/").content.decode()
    assert "This board is frozen at" in frozen_html and "after-freeze" not in frozen_html
    staff = Client()
    staff.force_login(admin_user)
    live_html = staff.get("/c/demo/val/en/l1/").content.decode()
    assert "You see the live board" in live_html and "The public sees it frozen at" in live_html
    assert "after-freeze" in live_html


def test_before_the_freeze_date_everyone_sees_the_live_board(alice, demo_val):
    scored(alice, demo_val, method_name="live")
    demo_val.frozen_at = timezone.now() + timedelta(days=1)
    demo_val.save()
    body = APIClient().get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/").json()
    assert body["frozen_at"] is None and body["as_of"] is None and body["rows"][0]["method_name"] == "live"
    assert "frozen" not in Client().get("/c/demo/val/zh/l1/").content.decode()


FROZEN_FLAG = "the public flag of entries submitted before the freeze is fixed."


def frozen_with_entries(alice, phase, early_public: bool):
    """Alice's entry submitted two hours ago (public or not), the board frozen an hour ago, then a later entry."""
    now = timezone.now()
    early = scored(alice, phase, method_name="early")
    Submission.objects.filter(pk=early.pk).update(created_at=now - timedelta(hours=2), is_public=early_public)
    Result.objects.filter(pk=early.current_result_id).update(created_at=now - timedelta(hours=2))
    phase.frozen_at = now - timedelta(hours=1)
    phase.save()
    late = scored(alice, phase, method_name="late")
    Submission.objects.filter(pk=late.pk).update(is_public=False)
    return Submission.objects.get(pk=early.pk), Submission.objects.get(pk=late.pk)


def public_board_names() -> list[str]:
    return [
        row["method_name"]
        for row in APIClient().get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/").json()["rows"]
    ]


def method_form(submission, **changes) -> dict:
    fields = {
        "method_name": submission.method_name,
        "method_description": submission.method_description,
        "paper_url": submission.paper_url,
        "code_url": submission.code_url,
        "is_public": submission.is_public,
    }
    fields |= changes
    form = {name: value for name, value in fields.items() if name != "is_public"}
    return form | ({"is_public": "on"} if fields["is_public"] else {})


@pytest.mark.parametrize("entry", ["site", "api"])
@pytest.mark.parametrize("early_public", [True, False])
def test_after_the_freeze_a_team_cannot_flip_the_public_flag_of_an_earlier_entry(entry, early_public, alice, demo_val):
    early, late = frozen_with_entries(alice, demo_val, early_public)
    board = public_board_names()
    assert board == (["early"] if early_public else [])
    expected = rules.public_flag_refusal(early)
    assert expected is not None and expected.code == "board_frozen"
    assert expected.message == (
        f"The board of this phase is frozen since {demo_val.frozen_at:%Y-%m-%d %H:%M} UTC; " + FROZEN_FLAG
    )

    if entry == "api":
        api = api_client_for(alice)
        response = api.patch(
            f"/api/v1/submissions/{early.pk}/", {"public": not early_public, "method_name": "x"}, format="json"
        )
        assert response.status_code == 403
        assert response.json() == {"detail": expected.message, "code": "board_frozen"}
        renamed = api.patch(f"/api/v1/submissions/{early.pk}/", {"method_name": "early-renamed"}, format="json")
        assert renamed.status_code == 200 and renamed.json()["public"] is early_public
        # The entry submitted after the freeze is not on the frozen board: its flag stays free.
        assert api.patch(f"/api/v1/submissions/{late.pk}/", {"public": True}, format="json").status_code == 200
    else:
        site = Client()
        site.force_login(alice)
        response = site.post(
            f"/submissions/{early.pk}/", method_form(early, is_public=not early_public, method_name="x")
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert expected.message in html and 'class="errorlist' in html
        page = site.get(f"/submissions/{early.pk}/").content.decode()
        assert FROZEN_FLAG in page  # said before anyone tries
        renamed = site.post(f"/submissions/{early.pk}/", method_form(early, method_name="early-renamed"))
        assert renamed.status_code == 302
        assert site.post(f"/submissions/{late.pk}/", method_form(late, is_public=True)).status_code == 302
        assert FROZEN_FLAG not in site.get(f"/submissions/{late.pk}/").content.decode()

    early.refresh_from_db()
    assert early.is_public is early_public and early.method_name == "early-renamed"
    assert Submission.objects.get(pk=late.pk).is_public
    assert public_board_names() == (["early-renamed"] if early_public else [])  # the frozen board did not change


def test_before_the_freeze_date_the_public_flag_is_free(alice, demo_val):
    entry = scored(alice, demo_val, method_name="free")
    demo_val.frozen_at = timezone.now() + timedelta(days=1)
    demo_val.save()
    assert rules.public_flag_refusal(entry) is None
    response = api_client_for(alice).patch(f"/api/v1/submissions/{entry.pk}/", {"public": False}, format="json")
    assert response.status_code == 200 and not Submission.objects.get(pk=entry.pk).is_public


# -- moderation and baselines --------------------------------------------------------------------


def shortened(language="zh", length=4) -> bytes:
    narrations = json.loads(demo_file(f"val-{language}.json"))
    return json.dumps({clip: text[:length] for clip, text in narrations.items()}, ensure_ascii=False).encode()


@pytest.fixture
def moderated_board(alice, bob, demo_val):
    """Alice: a weak entry, ranked. Bob: disqualified. Carol: hidden. Dave: banned. Olga: a baseline."""
    carol, dave = make_participant("carol", "Team C"), make_participant("dave", "Team D")
    olga = make_participant("olga", "Organizers")
    entries = {
        "alice": scored(alice, demo_val, data=shortened(), method_name="alice-weak"),
        "bob": scored(bob, demo_val, method_name="bob-copied"),
        "carol": scored(carol, demo_val, method_name="carol-hidden"),
        "dave": scored(dave, demo_val, method_name="dave-banned"),
        "olga": scored(olga, demo_val, method_name="organizers-baseline"),
    }
    Submission.objects.filter(pk=entries["bob"].pk).update(
        moderation="disqualified", moderation_reason="copied the references " + XSS
    )
    Submission.objects.filter(pk=entries["carol"].pk).update(moderation="hidden", moderation_reason="duplicate")
    Team.objects.filter(name="Team D").update(banned=True, ban_reason="many accounts")
    Submission.objects.filter(pk=entries["olga"].pk).update(
        is_baseline=True, is_public=False, baseline_citation="Yue et al., Movie101v2"
    )
    Baseline.objects.create(
        phase=demo_val,
        language="zh",
        key="top",
        method_name="paper-top",
        citation="Paper A (2024)",
        url="https://example.org/a",
        scores={"cider": 50.0},
    )
    Baseline.objects.create(
        phase=demo_val,
        language="zh",
        key="floor",
        method_name="paper-floor",
        citation="Paper B " + XSS,
        scores={"cider": 0.0001},
    )
    refresh_boards(demo_val)  # moderated, banned and baselines set by hand above, as with SQL
    return entries


LEADERBOARD = "/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/"


@pytest.mark.parametrize("viewer", ["visitor", "participant"])
def test_the_public_board_leaves_out_moderated_and_banned_entries_and_marks_baselines(
    viewer, moderated_board, alice, admin_user
):
    body = api_for(viewer, admin_user, alice).get(LEADERBOARD).json()
    assert [(row["rank"], row["method_name"], row["baseline"], row["citation"]) for row in body["rows"]] == [
        (None, "paper-top", True, "Paper A (2024)"),
        (None, "organizers-baseline", True, "Yue et al., Movie101v2"),
        (1, "alice-weak", False, ""),
        (None, "paper-floor", True, "Paper B " + XSS),
    ]
    assert body["rows"][0]["submission_id"] is None and body["rows"][0]["paper_url"] == "https://example.org/a"
    text = json.dumps(body)
    for hidden in ("bob-copied", "carol-hidden", "dave-banned", "copied the references", "many accounts"):
        assert hidden not in text

    html = client_for(viewer, admin_user, alice).get("/c/demo/val/zh/l1/").content.decode()
    assert "paper-top" in html and "Yue et al., Movie101v2" in html and html.count(">baseline<") == 3
    assert XSS not in html and "Paper B &lt;script&gt;" in html
    for hidden in ("bob-copied", "carol-hidden", "dave-banned", "copied the references"):
        assert hidden not in html


def test_organizers_see_every_entry_marked_with_the_reason(moderated_board, admin_user):
    body = api_client_for(admin_user).get(LEADERBOARD).json()
    rows = {row["method_name"]: row for row in body["rows"]}
    assert {
        name: (row["rank"], row["moderation"], row["moderation_reason"])
        for name, row in rows.items()
        if not row["baseline"]
    } == {
        "alice-weak": (1, "", ""),
        "bob-copied": (None, "disqualified", "copied the references " + XSS),
        "carol-hidden": (None, "hidden", "duplicate"),
        "dave-banned": (None, "banned", "many accounts"),
    }
    staff = Client()
    staff.force_login(admin_user)
    html = staff.get("/c/demo/val/zh/l1/").content.decode()
    assert "disqualified" in html and "copied the references &lt;script&gt;" in html and XSS not in html
    assert "team banned" in html and "many accounts" in html


def test_the_team_sees_its_own_moderation_reason(moderated_board, bob, alice):
    bob_submission = moderated_board["bob"]
    body = api_client_for(bob).get(f"/api/v1/submissions/{bob_submission.pk}/").json()
    assert body["moderation"] == "disqualified" and body["moderation_reason"] == "copied the references " + XSS
    assert api_client_for(alice).get(f"/api/v1/submissions/{moderated_board['alice'].pk}/").json()["moderation"] == ""
    # Read-only: a team cannot clear it.
    response = api_client_for(bob).patch(
        f"/api/v1/submissions/{bob_submission.pk}/", {"moderation": "", "moderation_reason": ""}, format="json"
    )
    assert response.status_code == 200
    assert Submission.objects.get(pk=bob_submission.pk).moderation == "disqualified"
    page = Client()
    page.force_login(bob)
    html = page.get(f"/submissions/{bob_submission.pk}/").content.decode()
    assert "disqualified this entry" in html and "copied the references &lt;script&gt;" in html and XSS not in html


MODERATION_VIEWERS = {
    # viewer: the moderated entries (method, moderation, reason) on the board
    "visitor": set(),
    "another_team": set(),  # alice: none of hers is moderated, and she sees no one else's
    "the_team": {("bob-copied", "disqualified", "copied the references " + XSS)},
    "the_banned_team": {("dave-banned", "banned", "many accounts")},
    "organizer": {
        ("bob-copied", "disqualified", "copied the references " + XSS),
        ("carol-hidden", "hidden", "duplicate"),
        ("dave-banned", "banned", "many accounts"),
    },
}


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("viewer", list(MODERATION_VIEWERS))
def test_a_team_sees_its_own_moderated_entries_on_the_board_with_the_reason(
    viewer, frozen, moderated_board, alice, bob, admin_user
):
    if frozen:
        moderated_board["alice"].phase.frozen_at = timezone.now()
        moderated_board["alice"].phase.save()
    user = {
        "visitor": None,
        "another_team": alice,
        "the_team": bob,
        "the_banned_team": Team.objects.get(name="Team D").memberships.get().user,
        "organizer": admin_user,
    }[viewer]
    expected = MODERATION_VIEWERS[viewer]

    body = (api_client_for(user) if user else APIClient()).get(LEADERBOARD).json()
    rows = [row for row in body["rows"] if not row["baseline"]]
    assert {
        (row["method_name"], row["moderation"], row["moderation_reason"]) for row in rows if row["moderation"]
    } == expected
    assert [(row["rank"], row["method_name"]) for row in rows if row["rank"]] == [(1, "alice-weak")]
    assert all(row["rank"] is None for row in rows if row["moderation"])
    text = json.dumps(body)
    for name, _, reason in MODERATION_VIEWERS["organizer"] - expected:
        assert name not in text and reason not in text

    site = Client()
    if user:
        site.force_login(user)
    html = site.get("/c/demo/val/zh/l1/").content.decode()
    assert XSS not in html
    for name, _, reason in expected:
        assert name in html and escape(reason) in html
    for name, _, reason in MODERATION_VIEWERS["organizer"] - expected:
        assert name not in html and escape(reason) not in html
    if viewer in ("the_team", "the_banned_team"):
        assert "seen only by your team and the organizers" in html and "organizers only" not in html
    if viewer == "organizer":
        assert "organizers only" in html


def test_baselines_take_no_rank_and_move_none():
    now = timezone.now()
    teams = [
        Entry(submission_id=i, team_id=i, created_at=now, scores={"cider": score})
        for i, score in enumerate([0.9, 0.5, 0.5, 0.1], start=1)
    ]
    ranked = rank_entries(teams, ["cider"])
    baselines = [
        Entry(submission_id=0, team_id=0, created_at=None, scores={"cider": score}, payload=name)
        for name, score in [("top", 2.0), ("tie", 0.5), ("middle", 0.3), ("none", None)]
    ]
    placed = place_unranked(ranked, baselines, ["cider"])
    assert [(item.rank, item.entry.payload or item.entry.submission_id) for item in placed] == [
        (None, "top"),
        (1, 1),
        (2, 2),
        (2, 3),
        (None, "tie"),
        (None, "middle"),
        (4, 4),
        (None, "none"),
    ]
    assert [item.rank for item in ranked] == [1, 2, 2, 4]


def test_the_submit_page_of_a_gated_phase_offers_to_ask_for_approval(client, alice, demo_val):
    from leaderboard.teams.models import PhaseApproval

    demo_val.requires_approval = True
    demo_val.save()
    client.force_login(alice)
    page = client.get("/c/demo/val/submit/").content.decode()
    assert "request approval" in page and 'action="/c/demo/val/approval/"' in page
    client.post("/c/demo/val/approval/")
    assert PhaseApproval.objects.get(team__name="Team A", phase=demo_val).status == "pending"
    page = client.get("/c/demo/val/submit/").content.decode()
    assert "waiting for approval" in page and 'action="/c/demo/val/approval/"' not in page
