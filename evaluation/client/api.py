"""The service's JSON API over ``urllib.request``: token auth, multipart uploads, its errors as exceptions."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import __version__

API = "/api/v1"


def accept_language(environ: Mapping[str, str]) -> str:
    """The server's messages (refusals, a file's problems) in the terminal's language: Chinese for a zh_* locale.

    POSIX's order: LANGUAGE (a list), LC_ALL, LC_MESSAGES, LANG; MOVIE101V2_LANGUAGE (en or zh) overrides them.
    """
    chosen = environ.get("MOVIE101V2_LANGUAGE", "")
    if not chosen:
        for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
            if environ.get(name):
                chosen = environ[name].split(":")[0]
                break
    return "zh-CN, zh;q=0.9, en;q=0.5" if chosen.lower().startswith("zh") else "en"


TIMEOUT = 120


@dataclass
class ApiError(Exception):
    """The server answered an error: ``status``, and its JSON ``detail``, ``code`` and ``errors``."""

    status: int
    detail: str
    code: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    retry_after: str | None = None

    def __str__(self) -> str:
        return self.detail

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "detail": self.detail, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        if self.retry_after:
            data["retry_after"] = self.retry_after
        return data


class NetworkError(Exception):
    """The server could not be reached, or did not answer JSON."""


class Api:
    def __init__(self, server: str, token: str | None = None):
        self.server = server
        self.token = token

    def url(self, path: str) -> str:
        return self.server + API + path

    def get(self, path: str) -> Any:
        return self._send(urllib.request.Request(self.url(path), method="GET"))

    def post_multipart(self, path: str, fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes]]) -> Any:
        boundary = "movie101v2-" + secrets.token_hex(16)
        body = bytearray()
        for name, value in fields.items():
            body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            body += value.encode("utf-8") + b"\r\n"
        for name, (filename, data) in files.items():
            quoted = urllib.parse.quote(filename)
            body += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{quoted}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            body += data + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.url(path), data=bytes(body), method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> Any:
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", f"movie101v2-client/{__version__}")
        request.add_header("Accept-Language", accept_language(os.environ))
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return _json(response.read(), request.full_url)
        except urllib.error.HTTPError as exc:
            raise _api_error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetworkError(f"Cannot reach {self.server}: {reason}") from None


def _json(data: bytes, url: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise NetworkError(f"{url} did not answer JSON: is the server address right?") from None


def _api_error(exc: urllib.error.HTTPError) -> ApiError:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        body = None
    retry_after = exc.headers.get("Retry-After") if exc.headers else None
    if not isinstance(body, dict):
        return ApiError(exc.code, f"HTTP {exc.code} {exc.reason} from {exc.url}", retry_after=retry_after)
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    return ApiError(
        exc.code, str(body.get("detail") or f"HTTP {exc.code}"), str(body.get("code") or ""), errors, retry_after
    )
