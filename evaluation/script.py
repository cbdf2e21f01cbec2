"""Which script a file's narrations are written in: Chinese characters or Latin letters.

A Chinese file uploaded as English (or the other way round) is valid JSON with the right clip ids,
and would be scored at about zero, using one of the day's submissions. The validator measures the
share of Han characters among the letters of all narrations and refuses such a file unless the
participant confirms the language (:func:`language_mismatch`), in a message the service can translate
(:func:`language_mismatch_phrase`, :mod:`evaluation.wording`). No Django here.

Only Han characters and Latin letters count as letters: digits, punctuation, the brackets around
names, emoji and other scripts say nothing about zh against en. Real zh narrations are Chinese with
a few Latin letters at most; real en narrations (translated from the Chinese) are Latin with no Han.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .wording import Param, Phrase, gettext_noop, phrase

#: The chosen language is "en" but more than this share of the letters are Chinese characters.
MAX_HAN_SHARE_EN = 0.5
#: The chosen language is "zh" but fewer than this share of the letters are Chinese characters.
MIN_HAN_SHARE_ZH = 0.1
#: A file chosen as "zh" is judged only with this many letters: a few short English words in a
#: mostly empty or placeholder file say too little (200 letters are about 40 English words).
MIN_LETTERS_ZH = 200
#: A file chosen as "en" is judged only with this many Chinese characters. A Chinese character
#: carries about as much as a word, so 50 are about as much text as 200 letters of English.
MIN_HAN_EN = 50

# Han characters: CJK Unified Ideographs, Extension A, the compatibility ideographs and the
# supplementary planes' extensions (B onwards, and the compatibility supplement).
_NOT_HAN = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]+")
# Latin letters: ASCII, Latin-1 (without × and ÷), Latin Extended-A and -B, Latin Extended Additional.
_NOT_LATIN = re.compile(r"[^A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]+")


@dataclass(frozen=True)
class ScriptCount:
    han: int
    latin: int

    @property
    def letters(self) -> int:
        return self.han + self.latin

    @property
    def han_share(self) -> float:
        return self.han / self.letters if self.letters else 0.0


def count_script(narrations: Iterable[str]) -> ScriptCount:
    """The Han characters and Latin letters of all ``narrations``, in linear time and little memory."""
    han = latin = 0
    for text in narrations:
        han += len(_NOT_HAN.sub("", text))
        latin += len(_NOT_LATIN.sub("", text))
    return ScriptCount(han, latin)


def language_mismatch(narrations: Iterable[str], language: str) -> str | None:
    """Why the narrations do not look like ``language`` ("zh" or "en"), or None if they do or cannot be judged."""
    mismatch = language_mismatch_phrase(narrations, language)
    return None if mismatch is None else str(mismatch)


def language_mismatch_phrase(narrations: Iterable[str], language: str) -> Phrase | None:
    """:func:`language_mismatch`'s answer as a phrase to translate."""
    count = count_script(narrations)
    counts = {"percent": _percent(count.han_share), "han": f"{count.han:,}", "letters": f"{count.letters:,}"}
    if language == "en" and count.han >= MIN_HAN_EN and count.han_share > MAX_HAN_SHARE_EN:
        return Phrase(
            gettext_noop(
                "You chose English (en), but {percent} of the letters in the narrations are "
                "Chinese characters ({han} of {letters}): the file looks Chinese and would score "
                "about 0 as English. Choose zh, or confirm that the file is English."
            ),
            counts,
        )
    if language == "zh" and count.letters >= MIN_LETTERS_ZH and count.han_share < MIN_HAN_SHARE_ZH:
        return Phrase(
            gettext_noop(
                "You chose Chinese (zh), but {percent} of the letters in the narrations are "
                "Chinese characters ({han} of {letters}; the rest are Latin letters): the file looks "
                "English and would score about 0 as Chinese. Choose en, or confirm that the file is Chinese."
            ),
            counts,
        )
    return None


def _percent(share: float) -> Param:
    """Rounded, but never "0%" for some or "100%" for not all."""
    percent = round(share * 100)
    if percent == 0 and share > 0:
        return phrase(gettext_noop("less than {percent}"), percent="1%")
    if percent == 100 and share < 1:
        return phrase(gettext_noop("more than {percent}"), percent="99%")
    return f"{percent}%"
