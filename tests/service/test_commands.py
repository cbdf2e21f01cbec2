"""Management commands: the real import, the demo, and tokens."""

from __future__ import annotations

import io

from django.core.management import call_command
from rest_framework.test import APIClient

from leaderboard.challenges.models import Challenge, ReferenceSet


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_movie101v2_reads_the_real_layout_and_is_idempotent(db, real_data):
    first = run("import_movie101v2", str(real_data))
    assert "challenge movie101v2: created" in first
    challenge = Challenge.objects.get(slug="movie101v2")
    val, test = challenge.phases.get(slug="val"), challenge.phases.get(slug="test")
    assert val.references_public and not test.references_public
    counts = {(rs.phase.slug, rs.language): rs.clip_count for rs in ReferenceSet.objects.select_related("phase")}
    assert counts == {("val", "zh"): 2361, ("val", "en"): 2361, ("test", "zh"): 2227, ("test", "en"): 2227}
    from evaluation.movie101v2 import read_split

    assert ReferenceSet.objects.get(phase=test, language="zh").narrations == read_split(real_data, "test", "zh")
    boards = {(board.phase.slug, board.key): board.columns for board in challenge.phases.first().boards.all()}
    assert boards[("val", "l1")] == ["l1", "l1_environment", "l1_character", "cider", "bleu_4", "meteor", "rouge_l"]
    assert boards[("val", "l2")] == ["l2", "cider", "bleu_4", "meteor", "rouge_l"]

    second = run("import_movie101v2", str(real_data))
    assert "challenge movie101v2: unchanged" in second
    assert second.count(": unchanged") == 1 + 4 + 4  # challenge, four reference sets, four boards
    assert ReferenceSet.objects.count() == 4 and challenge.phases.count() == 2


def test_import_reports_a_changed_reference_set(db, real_data):
    run("import_movie101v2", str(real_data), "--challenge", "m2")
    reference_set = ReferenceSet.objects.get(phase__challenge__slug="m2", phase__slug="val", language="en")
    reference_set.narrations = {"1_1_2": "tampered"}
    reference_set.save()
    output = run("import_movie101v2", str(real_data), "--challenge", "m2")
    assert "references m2/val/en: updated, 2,361 clips, sha256:" in output


def test_import_of_a_wrong_folder_says_why(db, tmp_path):
    import pytest
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a Movie101v2 folder"):
        run("import_movie101v2", str(tmp_path))


def test_issue_token_prints_a_working_token_last(db, demo_challenge):
    output = run("issue_token", "eve", "--team", "Eve's team")
    token = output.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/challenges/demo/phases/val/quota/").json()["can_submit"] is True
    assert run("issue_token", "eve").strip().splitlines()[-1] == token


def test_load_demo_twice_changes_nothing_the_second_time(db):
    first = run("load_demo")
    assert "demo login: demo / demo-password" in first and "demo API token: " in first
    second = run("load_demo")
    assert "challenge demo: unchanged" in second
    assert Challenge.objects.get(slug="demo").phases.count() == 2
