"""Log lines as one JSON object each, carrying the task and submission they belong to.

``LOG_FORMAT=json`` (production) selects :class:`JsonFormatter`; ``plain`` (development) keeps
readable lines. :class:`TaskContextFilter` sits on the handler, so every record that reaches it —
the service's own, Celery's, Django's, a library's — gets the fields of the task running when it
was emitted. ``workers/celery.py`` sets them from Celery's task_prerun and task_postrun signals.

Nothing here imports Django: gunicorn's master process loads the formatter before any app code.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import Any

#: The fields of a log line that name the work it belongs to, in the order they are written.
CONTEXT_FIELDS = ("task", "task_id", "submission_id", "judge_run_id")

_task_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("task_context", default=None)
# A prefork pool process runs one task at a time, so the task it runs is also the one behind lines
# logged by threads the task started (the judge asks from a thread pool, and new threads start
# with an empty context). Only set where that holds: see ``one_task_per_process``.
_process_task: dict[str, Any] | None = None
_one_task_per_process = False


def one_task_per_process() -> None:
    """Call in a pool process that runs tasks one at a time (Celery's worker_process_init)."""
    global _one_task_per_process
    _one_task_per_process = True


def enter_task(**fields: Any) -> contextvars.Token:
    """Tag the lines logged from now on with ``fields`` (task, task_id, submission_id...), until :func:`leave_task`."""
    global _process_task
    context = {name: value for name, value in fields.items() if value is not None}
    if _one_task_per_process:
        _process_task = context
    return _task_context.set(context)


def leave_task(token: contextvars.Token | None) -> None:
    global _process_task
    _process_task = None
    if token is not None:
        _task_context.reset(token)
    else:
        _task_context.set(None)


def current_task_fields() -> dict[str, Any]:
    return _task_context.get() or (_process_task if _one_task_per_process else None) or {}


class TaskContextFilter(logging.Filter):
    """Adds the running task's fields to each record, for the formatter. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_task_fields().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, process, the task fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


LOG_FORMATS = ("plain", "json")


def formatter_config(log_format: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` entry of the formatter ``LOG_FORMAT`` names: Django's and gunicorn's."""
    if log_format == "json":
        return {"()": JsonFormatter}
    if log_format == "plain":
        return {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    raise ValueError(f"LOG_FORMAT={log_format!r} is not one of {', '.join(LOG_FORMATS)}")
