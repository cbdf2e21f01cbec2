"""Issue 10, H5: hidden per-clip scores must not be rebuilt from totals.

The attack: on a phase with hidden references, submit a file with every narration empty but one; the
published ROUGE-L × the clip count is that clip's hidden ROUGE-L. The defences tried here: scores
rounded to the boards' precision for everyone but the organizers (``boards.disclosure``), the refusal
of a file that barely differs from one of the team's earlier ones (``submissions.duplicates``), email
verification before submitting, and no new team after submitting with another
(docs/reliability.md, "Hidden scores: the attack and the defences").
"""

from __future__ import annotations

import importlib
import io
import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

import evaluation
from leaderboard.accounts import services as accounts
from leaderboard.accounts.models import EmailVerification
from leaderboard.audit.models import AuditEvent
from leaderboard.boards.disclosure import DEFAULT_PRECISION, disclosed_scores, metric_precisions
from leaderboard.boards.models import Board
from leaderboard.challenges.models import AUDITED_PHASE_FIELDS, Phase, ReferenceSet
from leaderboard.notifications import services as notifications
from leaderboard.submissions import duplicates, intake, scoring
from leaderboard.submissions.models import Result, Status, Submission
from leaderboard.teams import services as team_services
from leaderboard.teams.models import Membership, Team
from tests.service.test_bundles import copy_showcase, database_state, run, run_failing
from tests.service.test_rules import attempt
from tests.support.service import api_client_for, demo_file, make_challenge_organizer, make_participant, upload


def references_of(phase, language="zh") -> dict[str, str]:
    return ReferenceSet.objects.get(phase=phase, language=language).narrations


def all_empty_but(phase, clip_id: str, narration: str, language="zh") -> dict[str, str]:
    return {other: (narration if other == clip_id else "") for other in references_of(phase, language)}


def as_file(narrations: dict[str, str]) -> bytes:
    return json.dumps(narrations, ensure_ascii=False).encode()


def scored_upload(user, phase, narrations, language="zh", **fields) -> int:
    response = upload(api_client_for(user), phase, language, as_file(narrations), **fields)
    assert response.status_code == 201, response.content
    assert scoring.score_submission(response.json()["id"]).outcome == scoring.Outcome.FINISHED
    return response.json()["id"]


def stored_metrics(submission_id: int) -> dict[str, float]:
    return Submission.objects.get(pk=submission_id).current_result.metrics


def organizer_of(phase, username="olga"):
    return make_challenge_organizer(make_participant(username), phase.challenge)


# -- the attack, reproduced ---------------------------------------------------------------------------


def test_the_attack_no_longer_rebuilds_a_clip_score_and_its_next_step_is_refused(alice, demo_test, tmp_path):
    references = references_of(demo_test)
    clip_id = sorted(references)[3]
    # The attacker's guess at one clip: a demo narration of it, not its reference.
    guess = json.loads(demo_file("test-zh.json"))[clip_id]
    crafted = all_empty_but(demo_test, clip_id, guess)
    submission_id = scored_upload(alice, demo_test, crafted, public="true")

    # What the attacker cannot compute: the clip's own ROUGE-L against the hidden reference.
    clip_rouge = evaluation.score(references, crafted, "zh").per_clip[clip_id]["rouge_l"]
    assert 0 < clip_rouge < 1
    # The stored total still carries it exactly (the attack, on full precision) ...
    assert stored_metrics(submission_id)["rouge_l"] * len(references) == pytest.approx(clip_rouge, abs=1e-12)

    # ... but what the team reads, on the API, the board API and the board page, is rounded.
    published = api_client_for(alice).get(f"/api/v1/submissions/{submission_id}/").json()["scores"]["rouge_l"]
    assert published == round(stored_metrics(submission_id)["rouge_l"], 4)
    assert abs(published * len(references) - clip_rouge) > 1e-9
    board = Client().get("/api/v1/challenges/demo/phases/test/leaderboards/zh/l2/").json()
    [row] = board["rows"]
    assert row["scores"]["rouge_l"] == published
    assert all(len(repr(value).split(".")[-1]) <= 4 for value in row["scores"].values())

    # The next step, the same file with another guess in one clip, is refused on every entry point.
    step = dict(crafted, **{sorted(references)[0]: "一个人站在站台上。"})
    for entry in ("api", "site", "cli"):
        refused = attempt(entry, alice, demo_test, "zh", as_file(step), tmp_path)
        assert not refused.created and refused.status in (403, 3)
        assert "differs from your team's submission" in refused.message and "1 clip only" in refused.message
        assert "at least 2 changed clips" in refused.message and "no limit was used" in refused.message
    assert Submission.objects.count() == 1


