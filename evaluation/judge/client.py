"""Talking to an OpenAI-compatible chat-completions endpoint, reliably.

The official ``openai`` package does the protocol; this module adds what a
benchmark needs from it: our own bounded retries with exponential backoff and
jitter that honour ``Retry-After``, JSON response format where the endpoint
accepts it, and optional request and token caps over any 60-second window,
shared by every thread of a run (each run, in each process, has its own caps).

The request goes through the package's raw ``post`` (its URL, headers, key, timeouts
and error classes), and the answer's JSON is read here: the typed
``chat.completions.create`` cost about 2.5 times the CPU per request, which
bounded runs with many requests in flight (issue 13).

``openai`` is imported only when a client is made (:func:`require_openai`):
the classic metrics need no judge, and a participant who installed only
pycocoevalcap scores without it.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import EvaluationError
from .config import JudgeConfig

if TYPE_CHECKING:
    import openai

#: Statuses worth asking again: rate limited, timed out at a proxy, or a server fault.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))
#: Statuses that mean every request will fail the same way: a wrong key, model or URL.
RUN_WIDE_REFUSALS = frozenset({401, 403, 404})
#: A server asking us to wait longer than this is waited on for this long, then asked again.
MAX_RETRY_AFTER_SECONDS = 300.0
#: The reason given when a 200 response cannot be read as a chat completion.
UNREADABLE_RESPONSE = "the endpoint sent an unreadable response"


class JudgeClientMissing(EvaluationError):
    """The judge was asked for, and the ``openai`` package it talks through is not installed."""


def require_openai() -> ModuleType:
    """The ``openai`` package, or an error that says what to install."""
    try:
        import openai
    except ModuleNotFoundError as exc:
        if exc.name != "openai":  # openai is there but one of its own dependencies is not
            raise JudgeClientMissing(
                f"the LLM judge needs the openai package, whose dependency {exc.name!r} is missing: "
                "pip install -r requirements-scorer.txt"
            ) from None
        raise JudgeClientMissing(
            "the LLM judge (--judge-* options or JUDGE_* variables) needs the openai package, which is "
            "not installed: pip install -r requirements-scorer.txt (it has openai at the server's version); "
            "--no-judge scores the classic metrics without it"
        ) from None
    return openai


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    #: Transport retries it took.
    retries: int
    #: HTTP requests it took, retries included.
    calls: int


class TransportFailure(EvaluationError):
    """The endpoint did not answer after every retry. The judgment is failed, not the run."""

    def __init__(self, reason: str, *, retries: int, calls: int):
        super().__init__(reason)
        self.reason, self.retries, self.calls = reason, retries, calls


class EndpointRefused(EvaluationError):
    """The endpoint refuses every request (wrong key, unknown model, bad URL): stop the run."""

    def __init__(self, reason: str, *, retries: int = 0, calls: int = 1):
        super().__init__(reason)
        self.reason, self.retries, self.calls = reason, retries, calls


class RateLimiter:
    """Request and token caps over any 60-second window, shared by one run's threads.

    A sliding-window log, not a token bucket: a bucket that starts full lets a
    minute's worth through at once and then another minute's worth as it
    refills, nearly twice the cap in the first minute. Here a request starts
    only when fewer than ``requests_per_minute`` requests started in the 60
    seconds before it, so no 60-second window ever holds more.

    Tokens are known only when a response reports them, so they are logged
    then: a request starts only while the tokens reported in the last 60
    seconds are under ``tokens_per_minute``. Requests already in flight may
    still carry a window past that cap by their own tokens.

    The caps are per instance, that is per run and process: runs in parallel,
    here or on other workers, each have the whole cap.
    """

    WINDOW_SECONDS = 60.0

    def __init__(
        self,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._rpm, self._tpm = requests_per_minute or None, tokens_per_minute or None
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        #: When each request of the window started, oldest first.
        self._starts: deque[float] = deque()
        #: (when, tokens) each response of the window reported, oldest first, and their sum.
        self._token_log: deque[tuple[float, int]] = deque()
        self._tokens_in_window = 0

    def _forget_before(self, now: float) -> None:
        horizon = now - self.WINDOW_SECONDS
        while self._starts and self._starts[0] <= horizon:
            self._starts.popleft()
        while self._token_log and self._token_log[0][0] <= horizon:
            self._tokens_in_window -= self._token_log.popleft()[1]

    def _wait_needed(self, now: float) -> float:
        """Seconds until a request may start; 0 when it may start now."""
        wait = 0.0
        if self._rpm and len(self._starts) >= self._rpm:
            # The window must lose its oldest starts until one slot is free.
            wait = self._starts[len(self._starts) - self._rpm] + self.WINDOW_SECONDS - now
        if self._tpm and self._tokens_in_window >= self._tpm:
            # Wait until enough of the oldest reports leave the window to bring it under the cap.
            remaining = self._tokens_in_window
            for when, tokens in self._token_log:
                remaining -= tokens
                if remaining < self._tpm:
                    wait = max(wait, when + self.WINDOW_SECONDS - now)
                    break
        return max(wait, 0.0)

    def acquire(self) -> None:
        """Block until a request may start, and count it as started."""
        if not self._rpm and not self._tpm:
            return
        while True:
            with self._lock:
                now = self._clock()
                self._forget_before(now)
                wait = self._wait_needed(now)
                if wait == 0.0:
                    if self._rpm:
                        self._starts.append(now)
                    return
            # A hair past the boundary: float rounding must not wake us just before it, forever.
            self._sleep(wait + 1e-6)

    def record_tokens(self, tokens: int) -> None:
        """Debit the tokens a response reported, at the time it arrived."""
        if self._tpm and tokens > 0:
            with self._lock:
                now = self._clock()
                self._forget_before(now)
                self._token_log.append((now, tokens))
                self._tokens_in_window += tokens


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """A server's ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), if any."""
    if not headers:
        return None
    # httpx headers ignore case already; a plain mapping from elsewhere may not.
    headers = {str(name).lower(): value for name, value in headers.items()}
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ChatClient:
    """One endpoint, used by every thread of a run."""

    def __init__(self, config: JudgeConfig, *, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self._sleep = sleep
        self._limiter = RateLimiter(config.requests_per_minute, config.tokens_per_minute, sleep=sleep)
        openai = require_openai()
        # The key may be empty for a local server; the package insists on one.
        self._openai = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "no-key",
            timeout=config.timeout,
            max_retries=0,
        )
        self._json_format = config.response_format != "none"
        self._random = random.Random()

    def close(self) -> None:
        self._openai.close()

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Seconds before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_SECONDS) + self._random.uniform(0, 0.1)
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** (retry - 1))
        return self._random.uniform(ceiling / 2, ceiling)

    def _body(self, messages: list[dict[str, str]], use_json: bool) -> dict[str, object]:
        """The request ``chat.completions.create`` sends for these arguments."""
        body: dict[str, object] = {
            "messages": messages,
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
        }
        if use_json:
            body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, messages: list[dict[str, str]], *, want_json: bool) -> Completion:
        """Ask once, retrying transport faults. Raises TransportFailure or EndpointRefused.

        Transport faults are retryable statuses, timeouts, connection errors and responses that
        cannot be read (a truncated body, no choices): none of them is the judge's answer.
        """
        openai = require_openai()
        retries = calls = 0
        while True:
            use_json = want_json and self._json_format
            self._limiter.acquire()
            calls += 1
            try:
                # The package's documented raw POST, read as bytes: ``chat.completions.create`` would
                # walk the messages through its type-driven transform and build pydantic models of the
                # answer, most of a request's CPU, which bounds a run with many requests in flight.
                raw = self._openai.post("/chat/completions", body=self._body(messages, use_json), cast_to=bytes)
                document = json.loads(raw)
            except openai.APIStatusError as exc:
                status = exc.status_code
                if (
                    use_json
                    and status in (400, 422)
                    and self.config.response_format == "auto"
                    and "response_format" in _error_text(exc)
                ):
                    # This server has no JSON mode: ask in plain text from now on.
                    self._json_format = False
                    continue
                if status in RUN_WIDE_REFUSALS:
                    raise EndpointRefused(
                        f"the judge endpoint refused the request: HTTP {status}: {_error_text(exc)[:300]}",
                        retries=retries,
                        calls=calls,
                    ) from exc
                if status not in RETRYABLE_STATUSES:
                    # This request only (too long, filtered): asking again gives the same.
                    raise TransportFailure(
                        f"HTTP {status}: {_error_text(exc)[:300]}", retries=retries, calls=calls
                    ) from exc
                reason, wait_hint = f"HTTP {status}", retry_after_seconds(exc.response.headers)
            except openai.APITimeoutError:
                reason, wait_hint = f"no answer within {self.config.timeout:g} s", None
            except openai.APIConnectionError as exc:
                reason, wait_hint = f"connection failed ({_cause(exc)})", None
            except (openai.APIError, ValueError) as exc:
                # A 200 whose body is cut off or is not a completion (json.JSONDecodeError is a
                # ValueError; the package may also wrap it): a broken proxy or server, worth a retry.
                reason, wait_hint = f"{UNREADABLE_RESPONSE} ({type(exc).__name__})", None
            else:
                read = _read_response(document)
                if read is not None:
                    text, prompt_tokens, completion_tokens = read
                    self._limiter.record_tokens(prompt_tokens + completion_tokens)
                    return Completion(text, prompt_tokens, completion_tokens, retries, calls)
                reason, wait_hint = f"{UNREADABLE_RESPONSE} (no choices or message)", None
            if retries >= self.config.max_retries:
                raise TransportFailure(f"{reason}, {retries + 1} attempts", retries=retries, calls=calls)
            retries += 1
            self._sleep(self.backoff(retries, wait_hint))


def _read_response(document: object) -> tuple[str, int, int] | None:
    """The answer's text and token counts; None when the response has no choice or message.

    A message whose content is empty is an answer (the parser refuses it and the judgment is
    re-asked); a response without any message is a fault of the transport (retried).
    """
    choices = document.get("choices") if isinstance(document, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):  # absent, or a bare string where an object belongs
        return None
    content = message.get("content")
    usage = document.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return (
        content if isinstance(content, str) else "",
        _token_count(usage.get("prompt_tokens")),
        _token_count(usage.get("completion_tokens")),
    )


def _token_count(value: object) -> int:
    # Servers report usage loosely (absent, null, a string); a count we cannot read counts as 0.
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _error_text(exc: openai.APIStatusError) -> str:
    try:
        return exc.response.text
    except Exception:  # a streamed or closed body
        return str(exc)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause else type(exc).__name__
