"""The one way into the queue: messages sent by task name, routed by ``CELERY_TASK_ROUTES``.

The services name the tasks instead of importing them: the tasks (``workers/tasks.py``) import the
services, never the reverse. ``send_task`` applies the routes as ``delay`` does; the worker runs each
task with the time limits and options it was declared with. A message carries ids only and every
task is idempotent, so one sent twice does its work once. Callers send after the commit that made
their rows (``transaction.on_commit``), so a worker always finds them.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

SCORE_SUBMISSION = "workers.tasks.score_submission"
RESCORE_SUBMISSION = "workers.tasks.rescore_submission"
JUDGE_RESULT = "workers.tasks.judge_result"
NOTIFY_SUBMISSION = "workers.tasks.notify_submission"


def send(task: str, *args: Any, unsent: str, log: logging.Logger = logger, **options: Any) -> bool:
    """Send one message now (``options``: ``countdown``, ``expires``...); False when the broker does not take it.

    A broker outage is logged (``unsent`` says what waits or is lost, on the caller's ``log``), never
    raised: the caller's rows still say what is to be done, for the sweep (``submissions/requeue.py``).
    """
    # On first use, as before: importing the services reads no Celery settings and makes no broker folders.
    from .celery_app import app

    try:
        app.send_task(task, args, **options)
    except Exception:
        log.exception(unsent)
        return False
    return True