# -- 1. rounding ----------------------------------------------------------------------------------------


def test_the_precision_of_a_metric_is_the_largest_among_the_boards_that_show_it(demo_test):
    l1, l2 = Board.objects.get(phase=demo_test, key="l1"), Board.objects.get(phase=demo_test, key="l2")
    l1.precision, l2.precision = 2, 3
    l1.save(), l2.save()
    precisions = metric_precisions(Phase.objects.get(pk=demo_test.pk))
    assert precisions["rouge_l"] == 3 and precisions["l1"] == 2 and precisions["l2"] == 3
    assert "bleu_1" not in precisions  # no board shows it: DEFAULT_PRECISION
    scores = {"rouge_l": 0.123456789, "l1": 3.14159, "bleu_1": 0.987654321}
    shown = disclosed_scores(scores, Phase.objects.get(pk=demo_test.pk), None)
    assert shown == {"rouge_l": 0.123, "l1": 3.14, "bleu_1": round(0.987654321, DEFAULT_PRECISION)}


def test_organizers_and_public_phases_keep_full_precision(alice, demo_test, demo_val):
    organizer = organizer_of(demo_test)
    scores = {"rouge_l": 0.123456789}
    assert disclosed_scores(scores, demo_test, organizer) == scores
    assert disclosed_scores(scores, demo_val, alice) == scores
    assert disclosed_scores(scores, demo_val, None) == scores
    assert disclosed_scores(scores, demo_test, alice) == {"rouge_l": 0.1235}


def test_every_entry_point_shows_a_hidden_phase_rounded_but_to_organizers(alice, demo_test, mailoutbox):
    alice.email = "alice@example.org"
    alice.save()
    Board.objects.filter(phase=demo_test).update(precision=2)
    submission_id = scored_upload(alice, demo_test, json.loads(demo_file("test-zh.json")), public="true")
    full = stored_metrics(submission_id)
    # Metrics the boards show at 2 decimals; BLEU-1 to 3, on no board, at DEFAULT_PRECISION.
    on_boards = set(metric_precisions(Phase.objects.get(pk=demo_test.pk)))
    rounded = {name: round(value, 2 if name in on_boards else DEFAULT_PRECISION) for name, value in full.items()}
    assert rounded != full
    organizer = organizer_of(demo_test)

    # The API: the submission, the team's list and the boards.
    assert api_client_for(alice).get(f"/api/v1/submissions/{submission_id}/").json()["scores"] == rounded
    assert api_client_for(alice).get("/api/v1/submissions/").json()["results"][0]["scores"] == rounded
    assert api_client_for(organizer).get(f"/api/v1/submissions/{submission_id}/").json()["scores"] == full
    board_url = "/api/v1/challenges/demo/phases/test/leaderboards/zh/l2/"
    for client in (Client(), api_client_for(alice)):
        assert client.get(board_url).json()["rows"][0]["scores"] == {
            name: rounded[name] for name in ("cider", "bleu_4", "meteor", "rouge_l")
        }
    assert api_client_for(organizer).get(board_url).json()["rows"][0]["scores"]["rouge_l"] == full["rouge_l"]
    # The stored rows keep full precision.
    assert Submission.objects.get(pk=submission_id).current_result.metrics == full

    # The site: the submission page, the team's list and the board page.
    site = Client()
    site.force_login(alice)
    for path in (f"/submissions/{submission_id}/", "/submissions/", "/c/demo/test/zh/l2/"):
        html = site.get(path).content.decode()
        assert f"{rounded['rouge_l']:.4f}" in html, path
        assert f"{full['rouge_l']:.4f}" not in html, path

    # The result email.
    assert notifications.notify_submission(submission_id, "finished") == notifications.Sent.SENT
    [email] = mailoutbox
    assert f"{rounded['rouge_l']:.4f}" in email.body and f"{full['rouge_l']:.4f}" not in email.body


