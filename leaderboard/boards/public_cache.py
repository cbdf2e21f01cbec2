"""Whole board responses for anonymous visitors, kept in memory and served without a query.

Every anonymous visitor (no session cookie, no Authorization header, no pending message) sees the
same public board for one path, language and format, so a web process keeps the response it built
(body and validators) and serves it again without reading the database. Computing the validators
alone (``conditional.board_etag``) takes half a dozen queries; this path takes none.

What keeps it right:

* **The boards generation**, a token in the shared ``boards`` cache (Redis when there is one, a
  folder under VAR_DIR otherwise, so every web and worker process on the machine sees it). Every
  write that can change a board replaces it: ``services.refresh_boards`` (each write that moves
  rows), and saves and deletes of what a board shows without a ranking (challenge, phase, boards,
  baselines, references, judge settings, teams; see :func:`connect_signals`). It is replaced when
  the write is made and again when it commits, so a response built from the state before the
  commit is never filed under the generation after it. An entry is served only under the
  generation it was built in.
* **Time**: an entry is not served past the first moment the board changes by itself (the phase's
  start, end, public-from or freeze date) nor past ``MAX_AGE_SECONDS`` (a bound, should a bump ever
  be lost: the shared cache down while a write committed).
* **Transactions**: nothing is kept or served while the database connection is in a transaction
  (what it reads may be its own uncommitted writes; a test's rolled-back data).
* When the shared cache does not answer, requests take the ordinary path.

The key holds everything else the body depends on: the host and scheme, the path with its query,
the active language (cookie or Accept-Language) and the form (API JSON, CSV, LaTeX; the page). The
page's CSRF token is per visitor: it is kept as a placeholder and filled in on each response.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.translation import get_language

logger = logging.getLogger(__name__)

#: The cache alias every process shares (settings.CACHES).
CACHE_ALIAS = "boards"
GENERATION_KEY = "boards:generation"
#: Bounds how long an entry may outlive a lost generation bump (the shared cache down at a commit, up at
#: the next read: rare, and logged). Not shorter: each expiry rebuilds the board in every process (a page
#: takes a few hundred ms, which the process's other threads wait out).
MAX_AGE_SECONDS = 300
#: Entries a process keeps (least recently used dropped first): paths with odd queries cannot grow it.
MAX_ENTRIES = 256
#: Headers a built response carries that belong to the board, not to the request.
KEPT_HEADERS = ("Content-Type", "Content-Disposition", "ETag", "Last-Modified", "Cache-Control", "Vary")

_CSRF_INPUT = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')
_CSRF_PLACEHOLDER = b"\x00csrf-token\x00"


@dataclass(frozen=True)
class Entry:
    generation: str
    expires: float
    #: None: the validators only (the view answered a 304), enough to answer the next 304.
    content: bytes | None
    headers: tuple[tuple[str, str], ...]
    etag: str | None
    last_modified: int | None
    fills_csrf_token: bool


class _Entries:
    """A small thread-safe LRU (gunicorn's threads share it); values are served as they are, never pickled."""

    def __init__(self, size: int):
        self._size = size
        self._items: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Entry | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        with self._lock:
            self._items[key] = entry
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_entries = _Entries(MAX_ENTRIES)


# -- the generation ---------------------------------------------------------------------------------


def _new_generation() -> None:
    try:
        caches[CACHE_ALIAS].set(GENERATION_KEY, uuid.uuid4().hex, None)
    except Exception:  # the shared cache down: entries then end by MAX_AGE_SECONDS
        logger.warning("the boards generation could not be replaced", exc_info=True)


def boards_changed() -> None:
    """Call in any write that can change what a board shows: no response built before it is served again."""
    _new_generation()
    transaction.on_commit(_new_generation)


def current_generation() -> str | None:
    """The shared generation (made if none is stored), or None when the shared cache does not answer."""
    try:
        cache = caches[CACHE_ALIAS]
        value = cache.get(GENERATION_KEY)
        if value is None:
            cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
            value = cache.get(GENERATION_KEY)
        return value
    except Exception:
        logger.warning("the boards generation could not be read", exc_info=True)
        return None


def _changed_by_signal(sender, **kwargs) -> None:
    boards_changed()


def connect_signals() -> None:
    """Saves and deletes of what a board shows without ranking its rows again (``BoardsConfig.ready``).

    Rows themselves (``BoardEntry``, ``BoardSnapshot``) change only in ``services.refresh_boards``,
    which bumps the generation itself (and whose bulk writes send no signals).
    """
    from leaderboard.challenges.models import Challenge, ChallengePage, JudgeSettings, Phase, ReferenceSet
    from leaderboard.judging.models import JudgeRun
    from leaderboard.teams.models import Team

    from .models import Baseline, Board

    for model in (Challenge, ChallengePage, Phase, JudgeSettings, ReferenceSet, Board, Baseline, Team, JudgeRun):
        for signal in (post_save, post_delete):
            signal.connect(_changed_by_signal, sender=model, dispatch_uid=f"boards-generation-{model.__name__}")


def clear() -> None:
    """Forget this process's entries (tests)."""
    _entries.clear()


# -- serving ------------------------------------------------------------------------------------------


def is_anonymous(request: HttpRequest) -> bool:
    """Whether the request is a visitor's who sees the public board: nothing names a user or a message.

    Decided from the request alone (no session read): a session cookie, even of a signed-out visitor,
    takes the ordinary path.
    """
    cookies = request.COOKIES
    return (
        settings.SESSION_COOKIE_NAME not in cookies
        and CookieStorage.cookie_name not in cookies
        and "HTTP_AUTHORIZATION" not in request.META
    )


def _key(request: HttpRequest, form: str) -> tuple:
    return (form, request.get_host(), request.is_secure(), request.get_full_path(), get_language())


def _usable(request: HttpRequest) -> bool:
    return request.method in ("GET", "HEAD") and is_anonymous(request) and not connection.in_atomic_block


def cached_response(request: HttpRequest, form: str) -> HttpResponse | None:
    """The kept response for this anonymous request (a 304 when the client's copy matches), or None.

    ``form``: what the URL answers beyond its path (``api:json``, ``api:csv``..., ``page``).
    On None the view builds the response and hands it to :func:`keep`.
    """
    if not _usable(request):
        return None
    generation = current_generation()
    if generation is None:
        return None
    request._board_cache = (_key(request, form), generation)  # for keep()
    entry = _entries.get(request._board_cache[0])
    if entry is None or entry.generation != generation or time.time() >= entry.expires:
        return None
    unchanged = get_conditional_response(request, etag=entry.etag, last_modified=entry.last_modified)
    if unchanged is not None:
        response = unchanged
    elif entry.content is None:
        return None
    else:
        content = entry.content
        if entry.fills_csrf_token:
            content = content.replace(_CSRF_PLACEHOLDER, get_token(request).encode())
        response = HttpResponse(content)
    for name, value in entry.headers:
        if unchanged is None or name not in ("Content-Type", "Content-Disposition"):
            response.headers[name] = value
    return response


def keep(request: HttpRequest, response: HttpResponse, *, changes_at: list[datetime | None]) -> None:
    """Keep ``response`` (built for the request :func:`cached_response` found nothing for) if it may be.

    ``changes_at``: the moments the board changes by itself (the phase's dates); the entry ends at the
    first one still to come. A page's CSRF token is filled in per response.
    """
    found = getattr(request, "_board_cache", None)
    if found is None or response.status_code not in (200, 304) or not _usable(request) or response.streaming:
        return
    key, generation = found
    now = timezone.now()
    expires = time.time() + MAX_AGE_SECONDS
    upcoming = [moment for moment in changes_at if moment is not None and moment > now]
    if upcoming:
        expires = min(expires, min(upcoming).timestamp())
    content = bytes(response.content) if response.status_code == 200 else None
    fills = content is not None and b"csrfmiddlewaretoken" in content
    if fills:
        content = _CSRF_INPUT.sub(rb"\1" + _CSRF_PLACEHOLDER + rb"\2", content)
    etag = response.headers.get("ETag")
    modified = response.headers.get("Last-Modified")
    _entries.put(
        key,
        Entry(
            generation=generation,
            expires=expires,
            content=content,
            headers=tuple((name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers),
            etag=etag,
            last_modified=_parse_http_date(modified),
            fills_csrf_token=fills,
        ),
    )


def keep_after_render(request: HttpRequest, response, *, changes_at: list[datetime | None]) -> None:
    """:func:`keep` once a lazily rendered response (DRF's ``Response``) has its bytes."""
    if getattr(request, "_board_cache", None) is None:
        return
    keeper: Callable = lambda rendered: keep(request, rendered, changes_at=changes_at)  # noqa: E731
    response.add_post_render_callback(keeper)


def _parse_http_date(value: str | None) -> int | None:
    from django.utils.http import parse_http_date_safe

    return parse_http_date_safe(value) if value else None


def phase_dates(phase) -> list[datetime | None]:
    """The moments a phase's boards change with time alone: its window, public-from and freeze dates."""
    return [phase.starts_at, phase.ends_at, phase.boards_public_from, phase.frozen_at]
