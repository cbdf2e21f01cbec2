"""The judge on the boards: frozen boards keep the judge of their time, the phase's judge is published
so participants reproduce its numbers, external baselines' stage scores are another judge's, and
organizers see what every judge run of a submission cost."""

from __future__ import annotations

import json
from datetime import timedelta

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from evaluation.judge import JudgeConfig, run_judge, templates_for, templates_from_data
from leaderboard.boards.judges import board_judge
from leaderboard.boards.models import Baseline
from leaderboard.boards.services import refresh_boards
from leaderboard.challenges.models import BoardVisibility, ReferenceSet
from leaderboard.judging import runner
from leaderboard.judging.finishing import Outcome
from leaderboard.judging.selectors import accounting_total
from leaderboard.submissions import scoring
from leaderboard.submissions.models import Result, Submission
from tests.support.judge_server import comma_answer
from tests.support.judging import run_of, scored_submission, set_judge
from tests.support.service import api_client_for, demo_file, make_challenge_organizer, make_participant

BOARD_API = "/api/v1/challenges/demo/phases/val/leaderboards/en/l1/"
BOARD_PAGE = "/c/demo/val/en/l1/"
JUDGE_API = "/api/v1/challenges/demo/phases/val/judge/"


def judged(user, phase, language="en"):
    submission = scored_submission(user, phase, language)
    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    submission.refresh_from_db()
    return submission


def organizer():
    return make_challenge_organizer(make_participant("olga"), "demo")


# -- 1. a frozen board keeps the judge of its time ---------------------------------------------------


def test_a_frozen_board_keeps_ranking_by_the_judge_in_effect_at_the_freeze(alice, judged_val):
    submission = judged(alice, judged_val)
    before_any_run = timezone.now() - timedelta(hours=1)
    judged_val.frozen_at = timezone.now()
    judged_val.save()
    set_judge(judged_val, model="fake-judge-2")  # the organizers change the judge after the freeze

    public = APIClient().get(BOARD_API).json()
    assert public["as_of"] is not None
    assert public["judge"]["model"] == "fake-judge-1" and public["judge"]["current"] is False
    assert public["judge"]["signature"] == run_of(submission).signature
    (row,) = public["rows"]
    assert row["rank"] == 1 and "l1" in row["scores"]
    assert row["other_judge_scores"] == {} and row["other_judge"] == ""

    page = Client().get(BOARD_PAGE).content.decode()
    assert "<strong>fake-judge-1</strong>" in page and "fake-judge-2" not in page
    assert "judged by another configuration" not in page and "earlier configuration" in page

    live = api_client_for(organizer()).get(BOARD_API).json()
    assert live["as_of"] is None and live["judge"]["model"] == "fake-judge-2" and live["judge"]["current"]
    (row,) = live["rows"]
    assert "l1" not in row["scores"] and "l1" in row["other_judge_scores"]
    assert row["other_judge"] == "other_configuration"

    # No run had completed by then: the current configuration.
    assert board_judge(judged_val, "en", as_of=before_any_run).model == "fake-judge-2"


# -- 2. the phase's judge, published -------------------------------------------------------------------


PHASE_L1 = {
    "user": "Reference: {reference}\nCandidate: {prediction}\nRate environment and character, as 3,5",
    "parser": "comma",
}


def test_the_published_judge_reproduces_the_boards_templates_and_numbers(alice, judged_val, fake_judge, monkeypatch):
    monkeypatch.setenv("JUDGE_API_KEY_VAL", "sk-never-shown")
    set_judge(judged_val, templates={"l1": {"en": PHASE_L1}}, api_key_env="JUDGE_API_KEY_VAL")
    fake_judge.answer = _answer
    submission = judged(alice, judged_val)

    body = APIClient().get(JUDGE_API).json()
    board = APIClient().get(BOARD_API).json()["judge"]
    en = body["languages"]["en"]
    assert (en["model"], en["temperature"], en["max_tokens"], en["response_format"]) == (
        "fake-judge-1",
        0.0,
        256,
        "auto",
    )
    assert en["signature"] == board["signature"]
    assert {stage: info["source"] for stage, info in en["stages"].items()} == {"l1": "phase", "l2": "builtin"}

    # The templates alone are a --judge-templates file, and give the board's hashes.
    file = APIClient().get(JUDGE_API + "?format=templates")
    assert file.status_code == 200 and file["Content-Type"].startswith("application/json")
    assert file.json() == body["templates"] and body["templates_url"].endswith("/judge/?format=templates")
    for language in ("en", "zh"):
        templates = templates_for(language, templates_from_data(file.json()))
        stages = body["languages"][language]["stages"]
        assert {stage: template.hash for stage, template in templates.items()} == {
            stage: info["template"] for stage, info in stages.items()
        }
    assert {stage: t.hash for stage, t in templates_for("en", templates_from_data(file.json())).items()} == {
        stage: info["template"] for stage, info in board["stages"].items()
    }

    # ...and, with the published model and temperature, the server's L1 and L2.
    references = ReferenceSet.objects.get(phase=judged_val, language="en").narrations
    config = JudgeConfig(
        base_url=fake_judge.base_url,
        model=en["model"],
        temperature=en["temperature"],
        max_tokens=en["max_tokens"],
        response_format=en["response_format"],
    )
    offline = run_judge(
        references,
        json.loads(demo_file("val-en.json")),
        "en",
        config,
        templates=templates_for("en", templates_from_data(file.json())),
    )
    server = Result.objects.get(pk=submission.current_result_id).metrics
    assert offline.complete and offline.metrics == {name: server[name] for name in offline.metrics}

    # Never the endpoint, the key or the name of its variable.
    text = json.dumps(body) + file.content.decode()
    for secret in (fake_judge.base_url, "127.0.0.1", "sk-never-shown", "JUDGE_API_KEY_VAL", "api_key", "base_url"):
        assert secret not in text

    page = Client().get(BOARD_PAGE).content.decode()
    assert 'href="/api/v1/challenges/demo/phases/val/judge/"' in page and "The prompts of this judge" in page