# -- 2. near-duplicate refusal ------------------------------------------------------------------------


def test_the_default_threshold(demo_test, demo_val):
    assert duplicates.min_changed_clips(demo_test, 2227) == 50  # Movie101v2's test split
    assert duplicates.min_changed_clips(demo_test, 300) == 30
    assert duplicates.min_changed_clips(demo_test, 10) == 2  # the demo's
    assert duplicates.min_changed_clips(demo_test, 1) == 1
    assert duplicates.min_changed_clips(demo_val, 2361) == 0  # public references: off
    demo_val.min_changed_clips = 7
    demo_test.min_changed_clips = 0
    assert duplicates.min_changed_clips(demo_val, 2361) == 7
    assert duplicates.min_changed_clips(demo_test, 2227) == 0


def test_edits_the_metrics_cannot_see_are_not_changes():
    old = {"a": "一个人站在站台上。", "b": "A man waits.", "c": "x"}
    assert duplicates.changed_clips({"a": "一个人 站在站台上", "b": "a  man WAITS!", "c": "x"}, old) == 0
    assert duplicates.changed_clips({"a": "一个人站在站台上。", "b": "A woman waits.", "c": ""}, old) == 2
    assert duplicates.changed_clips({"a": "一个人站在站台上。"}, old) == 2  # missing clips are empty
    assert duplicates.changed_clips({"a": "1", "b": "2", "c": "3"}, old, enough=2) == 2


def test_the_same_file_again_is_refused_on_a_hidden_phase_only(alice, demo_test, demo_val):
    data = demo_file("test-zh.json")
    intake.submit(user=alice, phase=demo_test, language="zh", data=data)
    with pytest.raises(intake.SubmissionRefused) as refused:
        intake.submit(user=alice, phase=demo_test, language="zh", data=data)
    assert refused.value.refusal.code == "near_duplicate" and "in 0 clips only" in refused.value.refusal.message
    assert Submission.objects.count() == 1

    # Another language is another split: compared only with its own.
    intake.submit(user=alice, phase=demo_test, language="en", data=demo_file("test-en.jsonl"), filename="t.jsonl")
    # A public phase: off by default.
    for _ in range(2):
        intake.submit(user=alice, phase=demo_val, language="zh", data=demo_file("val-zh.json"))
    # The organizers may turn it off.
    demo_test.min_changed_clips = 0
    demo_test.save()
    intake.submit(user=alice, phase=demo_test, language="zh", data=data)
    assert Submission.objects.count() == 5


def test_only_the_teams_charged_submissions_are_compared(alice, bob, demo_test):
    data = demo_file("test-zh.json")
    first = intake.submit(user=alice, phase=demo_test, language="zh", data=data)
    intake.submit(user=bob, phase=demo_test, language="zh", data=data)  # another team
    Submission.objects.filter(pk=first.pk).update(status=Status.FAILED)  # not charged: not compared
    intake.submit(user=alice, phase=demo_test, language="zh", data=data)
    assert Submission.objects.count() == 3


def test_an_upload_changing_enough_clips_is_accepted(alice, demo_test):
    demo_test.min_changed_clips = 3
    demo_test.save()
    original = json.loads(demo_file("test-zh.json"))
    intake.submit(user=alice, phase=demo_test, language="zh", data=as_file(original))
    ids = sorted(original)
    two = dict(original, **{ids[0]: "雨夜。", ids[1]: "车站。"})
    with pytest.raises(intake.SubmissionRefused, match="in 2 clips only; this phase needs at least 3"):
        intake.submit(user=alice, phase=demo_test, language="zh", data=as_file(two))
    intake.submit(user=alice, phase=demo_test, language="zh", data=as_file(dict(two, **{ids[2]: "火车。"})))
    assert Submission.objects.count() == 2


def test_an_old_submission_without_its_parsed_form_is_parsed_from_its_upload(alice, demo_test):
    data = demo_file("test-zh.json")
    first = intake.submit(user=alice, phase=demo_test, language="zh", data=data)
    first.parsed_file.delete(save=False)
    Submission.objects.filter(pk=first.pk).update(parsed_file="")
    with pytest.raises(intake.SubmissionRefused):
        intake.submit(user=alice, phase=demo_test, language="zh", data=data)
    # Not kept: the refusal rolls back its transaction (scoring keeps it, at the upload's first read).
    assert not Submission.objects.get(pk=first.pk).parsed_file


