"""The status page: queue depths from the real broker, workers, what each viewer sees, queue positions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from kombu import Connection

from leaderboard.operations import broker
from leaderboard.operations import selectors as operations
from leaderboard.submissions import intake, lifecycle
from leaderboard.submissions.models import Status, Submission
from tests.support.processes import WorkerProcess, purge_queues
from tests.support.service import api_client_for, demo_file, make_participant, make_site_organizer

needs_redis = pytest.mark.skipif(
    not django_settings.CELERY_BROKER_URL.startswith("redis"), reason="needs REDIS_URL (the broker is a folder)"
)


@pytest.fixture(autouse=True)
def fresh_snapshot():
    cache.delete(operations.CACHE_KEY)
    yield
    cache.delete(operations.CACHE_KEY)


@pytest.fixture
def organizer(db):
    return make_site_organizer(make_participant("olga"))


def submitted(user, phase, language="en") -> Submission:
    return intake.submit(user=user, phase=phase, language=language, data=demo_file(f"val-{language}.json"))


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def busy_queue(alice, bob, demo_val):
    """Alice's first submission running for 5 minutes, Bob's and Alice's second waiting."""
    running = submitted(alice, demo_val, "en")
    lifecycle.transition(running.pk, Status.SUBMITTED, Status.RUNNING, started_at=timezone.now() - timedelta(minutes=5))
    waiting_bob = submitted(bob, demo_val, "zh")
    waiting_alice = submitted(alice, demo_val, "zh")
    Submission.objects.filter(pk=waiting_bob.pk).update(created_at=timezone.now() - timedelta(minutes=7))
    return running, waiting_bob, waiting_alice


# -- queue position ------------------------------------------------------------------


def test_queue_position_counts_the_waiting_submissions_created_earlier(alice, bob, demo_val):
    first, second, third = submitted(alice, demo_val), submitted(bob, demo_val, "zh"), submitted(alice, demo_val, "zh")
    assert [operations.queue_position(s) for s in (first, second, third)] == [1, 2, 3]
    lifecycle.transition(first.pk, Status.SUBMITTED, Status.RUNNING, started_at=timezone.now())
    for s in (first, second, third):
        s.refresh_from_db()
    assert [operations.queue_position(s) for s in (first, second, third)] == [None, 1, 2]

    body = api_client_for(alice).get(f"/api/v1/submissions/{third.pk}/").json()
    assert body["queue_position"] == 2
    assert api_client_for(alice).get(f"/api/v1/submissions/{first.pk}/").json()["queue_position"] is None
    page = client_for(alice).get(f"/submissions/{third.pk}/")
    assert "Place in the queue: 2." in page.text
    assert "Place in the queue" not in client_for(alice).get(f"/submissions/{first.pk}/").text


# -- who sees what ---------------------------------------------------------------------


def test_visitors_and_participants_see_counts_only(busy_queue, alice, bob):
    running, waiting_bob, waiting_alice = busy_queue
    for user in (None, alice):
        page = client_for(user).get("/status/")
        assert page.status_code == 200
        assert '<dd id="waiting">2</dd>' in page.text and '<dd id="running">1</dd>' in page.text
        for secret in ("Team A", "Team B", "bob", f"#{running.pk}<", f"#{waiting_bob.pk}<", "Workers", "Oldest"):
            assert secret not in page.text, (user, secret)
        body = (api_client_for(user) if user else client_for()).get("/api/v1/status/").json()
        assert body["waiting"] == 2 and body["running"] == 1 and "organizer" not in body
        assert set(body) == {"queue_depths", "waiting", "running", "judging", "typical_wait_seconds", "checked_at"}
        # The running submission waited a few milliseconds before it started.
        assert body["typical_wait_seconds"] is not None


def test_organizers_see_what_runs_with_its_age_and_the_oldest_waiting(busy_queue, organizer):
    running, waiting_bob, _ = busy_queue
    page = client_for(organizer).get("/status/")
    assert page.status_code == 200
    assert f'#{running.pk}</a></td><td>Team A</td><td>demo/val</td><td>en</td><td class="num">5 min</td>' in page.text
    assert f"#{waiting_bob.pk}</a> · Team B · demo/val · zh · waiting for 7 min" in page.text
    body = api_client_for(organizer).get("/api/v1/status/").json()
    detail = body["organizer"]
    assert [item["submission_id"] for item in detail["running_submissions"]] == [running.pk]
    running.refresh_from_db()
    # Started five minutes before the fixture returned: its age then, up to the time since.
    assert (
        300 <= detail["running_submissions"][0]["age_seconds"] <= (timezone.now() - running.started_at).total_seconds()
    )
    assert detail["oldest_waiting"]["submission_id"] == waiting_bob.pk
    assert detail["oldest_waiting"]["team"] == "Team B"