def _answer(prompt: str) -> str:
    """Comma answers to the phase's L1 prompt, JSON to ours."""
    from tests.support.judge_server import json_answer

    return comma_answer(prompt) if "as 3,5" in prompt else json_answer(prompt)


def test_the_published_judge_follows_who_may_see_the_boards(judged_val, settings):
    judged_val.board_visibility = BoardVisibility.ORGANIZERS
    judged_val.save()
    assert APIClient().get(JUDGE_API).status_code == 404
    assert APIClient().get(JUDGE_API + "?format=templates").status_code == 404
    assert api_client_for(organizer()).get(JUDGE_API).status_code == 200

    judged_val.board_visibility = BoardVisibility.PUBLIC
    judged_val.save()
    set_judge(judged_val, enabled=False)
    body = APIClient().get(JUDGE_API).json()
    assert set(body["languages"]["en"]) == {"configured", "reason"} and not body["languages"]["en"]["configured"]
    assert "turned the LLM judge off" in body["languages"]["en"]["reason"] and body["templates"] == {}


# -- 3. external baselines' stage scores are their source's judge's --------------------------------------


def test_an_external_baselines_stage_scores_are_flagged_and_do_not_place_it(alice, judged_val):
    judged(alice, judged_val)
    alice_l1 = Result.objects.filter(submission__team__name="Team A").latest("created_at").metrics["l1"]
    Baseline.objects.create(
        phase=judged_val,
        language="en",
        key="gpt",
        method_name="paper-gpt",
        citation="Paper <b>A</b>",
        scores={"l1": 4.99, "l2": 4.99, "cider": 0.0001},
    )
    refresh_boards(judged_val)  # a baseline added by hand, not by a bundle reload: the operator's refresh
    assert alice_l1 < 4.99

    body = APIClient().get(BOARD_API).json()
    assert [(row["rank"], row["method_name"]) for row in body["rows"]] == [(1, "m"), (None, "paper-gpt")]
    baseline = body["rows"][1]
    assert baseline["scores"] == {"cider": 0.0001} and baseline["other_judge_scores"] == {"l1": 4.99}
    assert baseline["other_judge"] == "reported_by_source" and body["rows"][0]["other_judge"] == ""

    page = Client().get(BOARD_PAGE).content.decode()
    assert "reported by the source, not this board" in page and "(4.99" in page
    assert "judged by another configuration" not in page and "Paper &lt;b&gt;A&lt;/b&gt;" in page
    assert page.index("paper-gpt") > page.index("<td>Team A</td>")


# -- 4. organizers see what every judge run cost ---------------------------------------------------------


def test_organizers_see_the_accounting_of_every_judge_run_beside_the_newest(alice, judged_val):
    submission = judged(alice, judged_val)
    first = run_of(submission)
    rescored = scoring.rescore(submission.pk)
    assert runner.judge_result(rescored.judge_run.pk).outcome == Outcome.COMPLETE
    second = run_of(submission)
    assert second.pk != first.pk and (second.calls, second.cache_hits) == (0, 20)

    staff = organizer()
    judge = api_client_for(staff).get(f"/api/v1/submissions/{submission.pk}/").json()["judge"]
    assert judge["accounting"] == second.accounting()
    assert judge["accounting_total"] == {
        name: first.accounting()[name] + second.accounting()[name] for name in first.accounting()
    } | {"runs": 2}
    assert judge["accounting_total"]["calls"] == 20 and judge["accounting_total"]["cache_hits"] == 20
    prefetched = Submission.objects.with_details().get(pk=submission.pk)  # lists: the same totals
    assert accounting_total(prefetched) == judge["accounting_total"]

    client = Client()
    client.force_login(staff)
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert 'id="judge-accounting-total"' in page and "All 2 judge runs" in page

    team_view = api_client_for(alice).get(f"/api/v1/submissions/{submission.pk}/").json()["judge"]
    assert "accounting_total" not in team_view and "accounting" not in team_view
    listed = api_client_for(alice).get("/api/v1/submissions/").json()["results"]
    assert all("accounting_total" not in item["judge"] for item in listed)
    client.force_login(alice)
    assert "judge-accounting-total" not in client.get(f"/submissions/{submission.pk}/").content.decode()