def test_only_the_latest_submissions_are_compared(alice, demo_test, monkeypatch):
    monkeypatch.setattr(duplicates, "COMPARED_SUBMISSIONS", 1)
    demo_test.max_submissions_per_day = None
    demo_test.save()
    original = json.loads(demo_file("test-zh.json"))
    ids = sorted(original)
    intake.submit(user=alice, phase=demo_test, language="zh", data=as_file(original))
    changed = dict(original, **{clip_id: "" for clip_id in ids[:5]})
    intake.submit(user=alice, phase=demo_test, language="zh", data=as_file(changed))
    # The first is no longer compared: the same file again passes.
    intake.submit(user=alice, phase=demo_test, language="zh", data=as_file(original))
    assert Submission.objects.count() == 3


def test_the_threshold_is_in_bundles_and_audited(db, tmp_path):
    folder = copy_showcase(tmp_path)
    run("load_challenge", str(folder))
    assert "min_changed_clips" in AUDITED_PHASE_FIELDS
    assert Phase.objects.get(slug="test").min_changed_clips is None
    bundle = folder / "challenge.yaml"
    data = yaml.safe_load(bundle.read_text(encoding="utf-8"))
    data["phases"][1]["min_changed_clips"] = 25
    bundle.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    run("load_challenge", str(folder), "--reason", "Guard the test split")
    assert Phase.objects.get(slug="test").min_changed_clips == 25
    event = AuditEvent.objects.get(action="phase.change")
    assert event.details == {"changes": {"min_changed_clips": [None, 25]}}

    exported = tmp_path / "exported"
    run("export_challenge", "showcase", "-o", str(exported))
    phases = yaml.safe_load((exported / "challenge.yaml").read_text(encoding="utf-8"))["phases"]
    assert "min_changed_clips" not in phases[0] and phases[1]["min_changed_clips"] == 25
    before = database_state()
    run("load_challenge", str(exported))
    assert database_state() == before

    data["phases"][1]["min_changed_clips"] = -1
    bundle.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _, errors = run_failing("load_challenge", str(folder))
    assert "phases[1].min_changed_clips: must be at least 0" in errors


def test_results_keep_full_precision(alice, demo_test):
    submission_id = scored_upload(alice, demo_test, json.loads(demo_file("test-zh.json")))
    result = Result.objects.get(submission_id=submission_id)
    assert any(len(repr(value).split(".")[-1]) > 4 for value in result.metrics.values())


# -- 4. no new team after submitting with another ------------------------------------------------------


def test_a_user_who_submitted_cannot_create_or_join_another_team(alice, bob, demo_test):
    intake.submit(user=alice, phase=demo_test, language="zh", data=demo_file("test-zh.json"))
    Membership.objects.filter(user=alice).delete()  # an organizer took alice out of Team A in the admin
    with pytest.raises(team_services.TeamError, match="You have submitted with the team “Team A”"):
        team_services.create_team(alice, "Team A2")
    bob_team = team_services.team_of(bob)
    with pytest.raises(team_services.TeamError, match="cannot create or join another team"):
        team_services.join_team(alice, bob_team.join_code)

    site = Client()
    site.force_login(alice)
    page = site.post("/team/", {"create": "1", "create-name": "Team A3"}, follow=True).content.decode()
    assert "cannot create or join another team" in page
    assert not Team.objects.filter(name__in=["Team A2", "Team A3"]).exists()
    assert team_services.team_of(alice) is None

    # Back to the team alice submitted with: allowed. A user who never submitted moves freely.
    assert team_services.join_team(alice, Team.objects.get(name="Team A").join_code).name == "Team A"
    carol = make_participant("carol")
    team_services.create_team(carol, "Team C")


# -- 3. email verification before submitting ---------------------------------------------------------


