"""A classic worker's pool process warms up as it starts: the reference sets it picks, and the same numbers after."""

from __future__ import annotations

import multiprocessing
import re
from datetime import timedelta

from django.utils import timezone

import evaluation
from evaluation.predictions import parse_narration_file
from leaderboard.challenges.models import ReferenceSet
from leaderboard.submissions.scoring import reference_sets_to_warm, warm_up
from tests.support.processes import WorkerProcess, wait_for_status
from tests.support.service import api_client_for, demo_file, upload
from workers.warmth import TaskSlots


def names(reference_sets) -> list[str]:
    return [f"{reference_set.phase} {reference_set.language}" for reference_set in reference_sets]


def test_the_warm_up_picks_the_open_phases_reference_sets_most_recently_submitted_to(demo_val, demo_test, alice):
    # Nothing submitted yet: the later phase first (a test phase before its validation phase).
    assert demo_test.order > demo_val.order
    assert names(reference_sets_to_warm(3)) == ["demo/test en", "demo/test zh", "demo/val en"]
    assert reference_sets_to_warm(0) == []

    assert upload(api_client_for(alice), demo_val, "zh", demo_file("val-zh.json")).status_code == 201
    assert names(reference_sets_to_warm(2)) == ["demo/val zh", "demo/test en"]

    # A closed phase is never warmed, however busy it was.
    demo_val.ends_at = timezone.now() - timedelta(minutes=1)
    demo_val.save()
    assert names(reference_sets_to_warm(4)) == ["demo/test en", "demo/test zh"]


def test_a_pool_process_warms_up_as_it_starts_and_then_scores_the_same_numbers(
    transactional_db, demo_val, demo_test, alice, tmp_path
):
    worker = WorkerProcess(
        tmp_path / "worker.log", concurrency=1, WORKER_WARM_REFERENCE_SETS="2", EVALUATION_METEOR_PROCESSES="2"
    )
    worker.start()
    try:
        assert worker.wait_for_output("warmed up in", timeout=120), worker.output()[-3000:]
        warmed = re.search(r"warmed up in [0-9.]+ s: (.*)", worker.output()).group(1)
        assert warmed.strip() == "demo/test en, demo/test zh"

        # A warmed set (test zh) and a cold one (val en): each exactly what a fresh evaluation.score gives.
        for phase, language, name in ((demo_test, "zh", "test-zh.json"), (demo_val, "en", "val-en.json")):
            data = demo_file(name)
            response = upload(api_client_for(alice), phase, language, data)
            assert response.status_code == 201, response.content
            submission = wait_for_status(response.json()["id"], timeout=120)
            assert submission.status == "finished", (submission.error, worker.output()[-3000:])
            references = ReferenceSet.objects.get(phase=phase, language=language).narrations
            expected = evaluation.score(references, parse_narration_file(data, filename=name).narrations, language)
            result = submission.current_result
            assert result.metrics == expected.metrics
            assert result.per_clip == expected.per_clip
        assert "warm-up skipped" not in worker.output()
    finally:
        worker.stop()


def test_the_warm_up_asks_before_each_set(demo_val, demo_test):
    sets = reference_sets_to_warm(2)
    asked = []
    assert warm_up(sets, before_each=lambda: asked.append(True)) == ["demo/test en", "demo/test zh"]
    assert len(asked) == 2


def test_task_slots_are_shared_by_forked_processes_and_a_dead_holder_frees_its_slot():
    slots = TaskSlots(2)
    assert not slots.busy()
    context = multiprocessing.get_context("fork")

    def run_a_task(started, release):
        slots.enter()
        started.set()
        release.wait(60)
        slots.leave()

    started, release = context.Event(), context.Event()
    child = context.Process(target=run_a_task, args=(started, release))
    child.start()
    assert started.wait(60)
    assert slots.busy()  # seen from the parent: a sibling's task
    release.set()
    child.join(60)
    assert not slots.busy()

    # A process killed in its task (a hard time limit) never leaves; its slot counts as free.
    started, release = context.Event(), context.Event()
    child = context.Process(target=run_a_task, args=(started, release))
    child.start()
    assert started.wait(60)
    assert slots.busy()
    child.kill()
    child.join(60)
    assert not slots.busy()
    for _ in range(3):  # and it is reused: no slot leaks
        slots.enter()
        assert slots.busy()
        slots.leave()
    assert not slots.busy()
