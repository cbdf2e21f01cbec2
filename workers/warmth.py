"""A classic worker's pool process warms up as it starts, so its first submission is scored as fast as the next.

What ``evaluation`` keeps per reference set in a process (the tokenized references, BLEU's and CIDEr's
reference sides) and METEOR's Java process, brought up to speed, cost a submission several seconds when
they are cold. Each pool process scores the busiest reference sets of the open phases once, in a
background thread, as soon as it is forked (``scoring.warm_up``); a task that arrives meanwhile waits for
the set being warmed, not for all of them.

The warm-up gives way to tasks. The pool processes share, through memory made before they are forked
(``TaskSlots``), which of them runs a task, and the warm-up works only while none does, so it never
takes a core from one. They also take turns to load METEOR's Java process, which takes a core for about
10 s: with a warm-up, the pool process starts it then, not as it is forked. A task that comes first
loads its own process's METEOR at once, and warms its process itself. On 2 cores, warming and loading
every pool process's METEOR beside the first task made it take 24-62 s (``bench/upload_to_finished.py``).

``WORKER_WARM_REFERENCE_SETS`` (default 2: a phase's two languages) says how many sets; 0 turns the
warm-up off. Each set costs a pool process about 100 MiB (docs/configuration.md), and ``evaluation``'s
caches must hold that many sets, or warming the second would evict the first: this module raises their
defaults to that number. It must run before anything imports ``evaluation``, which sizes them on import:
``workers/__init__.py`` imports it first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time

#: How many reference sets each classic pool process warms; read here, before ``evaluation`` is imported.
REFERENCE_SETS = int(os.environ.get("WORKER_WARM_REFERENCE_SETS", "2"))
#: The variables sizing ``evaluation``'s per-process caches of reference sets.
CACHE_SIZE_VARIABLES = ("EVALUATION_TOKEN_CACHE_SIZE", "EVALUATION_BLEU_CACHE_SIZE", "EVALUATION_CIDER_CACHE_SIZE")

for _variable in CACHE_SIZE_VARIABLES:
    # An operator's own size wins, even a smaller one.
    os.environ.setdefault(_variable, str(max(REFERENCE_SETS, 1)))

logger = logging.getLogger(__name__)

#: How often a waiting warm-up looks whether the worker's tasks are done.
IDLE_POLL_SECONDS = 0.5


class TaskSlots:
    """Which pool processes of one worker run a task now, in memory they share.

    Made in the worker's main process before the pool is forked. A slot holds the pid of a process
    running a task; a process that died in a task (a hard time limit) leaves its pid behind, and a
    slot whose process is gone counts as free.
    """

    def __init__(self, size: int):
        import multiprocessing

        self._pids = multiprocessing.Array("i", max(1, size))
        #: Held by the warm-up of the one pool process loading its METEOR.
        self.loading = multiprocessing.Lock()

    def enter(self) -> None:
        pid = os.getpid()
        with self._pids.get_lock():
            for index, holder in enumerate(self._pids):
                if holder == 0 or holder == pid or not _alive(holder):
                    self._pids[index] = pid
                    return
        # More tasks than slots (a pool grown by autoscale): this one goes uncounted.

    def leave(self) -> None:
        pid = os.getpid()
        with self._pids.get_lock():
            for index, holder in enumerate(self._pids):
                if holder == pid:
                    self._pids[index] = 0

    def busy(self) -> bool:
        with self._pids.get_lock():
            holders = [holder for holder in self._pids if holder]
        return any(_alive(holder) for holder in holders)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_slots: TaskSlots | None = None


def share_task_slots(pool_size: int) -> None:
    """In the worker's main process, before it forks the pool."""
    global _slots
    _slots = TaskSlots(pool_size)


def note_task_started() -> None:
    if _slots is not None:
        _slots.enter()


def note_task_finished() -> None:
    if _slots is not None:
        _slots.leave()


def tasks_running() -> bool:
    return _slots is not None and _slots.busy()


def wait_until_idle() -> None:
    while tasks_running():
        time.sleep(IDLE_POLL_SECONDS)


def start_warming() -> threading.Thread | None:
    """Warm this pool process in a daemon thread; None when there is nothing to do."""
    if REFERENCE_SETS <= 0:
        return None
    thread = threading.Thread(target=_warm, name="warm-up", daemon=True)
    thread.start()
    return thread


def _warm() -> None:
    from django.db import connection

    from evaluation.meteor import shared_meteor
    from leaderboard.submissions import scoring

    started = time.perf_counter()
    wait_until_idle()
    with _slots.loading if _slots is not None else contextlib.nullcontext():
        loaded = shared_meteor().wait_first_loaded()
    if not loaded:
        logger.info("warm-up skipped: METEOR did not load (the tasks report why)")
        return
    try:
        warmed = scoring.warm_up(scoring.reference_sets_to_warm(REFERENCE_SETS), before_each=wait_until_idle)
    except Exception as exc:  # a database not migrated yet, or down: the tasks will say so
        logger.warning("warm-up skipped: %s: %s", type(exc).__name__, exc)
        return
    finally:
        # The thread's own connection; the tasks use the main thread's.
        connection.close()
    logger.info("warmed up in %.1f s: %s", time.perf_counter() - started, ", ".join(warmed) or "no open reference set")
