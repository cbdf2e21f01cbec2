"""What the broker and the workers say: queue depths and live workers. Reads only, quickly.

Every function answers within about a second and never raises: a broker that
cannot be reached gives ``None`` ("unknown"), not an error page.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)

#: The Celery queues the service uses (settings.CELERY_TASK_ROUTES).
QUEUES = ("classic", "rescore", "judge")
#: Seconds to wait for the broker and for workers' replies.
TIMEOUT = 1.0


def queue_depths(
    queues=QUEUES, *, broker_url: str | None = None, transport_options: dict | None = None
) -> dict[str, int] | None:
    """Messages waiting in each queue (not yet taken by a worker), or None when the broker is unreachable."""
    url = broker_url if broker_url is not None else settings.CELERY_BROKER_URL
    options = transport_options if transport_options is not None else settings.CELERY_BROKER_TRANSPORT_OPTIONS
    scheme = urlsplit(url).scheme
    try:
        if scheme in ("redis", "rediss"):
            return _redis_depths(url, options, queues)
        if scheme == "filesystem":
            return {queue: filesystem_depth(Path(options["data_folder_in"]), queue) for queue in queues}
    except Exception as exc:  # any broker trouble means "unknown", never an error page
        logger.warning("cannot read the queue depths from the broker: %s", exc)
        return None
    logger.warning("queue depths are not read from a %s broker", scheme)
    return None


def _redis_depths(url: str, options: dict, queues) -> dict[str, int]:
    """kombu's Redis transport keeps a queue as a list named after it, plus one list per priority step
    (``<queue>\\x06\\x16<priority>``) when messages carry a priority."""
    import redis
    from kombu.transport.redis import PRIORITY_STEPS, Channel

    prefix = options.get("global_keyprefix", "")
    steps = options.get("priority_steps", PRIORITY_STEPS)
    keys = {
        queue: [prefix + queue] + [f"{prefix}{queue}{Channel.sep}{step}" for step in steps if step] for queue in queues
    }
    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    try:
        with client.pipeline(transaction=False) as pipe:
            for queue_keys in keys.values():
                for key in queue_keys:
                    pipe.llen(key)
            lengths = iter(pipe.execute())
        return {queue: sum(next(lengths) for _ in queue_keys) for queue, queue_keys in keys.items()}
    finally:
        client.close()


def filesystem_depth(folder: Path, queue: str) -> int:
    """kombu's filesystem transport writes one ``<time>_<uuid>.<queue>.msg`` file per waiting message."""
    suffix = f"{queue}.msg"
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    return sum(1 for name in names if name.partition(".")[2] == suffix)


@dataclass(frozen=True)
class WorkerInfo:
    hostname: str
    queues: list[str] = field(default_factory=list)
    active_tasks: int = 0


def live_workers(timeout: float = TIMEOUT) -> list[WorkerInfo] | None:
    """The workers that answer within ``timeout``, with their queues and running tasks; None if unknown."""
    from leaderboard.celery_app import app

    try:
        # The folder broker polls for replies: poll often, or each question costs a second more.
        with app.connection_for_write(transport_options={"polling_interval": 0.05}) as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            # Every live worker answers this; who has not answered within the timeout counts as gone.
            queues = app.control.inspect(timeout=timeout, connection=connection).active_queues() or {}
            if not queues:
                return []
            # Asked by name, the answer comes as soon as all of them replied.
            active = (
                app.control.inspect(
                    destination=list(queues), limit=len(queues), timeout=timeout, connection=connection
                ).active()
                or {}
            )
    except Exception as exc:
        logger.warning("cannot ask the workers: %s", exc)
        return None
    return [
        WorkerInfo(
            hostname=hostname,
            queues=sorted(queue["name"] for queue in queues.get(hostname) or []),
            active_tasks=len(active.get(hostname) or []),
        )
        for hostname in sorted(queues)
    ]
