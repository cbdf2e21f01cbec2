"""The service's Celery app: its configuration, without its tasks.

The web process sends to it (``leaderboard.queueing``) and asks it about the workers (the status
page, ``/readyz``) without importing the tasks, which import the services: ``workers/celery.py``
adds the tasks and the worker's signal receivers to this same app, and ``celery -A workers`` finds
it there. Configuration comes from Django settings (the ``CELERY_`` names), so the environment is
read in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

# A process started as ``celery -A workers`` has not chosen Django's settings yet.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leaderboard.settings")

app = Celery("movie101v2")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _make_broker_folders() -> None:
    # kombu's filesystem transport expects its folders to exist, in the processes that send as in the workers.
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


if str(app.conf.broker_url).startswith("filesystem://"):
    _make_broker_folders()
