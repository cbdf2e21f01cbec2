"""Whether this process can do its work: its database, its broker and its file storage answer. For ``/readyz``.

One function per dependency. Each answers within about ``TIMEOUT`` seconds
(:func:`readiness` stops waiting after ``DEADLINE``) and never raises: a
failure is a ``Check`` that names the exception and what failed, with
passwords and keys taken out, since the endpoint needs no login.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.files.storage import storages as file_storages
from django.db import connection, connections

from .broker import TIMEOUT

logger = logging.getLogger(__name__)

#: Seconds :func:`readiness` waits for all checks, which run side by side. A check still
#: running then (a database connection that hangs) is reported as timed out.
DEADLINE = 3 * TIMEOUT


@dataclass(frozen=True)
class Check:
    ok: bool
    error: str = ""

    def as_data(self) -> dict:
        return {"ok": True} if self.ok else {"ok": False, "error": self.error}


OK = Check(ok=True)


def check_database() -> Check:
    """A query, on this thread's connection."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return OK
    except Exception as exc:
        return _failed("database", exc)


def check_broker() -> Check:
    """A Redis PING; for the folder broker, that its folder can be written to; else a kombu connection."""
    url = settings.CELERY_BROKER_URL
    scheme = urlsplit(url).scheme
    try:
        if scheme in ("redis", "rediss"):
            import redis

            client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
            try:
                client.ping()
            finally:
                client.close()
            return OK
        if scheme == "filesystem":
            return _writable_folder(Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        from leaderboard.celery_app import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=TIMEOUT)
        return OK
    except Exception as exc:
        return _failed("broker", exc)


def check_storage() -> Check:
    """For S3, one listing of at most one key under the prefix; on disk, that uploads can be written."""
    try:
        storage = file_storages["default"]
        if isinstance(storage, FileSystemStorage):
            return _writable_folder(Path(storage.location))
        from storages.backends.s3 import S3Storage

        if isinstance(storage, S3Storage):
            try:
                return _s3_listing(storage)
            except Exception as exc:
                return _failed("storage", exc, f"bucket {storage.bucket_name!r}")
        storage.exists("readyz")
        return OK
    except Exception as exc:
        return _failed("storage", exc)


CHECKS: dict[str, Callable[[], Check]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def readiness() -> dict:
    """``{"status": "ok" | "error", "checks": {name: {"ok": ..., "error": ...}}}``, every check run at once."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    futures = {name: pool.submit(_on_own_thread, check) for name, check in CHECKS.items()}
    wait_for(futures.values(), timeout=DEADLINE)
    # Not waiting for a check that hangs: its own timeouts end its thread later.
    pool.shutdown(wait=False, cancel_futures=True)
    checks = {
        name: future.result() if future.done() else Check(False, f"no answer within {DEADLINE:g} s")
        for name, future in futures.items()
    }
    return {
        "status": "ok" if all(check.ok for check in checks.values()) else "error",
        "checks": {name: check.as_data() for name, check in checks.items()},
    }


# -- helpers ----------------------------------------------------------------------


def _on_own_thread(check: Callable[[], Check]) -> Check:
    try:
        return check()
    finally:
        # A thread's database connection is its own: close it, or every probe leaves one open.
        connections.close_all()


def _writable_folder(folder: Path) -> Check:
    """Whether files can be written in ``folder``: it, or the folder it will be made in, is writable.

    Uploads and the folder broker make their folders when they first write, so
    a fresh install is ready before it has any.
    """
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            return Check(False, f"{folder} does not exist")
        existing = existing.parent
    if not existing.is_dir():
        return Check(False, f"{existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        return Check(False, f"{existing} is not writable")
    return OK


def _s3_listing(storage) -> Check:
    import botocore.config

    # The storage's own client waits a minute and retries; a readiness probe must answer quickly.
    config = storage.client_config.merge(
        botocore.config.Config(
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
            retries={"total_max_attempts": 1},
        )
    )
    client = storage._create_session().client(
        "s3",
        region_name=storage.region_name,
        use_ssl=storage.use_ssl,
        endpoint_url=storage.endpoint_url,
        verify=storage.verify,
        config=config,
    )
    try:
        # Listing under the prefix needs only the permissions the service needs anyway.
        client.list_objects_v2(
            Bucket=storage.bucket_name, Prefix=f"{storage.location}/" if storage.location else "", MaxKeys=1
        )
    finally:
        client.close()
    return OK


def _failed(what: str, exc: Exception, where: str = "") -> Check:
    message = _redact(f"{where + ': ' if where else ''}{type(exc).__name__}: {exc}")
    logger.warning("readiness: %s: %s", what, message)
    return Check(False, message)


_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def _redact(text: str) -> str:
    """The message without ``user:password@`` in URLs, and without any secret the settings hold."""
    text = _URL_CREDENTIALS.sub("***@", text)
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text


def _secrets() -> list[str]:
    storage_options = settings.STORAGES["default"].get("OPTIONS", {})
    values = [
        settings.SECRET_KEY,
        settings.DATABASES["default"].get("PASSWORD") or "",
        urlsplit(settings.CELERY_BROKER_URL).password or "",
        settings.EMAIL_HOST_PASSWORD,
        storage_options.get("secret_key") or os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        storage_options.get("security_token") or os.environ.get("AWS_SESSION_TOKEN", ""),
    ]
    # Longest first, so a secret containing another is removed whole.
    return sorted((value for value in values if len(value) >= 4), key=len, reverse=True)
