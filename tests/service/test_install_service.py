"""requirements.txt alone installs everything the service runs.

A fresh virtualenv gets ``pip install -r requirements.txt`` and nothing else (no dev requirements);
from it alone, every module of the project imports, and the Procfile's release, web, worker, judge
and beat commands take a real test-split upload to the classic and both stage boards.
"""

from __future__ import annotations

import os

import pytest

from tests.support.data import ROOT
from tests.support.procfile import procfile_processes, submission_reaches_the_stage_boards
from tests.support.venvs import clean_env, fresh_venv, import_all, installed, pins

REQUIREMENTS = ROOT / "requirements.txt"


@pytest.fixture(scope="module")
def service_venv():
    return fresh_venv("service", "-r", str(REQUIREMENTS), files=(REQUIREMENTS,))


@pytest.mark.slow
def test_requirements_txt_installs_exactly_its_pins(service_venv):
    # Every package comes from a pinned line: nothing is pulled in at whatever version is newest.
    assert installed(service_venv) == pins(REQUIREMENTS)


@pytest.mark.slow
def test_every_project_module_imports_from_requirements_txt_alone(service_venv):
    # Every module, and every module their functions import (when a task, a command or a page
    # runs), under the production settings as the image sets them (JSON logs, uploads in a bucket),
    # with every class the settings name by a dotted path and the broker's transport. No
    # connection is made.
    env = clean_env(
        service_venv / "bin",
        {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "leaderboard.settings",
            "DEBUG": "0",
            "SECRET_KEY": "import-check-" + "x" * 40,
            "LOG_FORMAT": "json",
            "AWS_STORAGE_BUCKET_NAME": "import-check",
        },
    )
    completed = import_all(
        service_venv / "bin", "leaderboard", "workers", "evaluation", django=True, lazy=True, env=env
    )
    assert completed.returncode == 0, completed.stderr[-6000:]
    imported = set(completed.stdout.splitlines())
    assert {
        "ok workers.tasks",
        "ok leaderboard.wsgi",
        "ok leaderboard.operations.broker",
        "ok evaluation.judge.client",
        "ok storages.backends.s3.S3Storage",
        "ok kombu.transport.redis",
        "ok openai",
    } <= imported, completed.stdout


@pytest.mark.slow
def test_the_procfile_runs_from_requirements_txt_alone(
    service_venv, transactional_db, tmp_path, fake_judge, s3, alice, real_test_split
):
    # Uploads go to a bucket, as in production, so the S3 client libraries run too.
    with procfile_processes(service_venv / "bin", tmp_path, fake_judge, env=s3.env) as running:
        submission_reaches_the_stage_boards(running, fake_judge, alice, real_test_split["en"], "en")
    # The upload as sent, and beside it its parsed form, which the worker and the judge read.
    (upload, parsed) = sorted(s3.keys("leaderboard/submissions/"))
    assert parsed == upload.removesuffix(".json") + ".parsed.json"