def test_the_status_page_is_linked_from_every_page(db):
    assert 'href="/status/"' in client_for().get("/").text


# -- the broker ------------------------------------------------------------------------------


@needs_redis
def test_queue_depths_are_read_from_redis(transactional_db, organizer):
    from workers.tasks import judge_result, rescore_submission, score_submission

    purge_queues()
    try:
        for submission_id in (900001, 900002, 900003):
            score_submission.delay(submission_id)
        score_submission.apply_async((900004,), priority=6)  # kept in a priority list of its own
        judge_result.delay(900005)
        judge_result.delay(900006)
        rescore_submission.delay(900007, "audit-1")
        assert broker.queue_depths() == {"classic": 4, "rescore": 1, "judge": 2}
        public = client_for().get("/api/v1/status/").json()
        assert public["queue_depths"] == {"classic": 4, "rescore": 1, "judge": 2}
        page = client_for().get("/status/").text
        assert '<dd class="queue-depth" data-queue="classic">4</dd>' in page
        assert '<dd class="queue-depth" data-queue="judge">2</dd>' in page
        # A no-worker deployment is visible to organizers.
        organizer_body = api_client_for(organizer).get("/api/v1/status/").json()
        assert organizer_body["organizer"]["workers"] == []
    finally:
        purge_queues()
    assert broker.queue_depths() == {"classic": 0, "rescore": 0, "judge": 0}


def test_queue_depths_are_counted_in_the_broker_folder(tmp_path):
    folder = str(tmp_path / "queue")
    options = {"data_folder_in": folder, "data_folder_out": folder, "control_folder": str(tmp_path / "control")}
    (tmp_path / "queue").mkdir()
    # Queue names of this test's own: kombu keeps the exchanges of every in-memory
    # transport in one process-wide state, which a worker test run earlier (no
    # Redis) may have declared with the service's queue names.
    queues = ("fs-classic", "fs-rescore", "fs-judge")
    with Connection("filesystem://", transport_options=options) as connection:
        for queue, count in (("fs-classic", 3), ("fs-judge", 1)):
            simple = connection.SimpleQueue(queue)
            for number in range(count):
                simple.put({"n": number})
            simple.close()
    assert broker.queue_depths(queues, broker_url="filesystem://", transport_options=options) == {
        "fs-classic": 3,
        "fs-rescore": 0,
        "fs-judge": 1,
    }
    assert broker.filesystem_depth(tmp_path / "absent", "classic") == 0


def test_an_unreachable_broker_shows_unknown(organizer, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    page = client_for(organizer).get("/status/")
    assert page.status_code == 200
    assert (
        "unknown (the broker cannot be reached)" in page.text and "Unknown: the broker cannot be reached." in page.text
    )
    cache.delete(operations.CACHE_KEY)
    body = client_for().get("/api/v1/status/").json()
    assert body["queue_depths"] is None


def test_a_live_worker_is_listed_with_its_queues_for_organizers_only(transactional_db, tmp_path, organizer):
    worker = WorkerProcess(tmp_path / "worker.log")
    worker.start()
    try:
        workers = operations.broker_snapshot(refresh=True).workers
        [info] = [info for info in workers if info.hostname.startswith("test-classic-")]
        assert info.queues == ["classic", "rescore"] and info.active_tasks == 0
        # A visitor's page asks the broker for depths only; no inspect broadcast to the workers.
        cache.delete(operations.CACHE_KEY)
        assert info.hostname not in client_for().get("/status/").text
        assert cache.get(operations.CACHE_KEY).workers is None
        page = client_for(organizer).get("/status/").text
        assert f"<code>{info.hostname}</code>" in page
        assert info.hostname not in client_for().get("/status/").text
        # The snapshot is reused: a second page load does not ask the broker or the workers again.
        snapshot = cache.get(operations.CACHE_KEY)
        assert snapshot.workers is not None
        second = client_for(organizer).get("/status/").text
        assert f"<code>{info.hostname}</code>" in second
        assert cache.get(operations.CACHE_KEY).taken_at == snapshot.taken_at
    finally:
        worker.stop()