def sign_up(client, username="sam", email="sam@example.org"):
    response = client.post(
        "/signup/",
        {"username": username, "email": email, "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert response.status_code == 302, response.content
    return get_user_model().objects.get(username=username)


def link_in(email) -> str:
    [link] = [word for word in email.body.split() if "/account/verify/" in word]
    return urlsplit(link).path


def test_a_new_account_must_verify_its_email_before_it_submits(demo_test, mailoutbox, tmp_path):
    site = Client()
    sam = sign_up(site)
    assert not accounts.is_verified(sam)
    [email] = mailoutbox
    assert email.to == ["sam@example.org"] and "verify your email address" in email.body
    team_services.create_team(sam, "Sam's team")

    # Refused on every entry point, with the way out; nothing created.
    for entry in ("api", "site", "cli"):
        refused = attempt(entry, sam, demo_test, "zh", None, tmp_path)
        assert not refused.created and refused.status in (403, 3), entry
        assert "Verify your email address (sam@example.org) before you submit" in refused.message
        assert refused.code in ("email_unverified", None)
    assert not Submission.objects.exists()
    page = site.get("/c/demo/test/submit/").content.decode()
    assert "Send the link again" in page and 'action="/account/verify/"' in page

    # "Send the link again": at most once a minute.
    response = site.post("/account/verify/", {"next": "/c/demo/test/submit/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/c/demo/test/submit/"
    assert "less than a minute ago" in response.content.decode() and len(mailoutbox) == 1
    EmailVerification.objects.filter(user=sam).update(last_sent_at=timezone.now() - timedelta(minutes=2))
    site.post("/account/verify/", {"next": "https://evil.example/"})
    assert len(mailoutbox) == 2

    # The link verifies the account, signed in or not, once.
    link = link_in(mailoutbox[-1])
    assert "is verified" in Client().get(link, follow=True).content.decode()
    assert accounts.is_verified(sam)
    assert "wrong, used or expired" in Client().get(link, follow=True).content.decode()
    assert attempt("api", sam, demo_test, "zh", None, tmp_path).created


def test_a_link_expires_and_works_only_for_its_account(demo_test, mailoutbox, settings, monkeypatch):
    sam = sign_up(Client())
    link = link_in(mailoutbox[0])
    later = accounts.verification_tokens._now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(accounts.verification_tokens, "_now", lambda: later)
    assert "wrong, used or expired" in Client().get(link, follow=True).content.decode()
    monkeypatch.undo()
    uid, token = link.strip("/").split("/")[-2:]
    other = make_participant("other", verified=False)
    assert accounts.verify(urlsafe_base64_encode(force_bytes(other.pk)), token) is None
    assert accounts.verify(uid, "junk-token") is None and accounts.verify("!!", token) is None
    sam.email = "new@example.org"  # a new address: the old link no longer works
    sam.save()
    assert accounts.verify(uid, token) is None
    assert not accounts.is_verified(sam)


def test_an_unreachable_mail_server_does_not_fail_the_sign_up(db, settings, mailoutbox):
    settings.EMAIL_BACKEND = "tests.support.email_backends.RefusingBackend"
    client = Client()
    sam = sign_up(client, email="sam@refused.example")
    assert not accounts.is_verified(sam) and mailoutbox == []
    # The button can send it at once: the failed attempt did not count.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sam.email = "sam@example.org"
    sam.save()
    client.post("/account/verify/")
    assert len(mailoutbox) == 1


def test_operator_made_accounts_are_verified_and_others_are_not(db, demo_challenge):
    call_command("load_demo", stdout=io.StringIO())
    assert accounts.is_verified(get_user_model().objects.get(username="demo"))
    call_command("issue_token", "eve", "--team", "Eve's team", stdout=io.StringIO(), stderr=io.StringIO())
    assert accounts.is_verified(get_user_model().objects.get(username="eve"))
    # Made otherwise (the admin, createsuperuser): not verified until a link is followed or the admin marks it.
    admin_made = get_user_model().objects.create_user("ada", email="ada@example.org")
    assert not accounts.is_verified(admin_made)


def test_the_migration_marks_every_existing_account_verified(db):
    from django.apps import apps

    migration = importlib.import_module("leaderboard.accounts.migrations.0001_initial")
    existing = [get_user_model().objects.create_user(name, email=f"{name}@example.org") for name in ("x", "y")]
    migration.existing_accounts_are_verified(apps, None)
    assert all(accounts.is_verified(user) for user in existing)
