"""docs/organizers.md, "A season, step by step", done as the guide says, on the demo bundle.

Load a bundle, open a val and a test phase, watch submissions arrive, freeze the
board, disqualify one entry with a reason, fix a reference and re-score the phase.
Scoring runs in this process through the function the worker calls; the worker
path itself is covered in test_worker.py.
"""

from __future__ import annotations

import io
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from leaderboard.audit.models import AuditEvent
from leaderboard.challenges.models import Phase, ReferenceSet
from leaderboard.submissions import scoring
from leaderboard.submissions.models import Result, Submission
from tests.support.admin import logged_in, run_action
from tests.support.data import DEMO_DATA, ROOT
from tests.support.service import api_client_for, demo_file, make_participant, upload


def command(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def edit_bundle(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def public_rows(language="zh", stage="l2", *, baselines=False) -> list[dict]:
    """The public board's rows: the teams' entries, and with ``baselines`` the bundle's baseline rows too."""
    rows = APIClient().get(f"/api/v1/challenges/demo/phases/test/leaderboards/{language}/{stage}/").json()["rows"]
    return [row for row in rows if baselines or not row["baseline"]]


@pytest.mark.django_db
def test_an_organizer_runs_a_season_by_the_guide(tmp_path, settings):
    settings.JUDGE_DEFAULTS = {}  # no judge: the stage boards rank by the classic columns
    folder = tmp_path / "bundle"
    shutil.copytree(ROOT / "demo" / "bundle", folder)
    (tmp_path / "data").symlink_to(DEMO_DATA)
    bundle = folder / "demo.yaml"
    now = timezone.now()

    # 1. Load the bundle with the test phase not open yet; a participant is refused with the date.
    edit_bundle(bundle, lambda data: data["phases"][1].update(starts_at=iso(now + timedelta(days=1))))
    assert "challenge demo: created" in command("load_challenge", str(bundle))
    alice, bob = make_participant("alice", "Team A"), make_participant("bob", "Team B")
    test = Phase.objects.get(challenge__slug="demo", slug="test")
    refused = upload(api_client_for(alice), test, "zh", demo_file("test-zh.json"))
    assert refused.status_code == 403 and refused.json()["code"] == "phase_not_open"

    # 2. Open it: change the date in the bundle and load it again; it updates in place.
    edit_bundle(
        bundle,
        lambda data: data["phases"][1].update(
            starts_at=iso(now - timedelta(hours=1)), ends_at=iso(now + timedelta(days=30))
        ),
    )
    report = command("load_challenge", str(bundle))
    assert "phase demo/test: updated" in report and "starts_at" in report

    # 3. Watch submissions arrive: the status page shows them waiting, then scored.
    organizer = get_user_model().objects.create_superuser("olga", "olga@example.org", "pw")
    ids = {}
    for user, name in ((alice, "alice-model"), (bob, "bob-model")):
        response = upload(api_client_for(user), test, "zh", demo_file("test-zh.json"), public="true", method_name=name)
        assert response.status_code == 201, response.content
        ids[name] = response.json()["id"]
    status = logged_in(organizer).get("/api/v1/status/").json()
    assert status["waiting"] == 2 and status["organizer"]["oldest_waiting"]["submission_id"] == ids["alice-model"]
    for submission_id in ids.values():
        scoring.score_submission(submission_id)
    assert sorted(row["method_name"] for row in public_rows()) == ["alice-model", "bob-model"]
    # the demo bundle's invented baseline shows beside them, unranked
    assert [(row["rank"], row["citation"]) for row in public_rows(baselines=True) if row["baseline"]] == [
        (None, "Demo baseline (invented numbers): not a published result")
    ]

    # 4. Freeze the board; a later entry is scored but the public board stays as it was.
    freeze = timezone.now()
    edit_bundle(bundle, lambda data: data["phases"][1].update(frozen_at=iso(freeze)))
    command("load_challenge", str(bundle))
    carol = make_participant("carol", "Team C")
    late = upload(api_client_for(carol), test, "zh", demo_file("test-zh.json"), public="true", method_name="late")
    scoring.score_submission(late.json()["id"])
    assert "late" not in [row["method_name"] for row in public_rows()]
    organizer_rows = logged_in(organizer).get("/api/v1/challenges/demo/phases/test/leaderboards/zh/l2/").json()
    assert "late" in [row["method_name"] for row in organizer_rows["rows"]]

    # 5. Disqualify one entry with a reason: it leaves the public board; its team reads why.
    alice_entry = Submission.objects.get(pk=ids["alice-model"])
    run_action(
        logged_in(organizer),
        "/admin/submissions/submission/",
        "disqualify_selected",
        [alice_entry],
        reason="Trained on the hidden test references",
    )
    assert [row["method_name"] for row in public_rows()] == ["bob-model"]
    seen_by_alice = api_client_for(alice).get(f"/api/v1/submissions/{alice_entry.pk}/").json()
    assert seen_by_alice["moderation"] == "disqualified"
    assert seen_by_alice["moderation_reason"] == "Trained on the hidden test references"

    # 6. Fix a reference: export with references, correct one narration, load the bundle.
    exported = tmp_path / "exported"
    command("export_challenge", "demo", "-o", str(exported), "--with-references")
    reference_file = exported / "references" / "test-zh.json"
    narrations = json.loads(reference_file.read_text())
    fixed_clip = sorted(narrations)[0]
    narrations[fixed_clip] = narrations[fixed_clip] + "（更正）"
    reference_file.write_text(json.dumps(narrations, ensure_ascii=False))
    old_hash = ReferenceSet.objects.get(phase=test, language="zh").content_hash
    report = command("load_challenge", str(exported))
    new_hash = ReferenceSet.objects.get(phase=test, language="zh").content_hash
    assert new_hash != old_hash and f"{old_hash} -> {new_hash}" in report

    # 7. Re-score the phase: new results against the fixed reference, the old ones kept.
    old_results = {
        pk: Submission.objects.get(pk=pk).current_result_id for pk in Submission.objects.values_list("pk", flat=True)
    }
    output = command("rescore", "--phase", "demo/test", "--reason", f"fixed the reference of {fixed_clip}", "--here")
    assert "3 submission(s)" in output
    for pk, old_result in old_results.items():
        submission = Submission.objects.get(pk=pk)
        assert submission.current_result_id != old_result
        assert submission.current_result.reference_hash == new_hash
        assert Result.objects.get(pk=old_result).reference_hash == old_hash
    assert [row["method_name"] for row in public_rows()] == ["bob-model"]

    # The audit log holds who did what and why.
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"submission.disqualify", "phase.rescore"} <= actions, actions
