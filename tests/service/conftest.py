"""The service's fixtures: challenges, people, the loopback judge and S3, and real worker processes.

Django is set up by pytest-django (``DJANGO_SETTINGS_MODULE`` in pyproject.toml) before this file is
imported. Helpers that are not fixtures are in tests/support (``service``, ``processes``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.judging import set_judge
from tests.support.processes import WorkerProcess
from tests.support.service import make_participant


@pytest.fixture(autouse=True)
def site_language():
    """Each test starts in the site's default language: a request in Chinese leaves its language active in
    the thread (LocaleMiddleware activates it and nothing deactivates it), which a later test would inherit."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


#: Fixtures that give a test the database.
DATABASE_FIXTURES = ("db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback")


@pytest.fixture(autouse=True)
def boards_stay_true(request):
    """After every test that used the database, the stored board rows equal a ranking from scratch.

    The boards are ranked on write (``leaderboard.boards.services``): a write path that forgets to
    refresh them shows up here, in whichever test takes it. A test that changes data by hand,
    as an operator with SQL would, runs ``refresh_boards`` afterwards, as the operator would.
    """
    uses_database = request.node.get_closest_marker("django_db") or any(
        name in request.fixturenames for name in DATABASE_FIXTURES
    )
    if not uses_database:
        yield
        return
    # Set the database up now, so that it is torn down after the check below.
    request.getfixturevalue("_django_db_helper")
    yield
    from tests.support.boards import stale_boards

    stale = stale_boards()
    assert not stale, "boards not refreshed after a write:\n" + "\n".join(stale)


@pytest.fixture
def fake_judge():
    """The tests' loopback chat-completions server (tests/support/judge_server.py)."""
    from tests.support.judge_server import FakeJudge

    with FakeJudge() as judge:
        yield judge


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3 server on a loopback port (tests/support/s3_server.py), for the whole run."""
    from tests.support.s3_server import MotoS3Server

    server = MotoS3Server(tmp_path_factory.mktemp("s3") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server, settings, monkeypatch, tmp_path):
    """This test's files go to a fresh private bucket, configured from the AWS_* variables as in production.

    ``s3.env`` holds those variables, for the processes the test starts. MEDIA_ROOT
    points at an empty folder, so a test can check that nothing was written to disk.
    """
    from leaderboard.settings import default_storage_from
    from tests.support.s3_server import S3Site

    bucket, location = s3_server.create_bucket(), "leaderboard"
    site = S3Site(
        server=s3_server, bucket=bucket, location=location, env=s3_server.service_env(bucket, location=location)
    )
    # Credentials reach the storage the way they do in production: from the environment.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, site.env[name])
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_S3_SESSION_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    settings.MEDIA_ROOT = tmp_path / "media"
    # Django's setting_changed handler drops the storages built so far, so the next use builds this one.
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_from(site.env)}
    return site


@pytest.fixture
def demo_challenge(db):
    from django.core.management import call_command

    call_command("load_demo", "--no-user", stdout=open(os.devnull, "w"))
    from leaderboard.boards.models import Baseline
    from leaderboard.boards.services import refresh_boards
    from leaderboard.challenges.models import Challenge

    challenge = Challenge.objects.get(slug="demo")
    # The demo bundle's invented baseline rows (tests/service/test_demo_board.py checks them) would sit
    # among the rows these tests rank and count: the fixture's boards hold the tests' own entries only.
    Baseline.objects.filter(phase__challenge=challenge).delete()
    for phase in challenge.phases.all():
        refresh_boards(phase)
    return challenge


@pytest.fixture
def demo_val(demo_challenge):
    return demo_challenge.phases.get(slug="val")


@pytest.fixture
def demo_test(demo_challenge):
    return demo_challenge.phases.get(slug="test")


@pytest.fixture
def alice(db):
    return make_participant("alice", "Team A")


@pytest.fixture
def bob(db):
    return make_participant("bob", "Team B")


@pytest.fixture
def judged_val(demo_val, fake_judge, settings):
    settings.JUDGE_DEFAULTS = {"backoff_base": 0.01, "concurrency": 4}
    set_judge(demo_val, base_url=fake_judge.base_url, model="fake-judge-1")
    return demo_val


# -- real processes -----------------------------------------------------------------


@pytest.fixture
def celery_worker(transactional_db, tmp_path) -> Iterator[WorkerProcess]:
    """A real ``celery worker`` process on the test database and broker."""
    worker = WorkerProcess(tmp_path / "worker.log")
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
