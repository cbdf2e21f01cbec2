"""Text normalization and the Chinese tokenizer of the scoring protocol.

Both references and predictions go through :func:`normalize` before any
tokenizer sees them. It removes the characters that break the Java tools
pycocoevalcap drives: a line separator inside a caption shifts every later
caption of the PTB tokenizer by one line, and ``|||`` is METEOR's field
separator.
"""

from __future__ import annotations

import re
import unicodedata

_RUNS_OF_SPACES = re.compile(" {2,}")
_SURROGATES = re.compile("[\ud800-\udfff]")


def is_unicode_text(text: str) -> bool:
    """Whether ``text`` is Unicode text, the only text the scoring stages handle: no lone surrogate.

    JSON's ``\\u`` escapes can write half of a UTF-16 pair (``"\\ud800"``, a whole pair is read as
    one character), which a Python ``str`` keeps but UTF-8 cannot encode: the Java tools, the judge's
    cache key and requests, and storage would each fail on it. The validator refuses such text with
    this test, so no stage after it meets one.
    """
    return _SURROGATES.search(text) is None


def _is_separator_or_control(char: str) -> bool:
    # Categories Z* (spaces, U+2028, U+2029) and C* (controls, format
    # characters such as zero-width spaces, unassigned code points).
    return unicodedata.category(char)[0] in "ZC"


class _CharacterTable(dict):
    """``str.translate``'s table for the protocol: ``[`` and ``]`` dropped; ``|``, separators and controls
    made spaces; anything else kept.

    Each character's verdict is worked out once, on first sight (``__missing__``), so translating runs in
    C: a Python test per character cost a full English split about 2 s. Remembered characters are capped,
    so a file of every code point cannot grow a worker for good.
    """

    LIMIT = 65_536

    def __missing__(self, code_point: int) -> str | None:
        char = chr(code_point)
        verdict = None if char in "[]" else " " if char == "|" or _is_separator_or_control(char) else char
        if len(self) < self.LIMIT:
            self[code_point] = verdict
        return verdict


_TABLE = _CharacterTable()


def normalize(text: str) -> str:
    """Apply the protocol's normalization to one narration.

    NFKC; the name markup ``[`` ``]`` removed; ``|`` (METEOR's field separator), separators and controls
    made spaces; runs of spaces made one; the ends trimmed.
    """
    text = unicodedata.normalize("NFKC", text).translate(_TABLE)
    return _RUNS_OF_SPACES.sub(" ", text).strip()


def tokenize_zh(normalized: str) -> str:
    """Chinese is scored in characters: one token per character.

    Lowercases, drops punctuation (P*), separators (Z*) and controls (C*), and
    joins the remaining characters with single spaces.
    """
    return " ".join(char for char in normalized.lower() if unicodedata.category(char)[0] not in "PZC")
