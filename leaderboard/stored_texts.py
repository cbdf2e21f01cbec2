"""Texts the workers store in English, shown in the reader's language.

A submission's failure (``Submission.error``) and a judge's reason (``JudgeRun.reason``) are written once,
by a worker that serves no reader, and read later in either language. They are stored in English and
translated when shown: a fixed sentence through the catalog, one with figures in it through the
template it was made from (registered here with :func:`stored_template`), so rows written before a
translation existed are shown translated too.
"""

from __future__ import annotations

import re
from functools import cache

from django.utils.translation import gettext

_TEMPLATES: list[str] = []
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def stored_template(template: str) -> str:
    """Register an English template whose fillings :func:`shown_text` translates; returns it unchanged."""
    _TEMPLATES.append(template)
    return template


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)
    # The values are figures (limits, counts): nothing a reader typed.
    return re.compile(
        "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[0-9][0-9,.]*)" for index, part in enumerate(parts))
    )


def shown_text(text: str) -> str:
    """``text``, stored in English, in the active language where the catalog has it; else as it was stored."""
    if not text:
        return ""
    translated = gettext(text)
    if translated != text:
        return translated
    for template in _TEMPLATES:
        match = _pattern(template).fullmatch(text)
        if match:
            return gettext(template) % match.groupdict()
    return text
