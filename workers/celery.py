"""The Celery worker's side of the app: its tasks and its signal receivers. ``celery -A workers worker`` finds it here.

The app itself, and its configuration from Django settings, is ``leaderboard.celery_app``: the web
process sends to it by task name (``leaderboard.queueing``) without importing this package.
"""

from __future__ import annotations

import inspect
import logging
import os

from celery.signals import (
    celeryd_after_setup,
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_init,
)

from leaderboard import logging as service_logging
from leaderboard import queueing
from leaderboard.celery_app import app

from . import warmth

# A worker imports them as it starts; a process that only sends never does.
app.conf.include = ["workers.tasks"]


_consumes_classic = True


@celeryd_init.connect
def note_queues(instance=None, options=None, **_kwargs) -> None:
    """A worker only for the judge queue needs no METEOR (nor Java)."""
    global _consumes_classic
    from django.conf import settings

    if instance is not None and settings.LOG_FORMAT == "json":
        # The start-up banner is printed, not logged: JSON logs are only log lines.
        instance.quiet = True
    # Before the pool is forked: its processes share which of them run a task (warmth.TaskSlots).
    warmth.share_task_slots(int((options or {}).get("concurrency") or os.cpu_count() or 1))
    queues = (options or {}).get("queues")
    if queues:
        names = queues.split(",") if isinstance(queues, str) else list(queues)
        _consumes_classic = any(name.strip() in ("classic", "rescore", "") for name in names)


@worker_process_init.connect
def start_meteor(**_kwargs) -> None:
    """Start this pool process's own METEOR, now or in its warm-up (``warmth``), so the first task need not wait.

    It must happen after the fork: a METEOR process shared by forked pool
    processes returns corrupt numbers. Popen returns at once; Java keeps
    loading in the background, well within Celery's process start-up timeout.
    With a warm-up, the pool processes load theirs one at a time, while no task runs.
    """
    service_logging.one_task_per_process()
    if not _consumes_classic:
        return
    from evaluation.errors import EvaluationError
    from evaluation.java import java_executable
    from evaluation.meteor import shared_meteor

    try:
        java_executable()
        if warmth.start_warming() is None:
            shared_meteor().start()
    except EvaluationError:
        # No Java: say so now; each run will fail with the same reason.
        logging.getLogger(__name__).exception("cannot start METEOR in this worker process")


#: The tasks that score: one that comes before its process's warm-up has loaded METEOR loads it at once.
_SCORING_TASKS = frozenset({queueing.SCORE_SUBMISSION, queueing.RESCORE_SUBMISSION})


def _load_meteor_now() -> None:
    from evaluation.errors import EvaluationError
    from evaluation.meteor import shared_meteor

    meteor = shared_meteor()
    if meteor.pid is None:  # not started yet; start() would wait for a warm-up call under way
        try:
            meteor.start()
        except EvaluationError:
            pass  # the task reports it


# -- logging ------------------------------------------------------------------------


@setup_logging.connect
def use_django_logging(loglevel=None, **_kwargs) -> None:
    """Log through Django's LOGGING (settings.py), not Celery's own handlers and format.

    Connected, this receiver makes Celery configure no logging at all: no handler of its own on the
    root, ``celery.task`` or multiprocessing loggers, and every line — ``celery.worker``,
    ``celery.app.trace``, ours — goes through the one root handler. The worker's ``--loglevel`` still
    sets the level, as Celery would.
    """
    from django.conf import settings
    from django.utils.log import configure_logging

    # django.setup() configured it already in a worker and in beat; other commands may not call it.
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@celeryd_after_setup.connect
def redirect_prints(instance=None, **_kwargs) -> None:
    """What the worker prints (the console email backend, a library's print) becomes log lines, as
    Celery does when it configures logging itself (``worker_redirect_stdouts``)."""
    if instance is not None and instance.redirect_stdouts:
        instance.app.log.redirect_stdouts(instance.redirect_stdouts_level)


#: The tasks' parameters that name a submission or a judge run, and the log field each fills.
_ID_PARAMETERS = {"submission_id": "submission_id", "run_id": "judge_run_id"}
_tokens: dict[str, object] = {}


@task_prerun.connect
def enter_task(task_id=None, task=None, args=(), kwargs=None, **_kwargs) -> None:
    """Tag every line logged while a task runs with the task and the submission it works on."""
    warmth.note_task_started()
    if _consumes_classic and task.name in _SCORING_TASKS:
        _load_meteor_now()
    fields = {"task": task.name, "task_id": task_id}
    try:
        bound = inspect.signature(task.run).bind_partial(*args, **(kwargs or {})).arguments
    except TypeError:  # called with arguments that do not fit: Celery reports it
        bound = {}
    for parameter, name in _ID_PARAMETERS.items():
        if parameter in bound:
            fields[name] = bound[parameter]
    if "judge_run_id" in fields:
        fields["submission_id"] = _submission_of_judge_run(fields["judge_run_id"])
    _tokens[task_id] = service_logging.enter_task(**fields)


@task_postrun.connect
def leave_task(task_id=None, **_kwargs) -> None:
    warmth.note_task_finished()
    service_logging.leave_task(_tokens.pop(task_id, None))


def _submission_of_judge_run(run_id) -> int | None:
    from leaderboard.judging.models import JudgeRun

    # One primary-key lookup before a run of minutes.
    return JudgeRun.objects.filter(pk=run_id).values_list("submission_id", flat=True).first()
