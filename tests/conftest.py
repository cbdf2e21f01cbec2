"""Fixtures and hooks for every layer of the suite. Nothing here imports Django.

pytest loads this file for the scorer's tests too (tests/evaluation), which run without Django at
all under ``pytest tests/evaluation -p no:django``. The service's fixtures are in
tests/service/conftest.py; helpers that are not fixtures are in tests/support.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.data import movie101v2_root

# -- the real data --------------------------------------------------------------


@pytest.fixture(scope="session")
def real_data() -> Path:
    path = movie101v2_root()
    if path is None:
        pytest.skip("the real Movie101v2 annotations are not at ../shared/movie101v2 (set MOVIE101V2_DATA)")
    return path


@pytest.fixture(scope="session")
def real_test_split(real_data) -> dict[str, dict[str, str]]:
    from evaluation.movie101v2 import read_split

    return {language: read_split(real_data, "test", language) for language in ("zh", "en")}


def pytest_sessionstart(session):
    """Build the site's translations, as the image's build and run-dev do (the .mo files are never committed).

    Here, in the first conftest pytest loads, so that it runs whatever the arguments; the compiler is plain
    Python (leaderboard/catalogs.py), without Django.
    """
    from leaderboard.catalogs import compile_catalogs

    compile_catalogs(Path(__file__).resolve().parent.parent / "locale")


def pytest_report_header(config):
    lines = []
    if config.pluginmanager.hasplugin("django"):  # pytest-django has set Django up; not under -p no:django
        from django.conf import settings

        lines += [
            f"database: {settings.DATABASES['default']['ENGINE']}",
            f"broker: {settings.CELERY_BROKER_URL.split('@')[-1]}",
        ]
    root = movie101v2_root()
    return [*lines, f"real data: {root or 'absent (tests that need it are skipped)'}"]
