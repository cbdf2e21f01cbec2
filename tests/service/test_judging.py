"""The judge stage in the service: setup, the database cache, resume, boards and what each viewer sees.

The judge is a real HTTP server on loopback (tests/support/judge_server.py); the
classic metrics are the real ones. Tasks are called in-process here;
tests/service/test_judge_worker.py runs them on real Celery workers.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from evaluation.judge import templates_for
from leaderboard.boards.selectors import stored_rows
from leaderboard.challenges.models import JudgeSettings, ReferenceSet
from leaderboard.judging import lifecycle, runner
from leaderboard.judging.finishing import Outcome
from leaderboard.judging.models import JudgeAnswer, JudgeRun, JudgeStatus
from leaderboard.judging.setup import judge_setup
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Result
from tests.support.judge_server import Fault, expected_stage_metrics, scores_for
from tests.support.judging import run_of, scored_submission, set_judge
from tests.support.service import api_client_for, demo_file, make_challenge_organizer, make_participant


def references_and_predictions(phase, language="en"):
    references = ReferenceSet.objects.get(phase=phase, language=language).narrations
    return references, json.loads(demo_file(f"val-{language}.json"))


# -- which judge ----------------------------------------------------------------------


def test_without_a_judge_the_stage_metrics_are_absent_and_the_status_says_why(alice, demo_val, settings):
    settings.JUDGE_DEFAULTS = {}
    submission = scored_submission(alice, demo_val)
    run = run_of(submission)
    assert run.status == JudgeStatus.NOT_CONFIGURED and "No LLM judge is configured" in run.reason
    assert not {"l1", "l2"} & set(submission.current_result.metrics)
    body = api_client_for(alice).get(f"/api/v1/submissions/{submission.pk}/").json()
    assert body["judge"]["status"] == "not_configured" and "No LLM judge" in body["judge"]["reason"]
    page = api_client_for(alice)
    page.force_login(alice)
    assert "No LLM judge is configured" in page.get(f"/submissions/{submission.pk}/").content.decode()


def test_the_judge_comes_from_the_settings_and_a_phase_overrides_it(demo_val, settings, monkeypatch):
    settings.JUDGE_DEFAULTS = {"base_url": "http://judge.example/v1", "model": "default-model", "api_key": "k1"}
    assert not JudgeSettings.objects.filter(phase=demo_val).exists()  # no settings of its own: the defaults
    setup = judge_setup(demo_val, "zh")
    assert (setup.config.base_url, setup.config.model, setup.config.api_key) == (
        "http://judge.example/v1",
        "default-model",
        "k1",
    )
    assert setup.templates["l1"].language == "zh" and setup.config.temperature == 0

    monkeypatch.setenv("JUDGE_API_KEY_PHASE", "k2")
    set_judge(demo_val, model="phase-model", api_key_env="JUDGE_API_KEY_PHASE", temperature=0.3)
    setup = judge_setup(demo_val, "zh")
    assert (setup.config.model, setup.config.api_key, setup.config.temperature) == ("phase-model", "k2", 0.3)
    assert setup.identity.model == "phase-model" and "k2" not in json.dumps(setup.identity.as_dict())

    set_judge(demo_val, enabled=False)
    assert (
        judge_setup(demo_val, "zh").config is None and "turned the LLM judge off" in judge_setup(demo_val, "zh").reason
    )


def test_a_half_configured_judge_is_reported_not_guessed(demo_val, settings):
    settings.JUDGE_DEFAULTS = {"model": "only-a-model"}
    setup = judge_setup(demo_val, "en")
    assert setup.config is None and "misconfigured" in setup.reason


def test_phase_templates_are_validated_with_the_path_of_the_error(demo_val):
    from django.core.exceptions import ValidationError

    judge = JudgeSettings(phase=demo_val, templates={"l1": {"zh": {"user": "no placeholders", "parser": "comma"}}})
    with pytest.raises(ValidationError) as error:
        judge.clean()
    assert "templates.l1.zh.user" in str(error.value) and "{reference}" in str(error.value)


# -- judging ----------------------------------------------------------------------------


def test_a_judged_submission_gets_exact_stage_means_on_both_stage_boards(alice, judged_val, fake_judge):
    submission = scored_submission(alice, judged_val)
    run = run_of(submission)
    assert run.status == JudgeStatus.QUEUED and run.total_clips == 10
    assert runner.judge_result(run.pk).outcome == Outcome.COMPLETE

    references, predictions = references_and_predictions(judged_val)
    expected = expected_stage_metrics(references, predictions, "en")
    result = Result.objects.get(pk=submission.current_result_id)
    assert {name: result.metrics[name] for name in expected} == expected
    assert "cider" in result.metrics  # the classic metrics stay beside them
    assert fake_judge.calls == 20
    run.refresh_from_db()
    assert (run.status, run.judged_clips, run.calls, run.cache_hits, run.failed_judgments) == ("complete", 10, 20, 0, 0)
    assert run.prompt_tokens > 0 and run.completion_tokens > 0
    assert result.judge["model"] == "fake-judge-1" and result.judge["signature"] == run.signature
    per_clip = Result.objects.get(pk=result.pk).per_clip
    assert all({"l1", "l2", "cider"} <= set(scores) for scores in per_clip.values())

    for stage in ("l1", "l2"):
        rows = APIClient().get(f"/api/v1/challenges/demo/phases/val/leaderboards/en/{stage}/").json()
        assert rows["judge"]["model"] == "fake-judge-1"
        assert rows["rows"][0]["scores"][stage] == expected[stage]


def test_a_second_submission_with_the_same_narrations_makes_no_calls(alice, bob, judged_val, fake_judge):
    first = scored_submission(alice, judged_val)
    runner.judge_result(run_of(first).pk)
    assert fake_judge.calls == 20
    second = scored_submission(bob, judged_val)
    assert runner.judge_result(run_of(second).pk).outcome == Outcome.COMPLETE
    assert fake_judge.calls == 20
    run = run_of(second)
    assert (run.calls, run.cache_hits) == (0, 20)
    assert second.current_result.metrics == Result.objects.get(pk=first.current_result_id).metrics
    assert JudgeAnswer.objects.count() == 20


def test_a_rescore_keeps_the_old_result_makes_no_calls_and_gives_the_same_numbers(alice, judged_val, fake_judge):
    submission = scored_submission(alice, judged_val)
    runner.judge_result(run_of(submission).pk)
    old = Result.objects.get(pk=submission.current_result_id)
    calls = fake_judge.calls

    new = scoring.rescore(submission.pk)
    submission.refresh_from_db()
    assert submission.current_result_id == old.pk  # until the new result is judged
    assert runner.judge_result(new.judge_run.pk).outcome == Outcome.COMPLETE
    submission.refresh_from_db()
    assert submission.current_result_id == new.pk
    assert fake_judge.calls == calls
    assert Result.objects.get(pk=new.pk).metrics == old.metrics
    assert Result.objects.filter(submission=submission).count() == 2


def test_every_fault_kind_on_first_attempts_leaves_the_numbers_unchanged(alice, judged_val, fake_judge):
    references, predictions = references_and_predictions(judged_val)
    templates = templates_for("en")
    clips = sorted(references)[:3]
    l1 = [templates["l1"].messages(references[clip], predictions[clip])[-1]["content"] for clip in clips]
    l2 = [templates["l2"].messages(references[clip], predictions[clip])[-1]["content"] for clip in clips]
    full_width_plot = str(scores_for(l2[1])["plot"]).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    fake_judge.fail_prompt(l1[0], Fault(status=429, headers={"Retry-After": "0"}))
    fake_judge.fail_prompt(l2[0], Fault(status=500), Fault(status=503))
    fake_judge.fail_prompt(l1[1], Fault(text="I think it is quite good."))
    fake_judge.fail_prompt(l1[2], Fault(text='{"environment": 9, "character": 1}'))
    fake_judge.fail_prompt(l2[1], Fault(text=f'```json\n{{"plot": {full_width_plot}, "why": "close"}}\n```'))
    submission = scored_submission(alice, judged_val)
    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    run = run_of(submission)
    # 3 transport retries, 2 answers asked again; the full-width one is read as it is.
    assert (run.retries, run.reasks, run.calls) == (3, 2, 25)
    metrics = Result.objects.get(pk=submission.current_result_id).metrics
    expected = expected_stage_metrics(references, predictions, "en")
    assert {name: metrics[name] for name in expected} == expected


def test_a_clip_that_keeps_failing_leaves_the_stage_incomplete_and_resume_asks_only_it(
    alice, judged_val, fake_judge, settings
):
    settings.JUDGE_AUTO_RESUMES = 0
    references, predictions = references_and_predictions(judged_val)
    clip = sorted(references)[4]
    broken = templates_for("en")["l2"].messages(references[clip], predictions[clip])[-1]["content"]
    fake_judge.fault_rule = lambda prompt, index: Fault(text="no idea") if prompt == broken else None

    submission = scored_submission(alice, judged_val)
    run_id = run_of(submission).pk
    assert runner.judge_result(run_id).outcome == Outcome.INCOMPLETE
    run = JudgeRun.objects.get(pk=run_id)
    assert (run.status, run.judged_clips, run.failed_judgments) == ("incomplete", 9, 1)
    assert run.failures[0]["clip_id"] == clip and run.failures[0]["stage"] == "l2"
    assert "1 of 20 judgments failed (1 the answer could not be read)" in run.reason
    assert not {"l1", "l2"} & set(Result.objects.get(pk=submission.current_result_id).metrics)
    body = api_client_for(alice).get(f"/api/v1/submissions/{submission.pk}/").json()
    assert body["judge"]["failed_judgments"] == 1 and body["judge"]["status"] == "incomplete"
    assert "accounting" not in body["judge"] and "no idea" not in json.dumps(body)

    fake_judge.fault_rule = None
    fake_judge.reset()
    assert lifecycle.resume(run_id)
    assert runner.judge_result(run_id).outcome == Outcome.COMPLETE
    assert [request.prompt for request in fake_judge.requests] == [broken]
    expected = expected_stage_metrics(references, predictions, "en")
    metrics = Result.objects.get(pk=submission.current_result_id).metrics
    assert {name: metrics[name] for name in expected} == expected
    run.refresh_from_db()
    # 22 calls at first (19 answers, 3 asks of the broken one), 1 on the resume. The 19 answers the
    # resume found in the cache are the run's own, paid for by its first attempt: not cache hits.
    assert run.calls == 20 + 2 + 1 and run.answered_judgments == 20 and run.cache_hits == 0


def test_an_incomplete_run_resumes_itself_once_its_time_comes(alice, judged_val, fake_judge, settings):
    settings.JUDGE_AUTO_RESUMES, settings.JUDGE_RESUME_DELAY = 2, 600
    fake_judge.fail_next(*[Fault(status=500)] * 7)  # one judgment runs out of retries (6 + 1)
    settings.JUDGE_DEFAULTS = {**settings.JUDGE_DEFAULTS, "concurrency": 1}
    submission = scored_submission(alice, judged_val)
    run_id = run_of(submission).pk
    outcome = runner.judge_result(run_id)
    assert outcome.outcome == Outcome.INCOMPLETE and outcome.resume_in_seconds == 600
    run = JudgeRun.objects.get(pk=run_id)
    assert run.resume_at > timezone.now() and "resumes automatically" in run.reason
    assert runner.judge_result(run_id).outcome == Outcome.SKIPPED  # not due yet
    JudgeRun.objects.filter(pk=run_id).update(resume_at=timezone.now() - timedelta(seconds=1))
    assert runner.judge_result(run_id).outcome == Outcome.COMPLETE
    assert JudgeRun.objects.get(pk=run_id).automatic_resumes == 1


def test_a_refusing_endpoint_stops_the_run_early(alice, judged_val, fake_judge, settings):
    settings.JUDGE_AUTO_RESUMES = 0
    fake_judge.fault_rule = lambda prompt, index: Fault(status=401)
    submission = scored_submission(alice, judged_val)
    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.INCOMPLETE
    run = run_of(submission)
    assert fake_judge.calls <= 4 and run.failed_judgments == 20 and "the judge refused the request" in run.reason


def test_the_judge_words_never_reach_the_team_when_they_quote_a_hidden_reference(
    alice, demo_test, fake_judge, settings
):
    settings.JUDGE_DEFAULTS, settings.JUDGE_AUTO_RESUMES = {"backoff_base": 0.01}, 0
    set_judge(demo_test, base_url=fake_judge.base_url, model="echo")
    demo_test.starts_at = timezone.now() - timedelta(days=1)
    demo_test.save()
    fake_judge.answer = lambda prompt: "I cannot score this: " + prompt  # echoes the hidden reference
    submission = intake.submit(user=alice, phase=demo_test, language="zh", data=demo_file("test-zh.json"))
    scoring.score_submission(submission.pk)
    runner.judge_result(run_of(submission).pk)
    reference = next(iter(ReferenceSet.objects.get(phase=demo_test, language="zh").narrations.values()))
    assert reference in json.dumps(run_of(submission).failures, ensure_ascii=False)  # organizers can look
    client = api_client_for(alice)
    body = json.dumps(client.get(f"/api/v1/submissions/{submission.pk}/").json(), ensure_ascii=False)
    client.force_login(alice)
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert reference[:20] not in body and reference[:20] not in page
    assert "20 of 20 judgments failed" in body


def test_organizers_see_the_accounting_and_teams_do_not(alice, judged_val, fake_judge):
    submission = scored_submission(alice, judged_val)
    runner.judge_result(run_of(submission).pk)
    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    staff_view = api_client_for(organizer).get(f"/api/v1/submissions/{submission.pk}/").json()["judge"]
    assert staff_view["accounting"] == {
        "calls": 20,
        "cache_hits": 0,
        "retries": 0,
        "reasks": 0,
        "prompt_tokens": staff_view["accounting"]["prompt_tokens"],
        "completion_tokens": staff_view["accounting"]["completion_tokens"],
        "failures": 0,
    }
    assert staff_view["base_url"] == fake_judge.base_url
    team_view = api_client_for(alice).get(f"/api/v1/submissions/{submission.pk}/").json()["judge"]
    assert "accounting" not in team_view and "base_url" not in team_view
    assert team_view["model"] == "fake-judge-1" and team_view["progress"] == 1.0


def test_a_board_flags_results_from_another_judge_and_does_not_rank_them_on_l1(alice, bob, judged_val, fake_judge):
    first = scored_submission(alice, judged_val)
    runner.judge_result(run_of(first).pk)
    set_judge(judged_val, model="fake-judge-2")
    second = scored_submission(bob, judged_val)
    runner.judge_result(run_of(second).pk)

    board = judged_val.boards.get(key="l1")
    rows = {row.submission_id: row for row in stored_rows(judged_val, "en", board, as_of=None)}
    assert "l1" in rows[second.pk].scores and not rows[second.pk].other_judge_scores
    assert "l1" not in rows[first.pk].scores and rows[first.pk].other_judge_scores["l1"] > -1
    assert rows[first.pk].judge_model == "fake-judge-1"
    assert rows[second.pk].rank == 1 and rows[first.pk].rank == 2

    body = APIClient().get("/api/v1/challenges/demo/phases/val/leaderboards/en/l1/").json()
    assert body["judge"]["model"] == "fake-judge-2"
    page = APIClient().get(reverse("web:board", args=["demo", "val", "en", "l1"])).content.decode()
    assert "judged by another configuration (fake-judge-1)" in page and "fake-judge-2" in page


def test_the_comma_parser_reads_the_released_protocols_answers(alice, judged_val, fake_judge):
    from tests.support.judge_server import comma_answer

    user = (
        "Reference: {reference}\nCandidate: {prediction}\n"
        "Rate environment and character accuracy, answer as two numbers like 3,5"
    )
    set_judge(
        judged_val,
        templates={
            "l1": {"en": {"user": user, "parser": "comma"}},
            "l2": {
                "en": {
                    "user": "Reference: {reference}\nCandidate: {prediction}\nPlot score 0-5, one number.",
                    "parser": "comma",
                }
            },
        },
    )
    fake_judge.answer = comma_answer
    submission = scored_submission(alice, judged_val)
    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    references, predictions = references_and_predictions(judged_val)
    setup = judge_setup(judged_val, "en")
    expected = expected_stage_metrics(references, predictions, "en", setup.templates)
    metrics = Result.objects.get(pk=submission.current_result_id).metrics
    assert {name: metrics[name] for name in expected} == expected
    assert all("response_format" not in request.body for request in fake_judge.requests)
    assert Result.objects.get(pk=submission.current_result_id).judge["stages"]["l1"]["parser"] == "comma"


# -- keys -------------------------------------------------------------------------------


@pytest.fixture
def authorizations(monkeypatch):
    """The Authorization header of every request any loopback server receives, as sent on the wire."""
    from http.server import BaseHTTPRequestHandler

    seen: list[str] = []
    parse_request = BaseHTTPRequestHandler.parse_request

    def recording(handler):
        parsed = parse_request(handler)
        if parsed:
            seen.append(handler.headers.get("Authorization", ""))
        return parsed

    monkeypatch.setattr(BaseHTTPRequestHandler, "parse_request", recording)
    return seen


@pytest.mark.parametrize(
    "name",
    [
        "DATABASE_URL",
        "SECRET_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "judge_api_key",
        "JUDGE_API_KEYS",
        "JUDGE_API_KEY_test",
        "JUDGE_API_KEY-X",
        "MY_JUDGE_API_KEY",
    ],
)
def test_a_phase_can_name_only_a_judge_key_variable(demo_val, name, monkeypatch, settings):
    from django.core.exceptions import ValidationError

    judge = JudgeSettings(phase=demo_val, api_key_env=name)
    with pytest.raises(ValidationError) as error:
        judge.clean()
    assert "api_key_env" in error.value.message_dict

    # A name stored before the check is refused at run time too: its value is never read.
    judge.save()
    monkeypatch.setenv(name, "the-worker-secret")
    settings.JUDGE_DEFAULTS = {"base_url": "http://judge.example/v1", "model": "m"}
    setup = judge_setup(demo_val, "en")
    assert setup.config is None and "misconfigured" in setup.reason


@pytest.mark.parametrize("name", ["JUDGE_API_KEY", "JUDGE_API_KEY_TEST", "JUDGE_API_KEY_VAL_2"])
def test_judge_key_variables_are_accepted(demo_val, name):
    JudgeSettings(phase=demo_val, api_key_env=name).clean()


def test_the_default_key_is_not_sent_to_a_phase_endpoint_on_another_origin(
    alice, judged_val, fake_judge, settings, monkeypatch, authorizations, caplog
):
    settings.JUDGE_DEFAULTS = {
        **settings.JUDGE_DEFAULTS,
        "base_url": "https://judge.example/v1",
        "model": "default-model",
        "api_key": "sk-default-secret",
    }
    submission = scored_submission(alice, judged_val)  # the phase points at the loopback judge
    with caplog.at_level("INFO"):
        assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    assert len(authorizations) == 20 and not [header for header in authorizations if "sk-default-secret" in header]
    run = run_of(submission)
    assert run.judge["key_source"].startswith("none: JUDGE_API_KEY is only sent to the origin of JUDGE_BASE_URL")
    assert "no key sent" in caplog.text and "sk-default-secret" not in caplog.text + json.dumps(run.judge)

    # The same origin (case and default port aside) gets the default key; a phase naming a variable gets that one.
    settings.JUDGE_DEFAULTS = {**settings.JUDGE_DEFAULTS, "base_url": "https://JUDGE.example:443/other/v1"}
    set_judge(judged_val, base_url="https://judge.example/v1")
    setup = judge_setup(judged_val, "en")
    assert (setup.config.api_key, setup.key_source, setup.key_withheld) == ("sk-default-secret", "JUDGE_API_KEY", False)
    set_judge(judged_val, base_url="https://judge.example:8443/v1")
    assert judge_setup(judged_val, "en").config.api_key == ""
    monkeypatch.setenv("JUDGE_API_KEY_ELSEWHERE", "sk-phase-key")
    set_judge(judged_val, api_key_env="JUDGE_API_KEY_ELSEWHERE")
    setup = judge_setup(judged_val, "en")
    assert (setup.config.api_key, setup.key_source) == ("sk-phase-key", "JUDGE_API_KEY_ELSEWHERE")


def test_a_phase_key_is_sent_to_its_endpoint_and_shown_nowhere(
    alice, judged_val, fake_judge, monkeypatch, authorizations, caplog
):
    monkeypatch.setenv("JUDGE_API_KEY_VAL", "sk-never-shown-5678")
    set_judge(judged_val, api_key_env="JUDGE_API_KEY_VAL")
    submission = scored_submission(alice, judged_val)
    with caplog.at_level("DEBUG"):
        assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    assert authorizations and set(authorizations) == {"Bearer sk-never-shown-5678"}
    run = run_of(submission)
    assert run.judge["key_source"] == "JUDGE_API_KEY_VAL"
    organizer = make_participant("olga")
    organizer.is_staff = organizer.is_superuser = True
    organizer.save()
    client = api_client_for(organizer)
    client.force_login(organizer)
    shown = [
        json.dumps(client.get(f"/api/v1/submissions/{submission.pk}/").json()),
        client.get(f"/admin/judging/judgerun/{run.pk}/change/").content.decode(),
        client.get(f"/submissions/{submission.pk}/").content.decode(),
        json.dumps([run.judge, Result.objects.get(pk=run.result_id).judge]),
        caplog.text,
    ]
    assert not [text for text in shown if "sk-never-shown-5678" in text]


# -- stopping, interruptions and their accounting -------------------------------------------


def test_cancelling_stops_a_running_attempt_and_keeps_what_it_spent(
    alice, judged_val, fake_judge, settings, monkeypatch
):
    from leaderboard.judging.cache import DatabaseJudgeCache

    settings.JUDGE_DEFAULTS = {**settings.JUDGE_DEFAULTS, "concurrency": 1}
    monkeypatch.setattr(runner, "PROGRESS_SECONDS", 0.0)  # the attempt looks at its run after every clip
    submission = scored_submission(alice, judged_val)
    run_id = run_of(submission).pk
    put_many = DatabaseJudgeCache.put_many

    def cancel_after_the_first_answers(cache, entries):
        put_many(cache, entries)
        lifecycle.cancel_judge_run(run_id)  # an organizer, while the worker judges

    monkeypatch.setattr(DatabaseJudgeCache, "put_many", cancel_after_the_first_answers)
    assert runner.judge_result(run_id).outcome == Outcome.SKIPPED
    run = JudgeRun.objects.get(pk=run_id)
    assert run.status == JudgeStatus.CANCELLED
    assert fake_judge.calls == 2  # one clip, two stages: nothing more was asked
    assert (run.calls, run.answered_judgments, run.cache_hits) == (2, 2, 0)
    assert run.prompt_tokens > 0 and run.completion_tokens > 0
    first = {request.prompt for request in fake_judge.requests}

    monkeypatch.setattr(DatabaseJudgeCache, "put_many", put_many)
    fake_judge.reset()
    assert lifecycle.resume(run_id)
    assert runner.judge_result(run_id).outcome == Outcome.COMPLETE
    asked = [request.prompt for request in fake_judge.requests]
    assert len(asked) == 18 and not first & set(asked)  # only what was missing
    run.refresh_from_db()
    assert (run.calls, run.answered_judgments, run.cache_hits) == (20, 20, 0)


def test_a_soft_time_limit_keeps_the_calls_made_and_a_resume_asks_the_rest(
    alice, judged_val, fake_judge, settings, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    from workers.tasks import judge_result as judge_task

    settings.JUDGE_AUTO_RESUMES = 0
    settings.JUDGE_DEFAULTS = {**settings.JUDGE_DEFAULTS, "concurrency": 1}
    submission = scored_submission(alice, judged_val)
    run_id = run_of(submission).pk
    asks = 0
    should_stop = runner._AttemptBook.should_stop

    def time_runs_out_after_the_first_clip(book):
        # Celery raises SoftTimeLimitExceeded wherever the worker's main thread is; here, as it is
        # about to ask the second clip.
        nonlocal asks
        asks += 1
        if asks == 2:
            raise SoftTimeLimitExceeded()
        return should_stop(book)

    monkeypatch.setattr(runner._AttemptBook, "should_stop", time_runs_out_after_the_first_clip)
    assert judge_task(run_id) == Outcome.INCOMPLETE  # the task, in-process
    run = JudgeRun.objects.get(pk=run_id)
    assert run.status == JudgeStatus.INCOMPLETE and "took longer than the limit" in run.reason
    assert run.calls == fake_judge.calls == 2 and run.answered_judgments == 2 and run.prompt_tokens > 0

    monkeypatch.setattr(runner._AttemptBook, "should_stop", should_stop)
    fake_judge.reset()
    assert lifecycle.resume(run_id) and runner.judge_result(run_id).outcome == Outcome.COMPLETE
    run.refresh_from_db()
    assert fake_judge.calls == 18 and (run.calls, run.cache_hits) == (20, 0)


def test_an_organizer_recovers_a_run_that_gave_up_after_lost_workers(
    alice, judged_val, fake_judge, settings, monkeypatch
):
    settings.JUDGE_MAX_ATTEMPTS = 0  # the first lost worker is already too many

    class WorkerLost(BaseException):
        pass

    def die(*args, **kwargs):
        raise WorkerLost

    submission = scored_submission(alice, judged_val)
    run_id = run_of(submission).pk
    monkeypatch.setattr(runner, "run_judge", die)
    with pytest.raises(WorkerLost):
        runner.judge_result(run_id)
    monkeypatch.undo()
    # Its lease runs out; the next delivery takes over, and gives up.
    JudgeRun.objects.filter(pk=run_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert runner.judge_result(run_id).outcome == Outcome.INCOMPLETE
    run = JudgeRun.objects.get(pk=run_id)
    assert run.takeovers == 1 and "interrupted 1 times" in run.reason and fake_judge.calls == 0

    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    lifecycle.resume_by_organizer(organizer, run, "the workers are fixed")
    run.refresh_from_db()
    assert (run.status, run.takeovers, run.automatic_resumes) == (JudgeStatus.QUEUED, 0, 0)
    assert runner.judge_result(run_id).outcome == Outcome.COMPLETE
    assert fake_judge.calls == 20


def test_run_judge_stops_asking_when_its_caller_says_so(judged_val, fake_judge):
    from evaluation.judge import MemoryJudgeCache, run_judge

    references, predictions = references_and_predictions(judged_val)
    setup = judge_setup(judged_val, "en")
    config = setup.config.with_changes(concurrency=2)
    cache, judged_so_far, spent = MemoryJudgeCache(), [], []
    judged = run_judge(
        references,
        predictions,
        "en",
        config,
        templates=setup.templates,
        cache=cache,
        progress=lambda judged, total: judged_so_far.append(judged),
        should_stop=lambda: judged_so_far[-1] >= 1,
        on_accounting=spent.append,
    )
    # Two clips were in flight when the first finished and it said stop: they finished, nothing else was asked.
    assert fake_judge.calls == 4 and judged.judged_clips == 2 and not judged.complete
    assert judged.stopped_because == "stopped by the caller"
    assert {failure.reason for failure in judged.failures} == {"not asked: stopped by the caller"}
    assert len(judged.failures) == 16
    assert sum(increments.get("calls", 0) for increments in spent) == 4 == judged.accounting["calls"]

    again = run_judge(references, predictions, "en", config, templates=setup.templates, cache=cache)
    assert again.complete and fake_judge.calls == 20 and again.accounting["cache_hits"] == 4  # the answers were kept
