"""The judge on real Celery workers: its own queue, live progress, and the full test split.

The judge is a real HTTP server on loopback in this process; the workers are
real ``celery worker`` processes on the tests' database and broker.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from leaderboard.judging.models import JudgeRun
from leaderboard.submissions.models import Result, Submission
from tests.support.data import shifted_predictions
from tests.support.judge_server import FakeJudge, Fault, expected_stage_metrics
from tests.support.judging import set_judge, wait_for_judge
from tests.support.processes import WorkerProcess, wait_for_status
from tests.support.service import api_client_for, demo_file, load_test_challenge, upload


def waiting_messages(queue: str) -> int:
    from workers.celery import app

    with app.connection_for_write() as connection:
        return connection.default_channel.queue_declare(queue=queue, passive=True).message_count


def test_the_judge_runs_on_its_own_queue_after_the_classic_scores_with_live_progress(
    celery_worker, alice, demo_val, tmp_path
):
    with FakeJudge(latency=0.3) as judge:
        set_judge(demo_val, base_url=judge.base_url, model="fake-judge-1")
        response = upload(api_client_for(alice), demo_val, "en", demo_file("val-en.json"), public="true")
        submission_id = response.json()["id"]

        # The classic worker finishes alone; the judge's work waits on the judge queue.
        submission = wait_for_status(submission_id, timeout=120)
        assert submission.status == "finished", celery_worker.output()[-2000:]
        body = api_client_for(alice).get(f"/api/v1/submissions/{submission_id}/").json()
        assert "bleu_4" in body["scores"] and "l1" not in body["scores"]
        assert body["judge"]["status"] == "queued" and body["judge"]["model"] == "fake-judge-1"
        assert waiting_messages("judge") == 1 and judge.calls == 0

        judge_worker = WorkerProcess(tmp_path / "judge.log", queues="judge", purge=False, JUDGE_CONCURRENCY="1")
        judge_worker.start()
        try:
            progress = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                state = api_client_for(alice).get(f"/api/v1/submissions/{submission_id}/").json()["judge"]
                progress.append((state["status"], state["judged_clips"]))
                if state["status"] in ("complete", "incomplete"):
                    break
                time.sleep(0.2)
        finally:
            judge_worker.stop()
        assert progress[-1] == ("complete", 10), judge_worker.output()[-3000:]
        assert any(status == "running" and 0 < clips < 10 for status, clips in progress), progress
        assert "workers.tasks.judge_result[" in judge_worker.output()
        assert "workers.tasks.judge_result[" not in celery_worker.output()

    scores = api_client_for(alice).get(f"/api/v1/submissions/{submission_id}/").json()["scores"]
    assert {"l1_environment", "l1_character", "l1", "l2", "cider"} <= set(scores)


@pytest.mark.slow
def test_the_full_test_split_through_the_api_is_judged_exactly_despite_faults_and_rescored_for_free(
    transactional_db, alice, real_test_split, tmp_path, settings
):
    references = real_test_split["en"]
    predictions = shifted_predictions(references)
    load_test_challenge({"en": references})

    first_requests: set[str] = set()
    lock = threading.Lock()
    kinds = [
        Fault(status=429, headers={"Retry-After": "1"}),
        Fault(status=500),
        Fault(text="garbage"),
        Fault(text='{"environment": 7, "character": -1, "plot": 6}'),
        Fault(hang_seconds=4),
    ]
    injected = []

    def first_attempt_faults(prompt: str, index: int) -> Fault | None:
        # Every 40th prompt fails its first request, in turn with each kind of fault.
        with lock:
            if prompt in first_requests:
                return None
            first_requests.add(prompt)
            if len(first_requests) % 40:
                return None
            injected.append(kinds[len(injected) % len(kinds)])
            return injected[-1]

    with FakeJudge() as judge:
        judge.fault_rule = first_attempt_faults
        judge_env = {
            "JUDGE_BASE_URL": judge.base_url,
            "JUDGE_MODEL": "fake-judge-1",
            "JUDGE_TIMEOUT": "2",
            "JUDGE_CONCURRENCY": "8",
        }
        settings.JUDGE_DEFAULTS = {
            "base_url": judge.base_url,
            "model": "fake-judge-1",
            "timeout": 2.0,
            "concurrency": 8,
        }
        classic = WorkerProcess(tmp_path / "classic.log", **judge_env)
        judge_worker = WorkerProcess(tmp_path / "judge.log", queues="judge", purge=False, **judge_env)
        classic.start()
        judge_worker.start()
        try:
            data = json.dumps(predictions, ensure_ascii=False).encode()
            from leaderboard.challenges.models import Phase

            phase = Phase.objects.get(challenge__slug="movie101v2", slug="test")
            response = upload(api_client_for(alice), phase, "en", data, method_name="shifted", public="true")
            assert response.status_code == 201, response.content
            submission_id = response.json()["id"]
            assert wait_for_status(submission_id, timeout=300).status == "finished", classic.output()[-3000:]
            run = wait_for_judge(submission_id, timeout=900)
            assert run.status == "complete", (run.reason, judge_worker.output()[-3000:])
            assert len(injected) >= 100 and {type(fault.status) for fault in injected}
            assert run.calls == 2 * len(references) + len(injected) and run.cache_hits == 0

            expected = expected_stage_metrics(references, predictions, "en")
            for stage in ("l1", "l2"):
                body = APIClient().get(f"/api/v1/challenges/movie101v2/phases/test/leaderboards/en/{stage}/").json()
                assert body["judge"]["model"] == "fake-judge-1"
                assert [row["submission_id"] for row in body["rows"]] == [submission_id]
                row_scores = body["rows"][0]["scores"]
                # A hidden phase: the public board shows the boards' precision (4 decimals).
                assert all(row_scores[name] == round(expected[name], 4) for name in expected if name in row_scores)
                assert row_scores[stage] == round(expected[stage], 4)
            first_result = Submission.objects.get(pk=submission_id).current_result_id
            assert {name: Result.objects.get(pk=first_result).metrics[name] for name in expected} == expected

            # A second scoring run: new result, no judge calls, the same numbers, the old result kept.
            calls_before = judge.calls
            call_command(
                "rescore",
                "--submission",
                str(submission_id),
                "--reason",
                "determinism check",
                stdout=open("/dev/null", "w"),
            )
            deadline = time.monotonic() + 600
            while Submission.objects.get(pk=submission_id).current_result_id == first_result:
                assert time.monotonic() < deadline, (classic.output()[-2000:], judge_worker.output()[-2000:])
                time.sleep(0.5)
        finally:
            classic.stop()
            judge_worker.stop()
        assert judge.calls == calls_before
    submission = Submission.objects.get(pk=submission_id)
    new_run = JudgeRun.objects.get(result_id=submission.current_result_id)
    assert (new_run.calls, new_run.cache_hits) == (0, 2 * len(references))
    assert Result.objects.get(pk=submission.current_result_id).metrics == Result.objects.get(pk=first_result).metrics
    assert Result.objects.filter(submission_id=submission_id).count() == 2
