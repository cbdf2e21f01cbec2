"""The staged metrics L1 and L2: an LLM judge behind any OpenAI-compatible endpoint.

:func:`run_judge` asks the judge about every clip of a split, once per stage,
through a cache, and aggregates the answers into ``l1_environment``,
``l1_character``, ``l1`` and ``l2``.
"""

from .cache import CacheEntry, JudgeCache, MemoryJudgeCache, SqliteJudgeCache, cache_key
from .client import ChatClient, JudgeClientMissing, require_openai
from .config import JudgeConfig, JudgeConfigError, values_from_env
from .parsing import PARSERS, STAGE_KEYS, AnswerError, parse_answer
from .prompts import BUILTIN, STAGES, Template, TemplateError, templates_for, templates_from_data
from .protocol import JUDGE_PROTOCOL
from .runner import JudgeIdentity, JudgeResult, JudgmentFailure, aggregate, judge_identity, run_judge

__all__ = [
    "BUILTIN",
    "JUDGE_PROTOCOL",
    "PARSERS",
    "STAGES",
    "STAGE_KEYS",
    "AnswerError",
    "CacheEntry",
    "ChatClient",
    "JudgeCache",
    "JudgeClientMissing",
    "JudgeConfig",
    "JudgeConfigError",
    "JudgeIdentity",
    "JudgeResult",
    "JudgmentFailure",
    "MemoryJudgeCache",
    "SqliteJudgeCache",
    "Template",
    "TemplateError",
    "aggregate",
    "values_from_env",
    "cache_key",
    "judge_identity",
    "parse_answer",
    "require_openai",
    "run_judge",
    "templates_for",
    "templates_from_data",
]
