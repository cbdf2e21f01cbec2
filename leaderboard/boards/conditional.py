"""Conditional board responses: validators from a board's stored state, and 304s without a body.

A board's body (API document, CSV, LaTeX, page) is a function of the stored rows (their snapshot:
ranked again on every write that can move them), the challenge, phase and boards it names, the
board's judge and references, the viewer's view of it (moment, moderated rows, rounding), the
request's language, query and format, and (the page) who is signed in. :func:`board_etag` hashes
all of it, so a response's ETag changes whenever its body can; ``Last-Modified`` is when the rows
were last ranked. :func:`not_modified` answers If-None-Match / If-Modified-Since as Django's
``condition`` decorator does (``django.utils.cache.get_conditional_response``), before any row is
read. The same key names the document (the API) and the rendered rows (the page) a web process
keeps for ``DOCUMENT_CACHE_SECONDS`` in its local cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date
from django.utils.translation import get_language

from evaluation.intervals import BOOTSTRAP_VERSION
from evaluation.versions import PROTOCOL, __version__
from leaderboard.challenges.models import Phase, ReferenceSet

from .models import Board

#: Part of every key: raise it when the key changes form, so no old ETag can match.
VERSION = 1
#: Seconds a shared cache may keep a board that is the same for every anonymous visitor (the API's).
SHARED_MAX_AGE = 30
#: Seconds a web process keeps a board's document or rendered rows by their key (the ETag, which names
#: all they show: a write that moves the board changes it), so this only bounds the memory of old keys.
DOCUMENT_CACHE_SECONDS = 60


def _fields(obj: Model | None) -> list:
    if obj is None:
        return []
    return [[field.attname, getattr(obj, field.attname)] for field in obj._meta.concrete_fields]


def _references(phase: Phase, language: str) -> list[str]:
    """The content hashes of the phase's references in ``language``, read once per phase object."""
    known = phase.__dict__.setdefault("_board_etag_references", {})
    if language not in known:
        known[language] = sorted(
            ReferenceSet.objects.filter(phase=phase, language=language).values_list("content_hash", flat=True)
        )
    return known[language]


def board_etag(
    request: HttpRequest,
    phase: Phase,
    board: Board,
    language: str,
    state,
    *,
    kind: str,
    weak: bool = False,
    viewer: Any = None,
) -> str | None:
    """The ETag of a board response (``state``: ``selectors.board_state``), or None without stored rows.

    ``kind`` names the form (``api:json``, ``api:csv``, ``page``...); ``viewer``: anything else the
    body shows of the viewer (the page: who is signed in). ``weak`` for a body that differs in bytes
    only (a page's CSRF token).
    """
    snapshot = state.snapshot
    if snapshot is None:
        return None
    key = {
        "version": VERSION,
        "kind": kind,
        "path": request.get_full_path(),
        "board": board.pk,
        "language": language,
        "active_language": get_language(),
        "snapshot": [snapshot.pk, snapshot.moment, snapshot.inputs, snapshot.ranked_at.isoformat()],
        "objects": [_fields(phase.challenge), _fields(phase), *(_fields(other) for other in state.boards)],
        "judge": asdict(state.judge),
        "as_of": state.as_of,
        "frozen_at": state.frozen_at,
        "with_moderated": state.with_moderated,
        "moderated_team_id": state.moderated_team_id,
        "rounded": state.rounded,
        "versions": [__version__, PROTOCOL, BOOTSTRAP_VERSION],
        # The references the rows are scored against (the API's ``versions.references``).
        "references": _references(phase, language),
        "viewer": viewer,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:40]
    return f'{"W/" if weak else ""}"{digest}"'


def last_modified(state) -> datetime | None:
    """When the rows were last ranked (``BoardSnapshot.ranked_at``)."""
    return state.snapshot.ranked_at if state.snapshot is not None else None


def not_modified(request: HttpRequest, etag: str | None, modified: datetime | None) -> HttpResponse | None:
    """A 304 (or 412) when the client's copy is current, per Django's ``condition`` semantics; else None."""
    if etag is None and modified is None:
        return None
    timestamp = int(modified.timestamp()) if modified is not None else None
    return get_conditional_response(request, etag=etag, last_modified=timestamp)


def set_validators(
    response: HttpResponse,
    etag: str | None,
    modified: datetime | None,
    *,
    shared: bool,
    vary: tuple[str, ...] = (),
) -> HttpResponse:
    """The validators and caching headers of a board response (a 200 or a 304 alike).

    ``shared``: the body is the same for every anonymous visitor, so a shared cache may keep it
    briefly; otherwise only the browser keeps it, and asks again each time (it gets a 304).
    """
    if response.status_code not in (200, 304):
        return response
    if etag is not None:
        response.headers["ETag"] = etag
    if modified is not None:
        response.headers["Last-Modified"] = http_date(modified.timestamp())
    if shared:
        patch_cache_control(response, public=True, max_age=SHARED_MAX_AGE)
    else:
        patch_cache_control(response, private=True, no_cache=True)
    # The body depends on the language (LocaleMiddleware) and on who is signed in (the session cookie).
    patch_vary_headers(response, ("Accept-Language", "Cookie", *vary))
    return response
