"""Which judge a phase uses for a language: its judge settings over the ``JUDGE_*`` defaults.

``judge_setup`` is the one answer for every entry point (starting a run, each attempt, the
boards' published judge), with the key policy: a phase names the variable holding its key
(``JUDGE_API_KEY`` or ``JUDGE_API_KEY_<SUFFIX>``), and the default key goes only to the origin
of ``JUDGE_BASE_URL``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_noop

from evaluation.judge import (
    JudgeConfig,
    JudgeConfigError,
    JudgeIdentity,
    Template,
    TemplateError,
    templates_for,
    templates_from_data,
)
from leaderboard.challenges.models import JUDGE_API_KEY_ENV_HELP, Phase, is_judge_api_key_env
from leaderboard.challenges.selectors import judge_settings_of
from leaderboard.stored_texts import shown_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JudgeSetup:
    """The judge a phase uses for a language, or why it has none."""

    config: JudgeConfig | None
    templates: dict[str, Template] = field(default_factory=dict)
    reason: str = ""
    #: Which variable the key came from (never the key), or why none is sent: organizers only.
    key_source: str = ""
    #: The default JUDGE_API_KEY was withheld from the phase's endpoint (another origin).
    key_withheld: bool = False

    @cached_property
    def identity(self) -> JudgeIdentity | None:
        """What the boards publish: model, temperature, template hashes, parsers, signature."""
        if self.config is None:
            return None
        return JudgeIdentity.of(self.config.model, self.config.temperature, self.templates)

    def run_identity(self) -> dict[str, Any]:
        """What a judge run stores: the identity, and for organizers the endpoint and where its key came from."""
        return {**self.identity.as_dict(), "base_url": self.config.base_url, "key_source": self.key_source}


# The reasons are kept in English (a judge run stores them): whoever shows one translates it, with translated_reason.
NOT_CONFIGURED = gettext_noop(
    "No LLM judge is configured for this phase, so L1 and L2 are not computed; the classic metrics are final."
)

MISCONFIGURED = gettext_noop(
    "The LLM judge of this phase is misconfigured, so L1 and L2 are not computed yet; the organizers have been told."
)

TURNED_OFF = gettext_noop(
    "The organizers turned the LLM judge off for this phase: L1 and L2 are not computed; the classic metrics are final."
)


def translated_reason(reason: str) -> str:
    """A judge's reason (``JudgeSetup.reason``, ``JudgeRun.reason``) in the active language, where the catalog has it.

    The reasons above are translated; others (with figures in them) are shown as they were written.
    """
    return shown_text(reason)


def judge_setup(phase: Phase, language: str) -> JudgeSetup:
    """The phase's judge settings over the ``JUDGE_*`` defaults, for every entry point."""
    judge = judge_settings_of(phase)
    if not judge.enabled:
        return JudgeSetup(None, reason=TURNED_OFF)
    values = dict(settings.JUDGE_DEFAULTS)
    key_withheld = False
    if judge.api_key_env:
        if not is_judge_api_key_env(judge.api_key_env):
            # Stored before names were checked: reading it could send any worker secret to the endpoint.
            logger.error(
                "phase %s: judge api_key_env %r is refused: only %s",
                phase,
                judge.api_key_env,
                JUDGE_API_KEY_ENV_HELP,
            )
            return JudgeSetup(None, reason=MISCONFIGURED)
        values["api_key"] = os.environ.get(judge.api_key_env, "")
        key_source = judge.api_key_env
    elif judge.base_url and not _same_origin(judge.base_url, values.get("base_url")):
        # The default key belongs to JUDGE_BASE_URL's server; a phase pointing elsewhere names its own.
        values["api_key"] = ""
        key_withheld = True
        key_source = (
            "none: JUDGE_API_KEY is only sent to the origin of JUDGE_BASE_URL, and this phase names no key variable"
        )
    else:
        key_source = "JUDGE_API_KEY"
    try:
        config = JudgeConfig.from_values(
            values,
            base_url=judge.base_url or None,
            model=judge.model or None,
            temperature=judge.temperature,
            max_tokens=judge.max_tokens,
        )
        templates = templates_for(language, templates_from_data(judge.templates))
    except (JudgeConfigError, TemplateError) as exc:
        logger.error("phase %s: the judge is misconfigured: %s", phase, exc)
        return JudgeSetup(None, reason=MISCONFIGURED)
    if config is None:
        return JudgeSetup(None, reason=NOT_CONFIGURED)
    return JudgeSetup(config, templates, key_source=key_source, key_withheld=key_withheld)


def _origin(url: str | None) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL, the port made explicit; None if there is no URL or it is malformed."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or {"http": 80, "https": 443}.get(scheme)


def _same_origin(url: str, other: str | None) -> bool:
    origin = _origin(url)
    return origin is not None and origin == _origin(other)
