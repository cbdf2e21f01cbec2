"""The public API contract, its permissions, and that hidden references never leave the server."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from rest_framework.test import APIClient

from leaderboard.boards.services import refresh_boards
from leaderboard.challenges.models import ChallengePage, ReferenceSet
from leaderboard.judging import runner
from leaderboard.judging.models import JudgeRun
from leaderboard.notifications import services as notifications
from leaderboard.submissions import scoring
from leaderboard.submissions.models import Submission
from leaderboard.teams.models import PhaseApproval, Team
from tests.support.judge_server import FakeJudge, Fault, json_answer
from tests.support.judging import set_judge
from tests.support.service import api_client_for, demo_file, make_participant, upload


def scored(client, phase, language="zh", name="val-zh.json", **fields):
    response = upload(client, phase, language, demo_file(name), name=name, **fields)
    assert response.status_code == 201, response.content
    scoring.score_submission(response.json()["id"])
    return response.json()["id"]


def test_upload_answers_201_with_id_and_status(alice, demo_val):
    response = upload(api_client_for(alice), demo_val, "zh", demo_file("val-zh.json"), method_name="baseline")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "status"} and body["status"] == "submitted"
    assert Submission.objects.get(pk=body["id"]).method_name == "baseline"


def test_json_lines_upload(alice, demo_test):
    response = upload(api_client_for(alice), demo_test, "en", demo_file("test-en.jsonl"), name="test-en.jsonl")
    assert response.status_code == 201, response.content


def test_a_bad_file_gets_400_with_every_problem_and_nothing_is_stored(alice, demo_val):
    data = json.dumps({"9100000000000000001_12_18": 7, "junk": "x"}).encode()
    response = upload(api_client_for(alice), demo_val, "zh", data)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_predictions"
    assert {e["code"] for e in body["errors"]} == {"not_a_string", "malformed_clip_id", "missing_clip_id"}
    assert all(e["message"] for e in body["errors"])
    assert not Submission.objects.exists()


def test_no_file_is_a_400(alice, demo_val):
    response = api_client_for(alice).post(
        f"/api/v1/challenges/demo/phases/{demo_val.slug}/submissions/", {"language": "zh"}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "no_file"


def test_an_oversized_file_is_stopped_at_the_cap(alice, demo_val, settings):
    settings.SUBMISSION_MAX_BYTES = 1024
    response = upload(api_client_for(alice), demo_val, "zh", b"{" + b" " * 5000 + b"}")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "file_too_large" and "size cap" in error["message"]
    assert not Submission.objects.exists()


def test_invalid_fields_are_listed(alice, demo_val):
    response = upload(api_client_for(alice), demo_val, "xx", demo_file("val-zh.json"), paper_url="javascript:alert(1)")
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"language", "paper_url"}


def test_a_language_the_phase_does_not_score_is_refused(alice, demo_val):
    ReferenceSet.objects.filter(phase=demo_val, language="en").delete()
    response = upload(api_client_for(alice), demo_val, "en", demo_file("val-en.json"))
    assert response.status_code == 400 and response.json()["code"] == "unknown_language"


def test_anonymous_uploads_are_refused(demo_val):
    response = upload(APIClient(), demo_val, "zh", demo_file("val-zh.json"))
    assert response.status_code == 401


def test_users_without_a_team_are_told_so(db, demo_val):
    response = upload(api_client_for(make_participant("solo")), demo_val, "zh", demo_file("val-zh.json"))
    assert response.status_code == 403 and response.json()["code"] == "no_team"


def test_a_closed_phase_refuses_with_the_reason(alice, demo_val):
    from django.utils import timezone

    demo_val.ends_at = timezone.now()
    demo_val.save()
    response = upload(api_client_for(alice), demo_val, "zh", demo_file("val-zh.json"))
    assert response.status_code == 403 and "closed" in response.json()["detail"]


def test_the_limit_answers_429(alice, demo_val):
    demo_val.max_submissions_per_day = 1
    demo_val.save()
    client = api_client_for(alice)
    assert upload(client, demo_val, "zh", demo_file("val-zh.json")).status_code == 201
    response = upload(client, demo_val, "zh", demo_file("val-zh.json"))
    assert response.status_code == 429 and response.json()["code"] == "daily_limit"
    quota = client.get("/api/v1/challenges/demo/phases/val/quota/").json()
    assert quota["left_today"] == 0 and quota["can_submit"] is False and quota["resets_at"].endswith("T00:00:00Z")


def test_submission_detail_for_the_team(alice, demo_val):
    client = api_client_for(alice)
    submission_id = scored(client, demo_val, public="true", method_name="m1")
    body = client.get(f"/api/v1/submissions/{submission_id}/").json()
    assert body["status"] == "finished" and body["error"] == "" and body["public"] is True
    assert set(body["scores"]) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider"}
    assert body["result"]["clips"] == 10 and body["result"]["evaluation_version"]
    assert "per_clip" not in json.dumps(body)
    assert body["clip_scores_url"].endswith(f"/api/v1/submissions/{submission_id}/clip-scores/")
    clip_scores = client.get(body["clip_scores_url"]).json()["clip_scores"]
    assert len(clip_scores) == 10 and set(clip_scores["9100000000000000001_12_18"]) == set(body["scores"])


def test_hidden_phases_never_show_per_clip_scores(alice, demo_test):
    client = api_client_for(alice)
    submission_id = scored(client, demo_test, name="test-zh.json")
    body = client.get(f"/api/v1/submissions/{submission_id}/").json()
    assert body["status"] == "finished" and body["clip_scores_url"] is None
    assert client.get(f"/api/v1/submissions/{submission_id}/clip-scores/").status_code == 403


def test_a_team_sees_only_its_own_submissions(alice, bob, demo_val):
    alice_id = scored(api_client_for(alice), demo_val)
    bob_client = api_client_for(bob)
    assert bob_client.get(f"/api/v1/submissions/{alice_id}/").status_code == 404
    assert bob_client.get(f"/api/v1/submissions/{alice_id}/clip-scores/").status_code == 404
    assert bob_client.patch(f"/api/v1/submissions/{alice_id}/", {"public": True}, format="json").status_code == 404
    assert bob_client.get("/api/v1/submissions/").json()["results"] == []
    assert bob_client.get("/api/v1/challenges/demo/phases/val/submissions/").json() == []
    assert [s["id"] for s in api_client_for(alice).get("/api/v1/submissions/").json()["results"]] == [alice_id]


def test_anonymous_users_see_no_submission_details(alice, demo_val):
    submission_id = scored(api_client_for(alice), demo_val)
    anonymous = APIClient()
    for url in (
        f"/api/v1/submissions/{submission_id}/",
        "/api/v1/submissions/",
        f"/api/v1/submissions/{submission_id}/clip-scores/",
    ):
        assert anonymous.get(url).status_code == 401


def test_participants_change_only_method_fields_and_the_public_flag(alice, demo_val):
    client = api_client_for(alice)
    submission_id = scored(client, demo_val)
    response = client.patch(
        f"/api/v1/submissions/{submission_id}/",
        {
            "public": True,
            "method_name": "renamed",
            "status": "failed",
            "scores": {"cider": 99},
            "error": "x",
            "team": "other",
        },
        format="json",
    )
    assert response.status_code == 200
    submission = Submission.objects.select_related("current_result").get(pk=submission_id)
    assert submission.is_public and submission.method_name == "renamed"
    assert submission.status == "finished" and submission.error == "" and submission.team.name == "Team A"
    assert submission.current_result.metrics["cider"] < 10


def test_leaderboard_is_public_and_ranks_public_finished_entries(alice, bob, demo_val):
    alice_client, bob_client = api_client_for(alice), api_client_for(bob)
    scored(alice_client, demo_val, public="true", method_name="alice-good")
    weaker = json.loads(demo_file("val-zh.json"))
    weaker = {clip_id: text[:4] for clip_id, text in weaker.items()}
    response = upload(
        bob_client,
        demo_val,
        "zh",
        json.dumps(weaker, ensure_ascii=False).encode(),
        public="true",
        method_name="bob-short",
    )
    scoring.score_submission(response.json()["id"])
    scored(bob_client, demo_val, public="false", method_name="bob-private")  # private: not on the board
    upload(alice_client, demo_val, "zh", demo_file("val-zh.json"), public="true")  # not scored: not on the board

    body = APIClient().get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/").json()
    assert body["primary_metric"] == "l1" and body["columns"][0] == "l1"
    assert [(row["rank"], row["team"], row["method_name"]) for row in body["rows"]] == [
        (1, "Team A", "alice-good"),
        (2, "Team B", "bob-short"),
    ]
    assert body["rows"][0]["scores"]["cider"] > body["rows"][1]["scores"]["cider"]
    assert "l1" not in body["rows"][0]["scores"]  # no judge yet: the stage metric is absent, not faked
    assert APIClient().get("/api/v1/challenges/demo/phases/val/leaderboards/en/l1/").json()["rows"] == []


def test_hidden_boards_are_for_organizers_only(alice, demo_val, admin_user):
    demo_val.board_visibility = "organizers"
    demo_val.save()
    url = "/api/v1/challenges/demo/phases/val/leaderboards/zh/l2/"
    assert APIClient().get(url).status_code == 404
    assert api_client_for(alice).get(url).status_code == 404
    assert api_client_for(admin_user).get(url).status_code == 200


def test_unknown_boards_and_languages_are_404(demo_val):
    client = APIClient()
    assert client.get("/api/v1/challenges/demo/phases/val/leaderboards/fr/l1/").status_code == 404
    assert client.get("/api/v1/challenges/demo/phases/val/leaderboards/zh/l9/").status_code == 404
    assert client.get("/api/v1/challenges/demo/phases/nope/leaderboards/zh/l1/").status_code == 404


def test_challenges_are_listed_with_phases_languages_and_boards(demo_challenge):
    body = APIClient().get("/api/v1/challenges/demo/").json()
    assert [phase["slug"] for phase in body["phases"]] == ["val", "test"]
    val = body["phases"][0]
    assert val["languages"] == ["zh", "en"] and val["references_public"] is True
    assert [board["key"] for board in val["boards"]] == ["l1", "l2"]
    assert val["boards"][1]["columns"] == ["l2", "cider", "bleu_4", "meteor", "rouge_l"]


def test_healthz_schema_and_docs(db):
    client = APIClient()
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/v1/challenges/{challenge}/phases/{phase}/submissions/" in paths
    assert "/api/v1/challenges/{challenge}/phases/{phase}/leaderboards/{language}/{stage}/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content and b"cdn.jsdelivr" not in docs.content


def quoting_judge_answer(prompt: str) -> str:
    """A chatty judge: valid scores in a fenced block, then the whole prompt (the reference too) quoted back."""
    return f"```json\n{json_answer(prompt)}\n```\nI read: {prompt}"


@pytest.fixture
def hidden_world(alice, bob, demo_test, admin_user, settings):
    """The test phase (hidden references) in every state a page can show, with a judge that quotes them.

    Alice: zh and en entries, scored and judged (one clip's judgments fail, the failure text quoting
    the reference), a failed upload. Bob: an entry. The phase requires approval (both teams approved, with
    a note). Returns the hidden reference texts.
    """
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.JUDGE_DEFAULTS = {"backoff_base": 0.01, "concurrency": 4}
    references = {rs.language: rs.narrations for rs in ReferenceSet.objects.filter(phase=demo_test)}
    hidden = [text for narrations in references.values() for text in narrations.values()]
    failing = references["en"][min(references["en"])]
    for user in (alice, bob, admin_user):
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
    with FakeJudge(answer=quoting_judge_answer) as judge:
        judge.fault_rule = lambda prompt, index: (
            Fault(text="No scores. I read: " + prompt.replace("{", "(").replace("}", ")"))
            if failing in prompt
            else None
        )
        set_judge(demo_test, base_url=judge.base_url, model="fake-judge-1")
        api = api_client_for(alice)
        entries = {
            "zh": scored(api, demo_test, name="test-zh.json", public="true", method_name="alice-zh"),
            "en": scored(api, demo_test, language="en", name="test-en.jsonl", public="true", method_name="alice-en"),
            "bob": scored(api_client_for(bob), demo_test, name="test-zh.json", public="true", method_name="bob-zh"),
        }
        for submission_id in entries.values():
            for run in JudgeRun.objects.filter(submission_id=submission_id):
                runner.judge_result(run.pk)
    statuses = set(JudgeRun.objects.values_list("status", flat=True))
    assert statuses == {"complete", "incomplete"}, statuses  # the quoting answers were read, the failing ones kept
    # A failed upload: the references changed under it, and the failure lists what no longer matches.
    # Three clips changed: the same file again is refused as a near-duplicate on a hidden phase.
    lines = [line for line in demo_file("test-en.jsonl").decode().splitlines() if line.strip()]
    retaken = [
        json.dumps({**json.loads(line), "narration": f"Retake {index}."}) for index, line in enumerate(lines[:3])
    ]
    resubmitted = "\n".join(retaken + lines[3:]).encode()
    failed = upload(api, demo_test, "en", resubmitted, name="test-en.jsonl").json()["id"]
    changed = dict(references["en"])
    changed.pop(max(changed))
    ReferenceSet.objects.filter(phase=demo_test, language="en").update(narrations=changed)
    assert scoring.score_submission(failed).outcome == scoring.Outcome.FAILED
    ReferenceSet.objects.filter(phase=demo_test, language="en").update(narrations=references["en"])
    entries["failed"] = failed
    demo_test.requires_approval = True
    demo_test.save()
    for team in Team.objects.filter(name__in=["Team A", "Team B"]):
        PhaseApproval.objects.create(team=team, phase=demo_test, status="approved", note="welcome")
    return hidden, entries


def moderate_and_freeze(phase, entries) -> None:
    """Bob's entry disqualified, Alice's English one hidden, each with a reason; the board frozen now."""
    Submission.objects.filter(pk=entries["bob"]).update(moderation="disqualified", moderation_reason="copied")
    Submission.objects.filter(pk=entries["en"]).update(moderation="hidden", moderation_reason="duplicate")
    phase.frozen_at = timezone.now()
    phase.save()
    refresh_boards(phase)  # moderated by hand above, as with SQL


def admin_urls() -> list[str]:
    """Every admin changelist, and the change page of every object of the models organizers inspect."""
    from django.contrib import admin

    urls = ["/admin/"]
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        if info[0] == "authtoken":
            continue  # its change pages are keyed by user, not token; no reference can be there
        urls.append(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        for pk in model._default_manager.values_list("pk", flat=True)[:20]:
            urls.append(reverse(f"admin:{info[0]}_{info[1]}_change", args=[pk]))
    return urls


#: Admin pages where organizers may read a hidden reference, on purpose: the judge's own words, which
#: can quote the prompt (the answer cache, and a run's stored failures), kept to inspect the judge.
INTENDED_FOR_ORGANIZERS = ("/admin/judging/judgeanswer/", "/admin/judging/judgerun/")


def assert_no_hidden_text(hidden: list[str], url: str, body: str) -> None:
    for text in hidden:
        assert text not in body and json.dumps(text)[1:-1] not in body, (url, text)
        assert escape(text) not in body, (url, text)


@pytest.mark.parametrize("who", ["anonymous", "member", "other_team", "staff"])
def test_no_url_serves_the_hidden_references(who, hidden_world, alice, bob, demo_test, admin_user, client):
    """Walk every page, endpoint and email a user can reach, in every board state, for any hidden reference text."""
    hidden, entries = hidden_world
    stored = Submission.objects.get(pk=entries["zh"]).predictions_file.name
    viewer = {"anonymous": None, "member": alice, "other_team": bob, "staff": admin_user}[who]
    if viewer is not None:
        client.force_login(viewer)
    pages = [
        f"/c/demo/pages/{slug}/"
        for slug in ChallengePage.objects.filter(challenge__slug="demo").values_list("slug", flat=True)
    ]
    assert pages
    urls = (
        [
            "/",
            "/c/demo/",
            "/api/v1/challenges/",
            "/api/v1/challenges/demo/",
            "/api/schema/",
            "/api/docs/",
            "/status/",
            "/api/v1/status/",
            "/account/email/",
            "/team/",
            "/token/",
            "/c/demo/test/submit/",
            "/c/demo/test/approval/",
            "/api/v1/challenges/demo/phases/test/approval/",
            "/api/v1/challenges/demo/phases/test/quota/",
            "/submissions/",
            "/api/v1/submissions/",
            "/api/v1/challenges/demo/phases/test/submissions/",
            f"/media/{stored}",
            f"/{stored}",
            *pages,
        ]
        + [
            url
            for submission_id in entries.values()
            for url in (
                f"/submissions/{submission_id}/",
                f"/api/v1/submissions/{submission_id}/",
                f"/api/v1/submissions/{submission_id}/clip-scores/",
            )
        ]
        + [
            f"{prefix}{lang}/{stage}/"
            for prefix in ("/c/demo/test/", "/api/v1/challenges/demo/phases/test/leaderboards/")
            for lang in ("zh", "en")
            for stage in ("l1", "l2")
        ]
    )
    seen = []
    for state in ("live", "moderated_and_frozen"):
        if state == "moderated_and_frozen":
            moderate_and_freeze(demo_test, entries)
        for url in urls:
            response = client.get(url)
            if response.status_code == 200:
                seen.append(url)
            assert_no_hidden_text(hidden, url, response.content.decode("utf-8", "replace"))
    assert len(seen) >= {"anonymous": 30, "member": 60, "other_team": 50, "staff": 66}[who], seen
    assert client.get(f"/media/{stored}").status_code == 404
    board = client.get("/api/v1/challenges/demo/phases/test/leaderboards/en/l1/").json()
    assert board["frozen_at"]  # the walk's second round saw the frozen, moderated boards

    admin_seen, quoting = [], set()
    for url in admin_urls():
        response = client.get(url)
        if who != "staff":
            assert response.status_code == 302 and "/admin/login/" in response.url, url
            continue
        assert response.status_code == 200, url
        admin_seen.append(url)
        body = response.content.decode()
        if not url.startswith(INTENDED_FOR_ORGANIZERS):
            assert_no_hidden_text(hidden, url, body)
        elif any(escape(text) in body for text in hidden):
            quoting.add(url.split("/")[3])
    if who == "staff":
        assert any("/submissions/submission/" in url and url.endswith("/change/") for url in admin_seen)
        assert any(url.startswith("/admin/judging/judgerun/") and url.endswith("/change/") for url in admin_seen)
        # Where the organizers do read the judge quoting a reference: its cached answers and a run's failures.
        assert quoting == {"judgeanswer", "judgerun"}

    # The result emails, as the notification task sends them, and the organizers' digest.
    mail.outbox = []
    for kind, submission_id in (
        ("finished", entries["zh"]),
        ("finished", entries["en"]),
        ("failed", entries["failed"]),
    ):
        assert notifications.notify_submission(submission_id, kind) == notifications.Sent.SENT, kind
    notifications.update_preferences(admin_user, on_result=True, digest=True)
    assert notifications.send_digests() == 1
    assert len(mail.outbox) == 4
    assert "L1 and L2: not available" in mail.outbox[1].body  # the incomplete run's reason, in the team's words
    for email in mail.outbox:
        assert_no_hidden_text(hidden, email.subject, email.subject + email.body)


def test_upload_progress_path_accepts_a_streamed_file(alice, demo_val):
    """The size-capped handler stores a normal upload intact."""
    client = api_client_for(alice)
    data = demo_file("val-en.json")
    response = client.post(
        "/api/v1/challenges/demo/phases/val/submissions/",
        {"language": "en", "predictions": SimpleUploadedFile("p.json", data, content_type="application/json")},
        format="multipart",
    )
    assert response.status_code == 201
    with Submission.objects.get(pk=response.json()["id"]).predictions_file.open("rb") as handle:
        assert handle.read() == data
