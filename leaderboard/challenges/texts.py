"""Organizers' texts in two languages: the English (or only) text in a model's own field, the Chinese
one in its ``translations`` (``{"zh": {"title": "...", "description": "..."}}``).

Challenges (title, description, terms), their pages (title, body), phases (title, description) and
boards (title, description) carry them. A bundle states each of those texts as one string, used for
every language, or as ``{en: "...", zh: "..."}`` (``bundles``); ``bundle_export`` writes them back
the same way.

Every reader goes through :func:`localized` (in templates, the ``localized`` filter of the ``texts``
library): the Chinese text when the active language is Chinese and the object has one, else the
field. The API gives the field and the ``translations`` as stored, for clients to pick.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _

#: The languages a text may be given in, as a bundle names them. English is the model's own field.
TEXT_LANGUAGES = ("en", "zh")
#: The language kept in ``translations``.
TRANSLATION_LANGUAGE = "zh"


def chinese_active() -> bool:
    """Whether the active language (the request's, or an override's) is Chinese."""
    return (get_language() or "").lower().startswith("zh")


def translation(obj: Any, field: str, language: str = TRANSLATION_LANGUAGE) -> str:
    """The text of ``field`` in ``language`` kept in ``obj.translations``; empty when there is none."""
    translations = getattr(obj, "translations", None)
    if not isinstance(translations, Mapping):
        return ""
    texts = translations.get(language)
    if not isinstance(texts, Mapping):
        return ""
    text = texts.get(field)
    return text if isinstance(text, str) else ""


def localized(obj: Any, field: str) -> str:
    """``obj``'s ``field`` in the active language: the Chinese text on a Chinese page when there is one,
    else the field itself (English, or the one text given for every language)."""
    if obj is None:
        return ""
    if chinese_active():
        text = translation(obj, field)
        if text:
            return text
    value = getattr(obj, field, "")
    return "" if value is None else value


def translations_value(texts: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """What ``translations`` holds for these Chinese texts (field -> text): ``{}`` when there are none."""
    texts = {field: text for field, text in texts.items() if text}
    return {TRANSLATION_LANGUAGE: texts} if texts else {}


def translations_problems(value: Any, max_lengths: Mapping[str, int | None]) -> list[str]:
    """What is wrong with ``value`` as the ``translations`` of a model whose translated fields (and their
    maximum lengths, None for none) are ``max_lengths``; empty when it is right."""
    if value in (None, ""):
        return []
    if not isinstance(value, Mapping):
        return [_('Give an object such as {"zh": {"title": "..."}}.')]
    problems = []
    for language, texts in value.items():
        if language != TRANSLATION_LANGUAGE:
            problems.append(
                _('Unknown language "%(language)s": only "%(kept)s" is kept here.')
                % {"language": language, "kept": TRANSLATION_LANGUAGE}
            )
            continue
        if not isinstance(texts, Mapping):
            problems.append(_('"%(language)s" must be an object of field -> text.') % {"language": language})
            continue
        for field, text in texts.items():
            where = f"{language}.{field}"
            if field not in max_lengths:
                problems.append(
                    _('"%(where)s": not a translated field; use %(fields)s.')
                    % {"where": where, "fields": ", ".join(max_lengths)}
                )
            elif not isinstance(text, str):
                problems.append(_('"%(where)s" must be text.') % {"where": where})
            elif max_lengths[field] is not None and len(text) > max_lengths[field]:
                problems.append(
                    _('"%(where)s": at most %(limit)d characters (has %(length)d).')
                    % {"where": where, "limit": max_lengths[field], "length": len(text)}
                )
    return problems


def text_entry(obj: Any, field: str) -> str | dict[str, str] | None:
    """``field`` of ``obj`` as a bundle states it: one string without a Chinese text, ``{en, zh}`` with one,
    ``{zh}`` when the field holds the Chinese text itself (a bundle gave only ``zh``); None when both are empty.
    What ``bundles`` reads back to the same field and translations."""
    value = getattr(obj, field) or ""
    chinese = translation(obj, field)
    if not chinese:
        return value or None
    if value == chinese:
        return {"zh": chinese}
    return {"en": value, "zh": chinese}
