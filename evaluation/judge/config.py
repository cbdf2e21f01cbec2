"""Where the judge is and how to ask it, read from arguments and ``JUDGE_*`` variables.

No ``openai`` import here: the service's settings read the same variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import EvaluationError

RESPONSE_FORMATS = ("auto", "json", "none")


class JudgeConfigError(EvaluationError):
    pass


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge is and how to ask it. Everything here but the key may be published."""

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    temperature: float = 0.0
    max_tokens: int = 256
    #: Seconds for one HTTP request, connection included.
    timeout: float = 60.0
    #: Requests in flight at once.
    concurrency: int = 8
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    #: Transport retries of one request (429, 5xx, timeouts, connection errors).
    max_retries: int = 6
    #: Times one judgment is asked when the answer cannot be read.
    answer_attempts: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    response_format: str = "auto"

    def __post_init__(self) -> None:
        if not self.base_url or not self.model:
            raise JudgeConfigError("a judge needs a base URL and a model")
        if not self.base_url.startswith(("http://", "https://")):
            raise JudgeConfigError(f"the judge base URL must start with http:// or https://, not {self.base_url!r}")
        if self.concurrency < 1 or self.answer_attempts < 1 or self.max_retries < 0:
            raise JudgeConfigError("concurrency and answer attempts must be at least 1, retries at least 0")
        if not 0 <= self.temperature <= 2:
            raise JudgeConfigError(f"temperature {self.temperature} is outside 0-2")
        if self.response_format not in RESPONSE_FORMATS:
            raise JudgeConfigError(f"response format {self.response_format!r}; expected one of {RESPONSE_FORMATS}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> JudgeConfig | None:
        """The judge ``JUDGE_*`` variables describe, with ``overrides`` on top; None when there is none.

        An override of None means "not given" and leaves the variable's value.
        """
        return cls.from_values(values_from_env(environ), **overrides)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], **overrides: Any) -> JudgeConfig | None:
        """A config from defaults with overrides on top; None when neither names an endpoint."""
        merged = {key: value for key, value in values.items() if value not in (None, "")}
        merged.update({key: value for key, value in overrides.items() if value not in (None, "")})
        if not merged.get("base_url") and not merged.get("model"):
            return None
        if not merged.get("base_url") or not merged.get("model"):
            missing = "base URL (JUDGE_BASE_URL)" if not merged.get("base_url") else "model (JUDGE_MODEL)"
            raise JudgeConfigError(f"a judge is half configured: its {missing} is not set")
        return cls(**merged)

    def identity(self) -> dict[str, Any]:
        """What may be shown beside the numbers: never the key."""
        return {
            "model": self.model,
            "base_url": self.base_url,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def with_changes(self, **changes: Any) -> JudgeConfig:
        return replace(self, **changes)


_ENV_FIELDS: dict[str, Callable[[str], Any]] = {
    "base_url": str,
    "model": str,
    "api_key": str,
    "temperature": float,
    "max_tokens": int,
    "timeout": float,
    "concurrency": int,
    "requests_per_minute": int,
    "tokens_per_minute": int,
    "max_retries": int,
    "answer_attempts": int,
    "response_format": str,
}


def values_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``JUDGE_*`` variables that are set, typed. A malformed value is an error, not a default."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, kind in _ENV_FIELDS.items():
        raw = environ.get(f"JUDGE_{name.upper()}", "")
        if raw != "":
            try:
                values[name] = kind(raw)
            except ValueError:
                raise JudgeConfigError(f"JUDGE_{name.upper()}={raw!r} is not a valid {kind.__name__}") from None
    return values
