"""The Celery app. ``celery -A workers worker`` finds it here.

Configuration comes from Django settings (the ``CELERY_`` names), so the
environment is read in one place.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from celery import Celery
from celery.signals import celeryd_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leaderboard.settings")

app = Celery("movie101v2", include=["workers.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")


def _make_broker_folders() -> None:
    # kombu's filesystem transport expects its folders to exist.
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


if str(app.conf.broker_url).startswith("filesystem://"):
    _make_broker_folders()


_consumes_classic = True


@celeryd_init.connect
def note_queues(options=None, **_kwargs) -> None:
    """A worker only for the judge queue needs no METEOR (nor Java)."""
    global _consumes_classic
    queues = (options or {}).get("queues")
    if queues:
        names = queues.split(",") if isinstance(queues, str) else list(queues)
        _consumes_classic = any(name.strip() in ("classic", "rescore", "") for name in names)


@worker_process_init.connect
def start_meteor(**_kwargs) -> None:
    """Start this pool process's own METEOR now, so the first task need not wait.

    It must happen after the fork: a METEOR process shared by forked pool
    processes returns corrupt numbers. Popen returns at once; Java keeps
    loading in the background, well within Celery's process start-up timeout.
    """
    if not _consumes_classic:
        return
    from evaluation.errors import EvaluationError
    from evaluation.meteor import shared_meteor

    try:
        shared_meteor().start()
    except EvaluationError:
        # No Java: say so now; each run will fail with the same reason.
        logging.getLogger(__name__).exception("cannot start METEOR in this worker process")
