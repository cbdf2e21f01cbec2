"""A classic worker's pool process warms up as it starts, so its first submission is scored as fast as the next.

What ``evaluation`` keeps per reference set in a process (the tokenized references, BLEU's and CIDEr's
reference sides) and METEOR's Java process, brought up to speed, cost a submission several seconds when
they are cold. Each pool process scores the busiest reference sets of the open phases once, in a
background thread, as soon as it is forked (``scoring.warm_up``); a task that arrives meanwhile waits for
the set being warmed, not for all of them.

``WORKER_WARM_REFERENCE_SETS`` (default 2: a phase's two languages) says how many sets; 0 turns the
warm-up off. Each set costs a pool process about 100 MiB (docs/configuration.md), and ``evaluation``'s
caches must hold that many sets, or warming the second would evict the first: this module raises their
defaults to that number. It must run before anything imports ``evaluation``, which sizes them on import:
``workers/__init__.py`` imports it first.
"""

from __future__ import annotations

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


def start_warming() -> threading.Thread | None:
    """Warm this pool process in a daemon thread; None when there is nothing to do."""
    if REFERENCE_SETS <= 0:
        return None
    thread = threading.Thread(target=_warm, name="warm-up", daemon=True)
    thread.start()
    return thread


def _warm() -> None:
    from django.db import connection

    from leaderboard.submissions import scoring

    started = time.perf_counter()
    try:
        warmed = scoring.warm_up(scoring.reference_sets_to_warm(REFERENCE_SETS))
    except Exception as exc:  # a database not migrated yet, or down: the tasks will say so
        logger.warning("warm-up skipped: %s: %s", type(exc).__name__, exc)
        return
    finally:
        # The thread's own connection; the tasks use the main thread's.
        connection.close()
    logger.info("warmed up in %.1f s: %s", time.perf_counter() - started, ", ".join(warmed) or "no open reference set")
