"""Talking to an OpenAI-compatible chat-completions endpoint, reliably.

The official ``openai`` package does the protocol; this module adds what a
benchmark needs from it: our own bounded retries with exponential backoff and
jitter that honour ``Retry-After``, JSON response format where the endpoint
accepts it, and optional request and token caps per minute shared by every
thread of a run.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import openai

from ..errors import EvaluationError
from .config import JudgeConfig

#: Statuses worth asking again: rate limited, timed out at a proxy, or a server fault.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))
#: Statuses that mean every request will fail the same way: a wrong key, model or URL.
RUN_WIDE_REFUSALS = frozenset({401, 403, 404})
#: A server asking us to wait longer than this is waited on for this long, then asked again.
MAX_RETRY_AFTER_SECONDS = 300.0


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
    """Token buckets for requests and tokens per minute, shared by a run's threads.

    Tokens are counted when the response reports them, so the cap holds over
    any minute after the first few requests.
    """

    def __init__(self, requests_per_minute: int | None, tokens_per_minute: int | None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._rpm, self._tpm = requests_per_minute or None, tokens_per_minute or None
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._requests = float(self._rpm or 0)
        self._tokens = float(self._tpm or 0)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed, self._updated = now - self._updated, now
        if self._rpm:
            self._requests = min(self._rpm, self._requests + elapsed * self._rpm / 60)
        if self._tpm:
            self._tokens = min(self._tpm, self._tokens + elapsed * self._tpm / 60)

    def acquire(self) -> None:
        if not self._rpm and not self._tpm:
            return
        while True:
            with self._lock:
                self._refill()
                wait = 0.0
                if self._rpm and self._requests < 1:
                    wait = (1 - self._requests) * 60 / self._rpm
                if self._tpm and self._tokens < 0:
                    wait = max(wait, -self._tokens * 60 / self._tpm)
                if wait == 0.0:
                    if self._rpm:
                        self._requests -= 1
                    return
            self._sleep(wait)

    def record_tokens(self, tokens: int) -> None:
        if self._tpm:
            with self._lock:
                self._refill()
                self._tokens -= tokens


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

    def complete(self, messages: list[dict[str, str]], *, want_json: bool) -> Completion:
        """Ask once, retrying transport faults. Raises TransportFailure or EndpointRefused."""
        retries = calls = 0
        while True:
            use_json = want_json and self._json_format
            self._limiter.acquire()
            calls += 1
            try:
                response = self._openai.chat.completions.create(
                    model=self.config.model,
                    messages=messages,
                    temperature=self.config.temperature,
                    max_tokens=self.config.max_tokens,
                    **({"response_format": {"type": "json_object"}} if use_json else {}),
                )
            except openai.APIStatusError as exc:
                status = exc.status_code
                if use_json and status in (400, 422) and self.config.response_format == "auto" \
                        and "response_format" in _error_text(exc):
                    # This server has no JSON mode: ask in plain text from now on.
                    self._json_format = False
                    continue
                if status in RUN_WIDE_REFUSALS:
                    raise EndpointRefused(f"the judge endpoint refused the request: HTTP {status}: "
                                          f"{_error_text(exc)[:300]}", retries=retries, calls=calls) from exc
                if status not in RETRYABLE_STATUSES:
                    # This request only (too long, filtered): asking again gives the same.
                    raise TransportFailure(f"HTTP {status}: {_error_text(exc)[:300]}", retries=retries,
                                           calls=calls) from exc
                reason, wait_hint = f"HTTP {status}", retry_after_seconds(exc.response.headers)
            except openai.APITimeoutError:
                reason, wait_hint = f"no answer within {self.config.timeout:g} s", None
            except openai.APIConnectionError as exc:
                reason, wait_hint = f"connection failed ({_cause(exc)})", None
            else:
                usage = getattr(response, "usage", None)
                prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
                completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
                self._limiter.record_tokens(prompt_tokens + completion_tokens)
                choices = getattr(response, "choices", None) or []
                text = (choices[0].message.content if choices and choices[0].message else None) or ""
                return Completion(text, prompt_tokens, completion_tokens, retries, calls)
            if retries >= self.config.max_retries:
                raise TransportFailure(f"{reason}, {retries + 1} attempts", retries=retries, calls=calls)
            retries += 1
            self._sleep(self.backoff(retries, wait_hint))


def _error_text(exc: openai.APIStatusError) -> str:
    try:
        return exc.response.text
    except Exception:  # a streamed or closed body
        return str(exc)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause else type(exc).__name__
