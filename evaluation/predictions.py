"""Reading and validating a narration file.

The server runs exactly this code on upload, before anything is queued, and
the CLI runs it offline, so a participant sees the same list of problems in
both places. Every problem is collected, not just the first one.

Two formats are accepted, UTF-8 with or without a BOM:

* a JSON object ``{"<clip_id>": "<narration>", ...}``;
* JSON Lines, one ``{"clip_id": ..., "narration": ...}`` object a line.

Any bytes at all get a list of problems, never an exception, in time linear in
their size: brackets may nest :data:`MAX_NESTING` deep, checked before the JSON
parser (which recurses) sees them; numbers are never converted, since no clip id
or narration is one; the lines of duplicate keys are found in one pass. What is
accepted is text every later stage handles (:func:`evaluation.text.is_unicode_text`),
and every message quotes the file's text escaped, so it can be shown anywhere.

Every message is an English template and its parameters (:mod:`evaluation.wording`), so that the
service can say it in the participant's language; ``Problem.message`` is the English text.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from .clips import CLIP_ID_FORM, is_clip_id
from .script import language_mismatch_phrase
from .text import is_unicode_text
from .wording import Param, Phrase, Series, Translate, english, gettext_noop, literal, phrase

DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_NARRATION_CHARS = 2000
#: How many clip ids an error lists before it says "and N more".
LISTED = 10
#: How many lines of one duplicated clip id an error lists.
LISTED_LINES = 5
#: How deep brackets may nest. A good file needs one level (an object of strings, or one a line), a
#: value of the wrong type a few more, and is then told its type. The bound keeps the JSON parser's
#: recursion far from Python's recursion limit, which depends on how deep the caller already is: the
#: same file gets the same answer from the CLI, a worker and a web request.
MAX_NESTING = 32
#: How many arrays and objects a file may hold: a good one holds one object, or one a line, and a
#: clip with a value of the wrong type a few more. Millions of empty ones fit in the size cap, and
#: would take the parser seconds and hundreds of megabytes to build, only to be refused.
MAX_CONTAINERS = 100_000
#: How many characters of one piece of the file's text (a key, say) a message quotes.
QUOTED_CHARS = 80

# Translators: how a message names the reference narrations by default: "Clip ids that are not in the references"
THE_REFERENCES = Phrase(gettext_noop("the references"))

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
_JSON_LINES_KEYS = {"clip_id", "narration"}
_JSON_WHITESPACE = " \t\r\n"

# A JSON string on one line (none may span lines), written to scan fast: runs of plain characters
# between escapes. Scanning a file for these, left to right, finds the strings the JSON parser finds,
# up to the first error it would stop at; the brackets outside them are the file's nesting.
_STRING = r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
_STRINGS = re.compile(_STRING)
_STRING_OR_BRACKET = re.compile(rf"{_STRING}|[\[\]{{}}]")
#: A string and, if it is a key, the colon after it; or a bracket.
_KEY_OR_BRACKET = re.compile(rf"({_STRING})([ \t\r\n]*:)?|[\[\]{{}}]")
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}
#: Brackets as signed bytes, +1 and -1, which ``accumulate`` sums without a Python call per bracket;
#: every other byte deleted.
_NESTING_BYTES = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKET_BYTES = bytes(byte for byte in range(256) if byte not in b"[]{}")
_ONLY_WHITESPACE = re.compile(r"[ \t\r\n]*\Z")
# JSON Lines end in \n, \r\n or \r; not in the other characters str.splitlines() breaks at,
# such as U+2028, which a JSON string may hold.
_LINE_BREAK = re.compile(r"\r\n?|\n")
# How JSON writes a surrogate: as a \u escape (UTF-8 cannot hold one). A file without one has none
# in its strings, and they need not be checked one by one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, phrased for the person who made it.

    Made with a ``template`` (English, marked with ``gettext_noop``) and its ``params``, the problem
    can be said in another language (:meth:`render`); ``message`` is then filled in, in English. Made
    with a ``message`` alone, it is said in English only.
    """

    code: str
    #: In English.
    message: str = ""
    line: int | None = None
    column: int | None = None
    count: int | None = None
    clip_ids: tuple[str, ...] = ()
    #: The English ``str.format`` template of ``message``; "" if there is none.
    template: str = field(default="", repr=False)
    #: The values of the template's fields: text from the file and numbers, formatted, or words and
    #: lists of them (:class:`evaluation.wording.Phrase`, :class:`~evaluation.wording.Series`).
    params: Mapping[str, Param] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.template and not self.message:
            object.__setattr__(self, "message", self.phrase.render())

    @property
    def phrase(self) -> Phrase:
        """The message as a phrase: its template and params, or the English message if it has no template."""
        return Phrase(self.template, self.params) if self.template else Phrase(literal(self.message))

    def render(self, translate: Translate = english) -> str:
        """The message in the language of ``translate``, a function from an English template to its translation."""
        if not self.template or translate is english:
            return self.message
        return self.phrase.render(translate)

    def to_dict(self) -> dict[str, Any]:
        """What ``--json`` says of the problem, the message in English (the service says it in the user's language)."""
        data = {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "count": self.count,
            "clip_ids": list(self.clip_ids),
        }
        return {key: value for key, value in data.items() if value not in (None, [])}

    def __str__(self) -> str:
        return self.message


@dataclass
class ParsedFile:
    narrations: dict[str, str]
    #: "json" or "jsonl"; None when the file could not be read as either.
    format: str | None
    problems: list[Problem] = field(default_factory=list)
    #: Every clip id the file names, including those rejected for their value; not one that is not text
    #: (a lone surrogate), which has its own problem.
    given_ids: set[str] = field(default_factory=set)


@dataclass
class ValidationReport:
    """What :func:`validate` found. ``predictions`` is complete only when ``ok``."""

    predictions: dict[str, str]
    problems: list[Problem]
    format: str | None
    reference_clips: int
    missing_clips: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "format": self.format,
            "narrations": len(self.predictions),
            "reference_clips": self.reference_clips,
            "missing_clips": self.missing_clips,
            "problems": [problem.to_dict() for problem in self.problems],
        }


# -- problems that callers raise themselves --------------------------------


def file_too_large(size: int, limit: int) -> Problem:
    """The upload handler stops reading at the cap, so it reports ``size`` as "over"."""
    return Problem(
        "file_too_large",
        template=gettext_noop(
            "The file is {size} or more, over the {limit} size cap. "
            "Narrations for the whole split are far smaller; check that you uploaded the right file."
        ),
        params={"size": _megabytes(size), "limit": _megabytes(limit)},
    )


def no_file() -> Problem:
    return Problem("no_file", template=gettext_noop("No predictions file was uploaded."))


# -- parsing ---------------------------------------------------------------


def parse_narration_file(
    data: bytes,
    *,
    filename: str | None = None,
    max_narration_chars: int | None = DEFAULT_MAX_NARRATION_CHARS,
    what: str = "narration",
) -> ParsedFile:
    """Decode and parse a file of narrations, collecting every problem.

    ``what`` the file holds, as the messages name it: "narration" or "reference".
    """
    text, problem = _decode(data)
    if problem is not None:
        return ParsedFile({}, None, [problem])
    if not text.strip(_JSON_WHITESPACE):
        if text:
            template = gettext_noop("The file is empty: it holds only whitespace.")
        else:
            template = gettext_noop("The file is empty.")
        return ParsedFile({}, None, [Problem("empty_file", template=template)])

    if filename and filename.lower().endswith(JSON_LINES_SUFFIXES):
        parsed = _parse_json_lines(text)
    else:
        parsed = _parse_json_object_or_lines(text)
    if parsed.format is not None and not parsed.narrations and not parsed.problems:
        parsed.problems.append(Problem("no_narrations", template=_worded(what, _NONE_OF)))
    if max_narration_chars is not None:
        parsed.problems.extend(_too_long(parsed.narrations, max_narration_chars, what))
    return parsed


#: Byte order marks of encodings a file is wrongly saved in. UTF-32 LE's begins with UTF-16 LE's: it comes first.
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
# Which of a file's first four bytes are zero, when it is JSON (two ASCII characters first) in UTF-16 or
# UTF-32 without a byte order mark (RFC 4627, section 3). No UTF-8 JSON file starts so.
_ZERO_BYTES = {
    (True, True, True, False): gettext_noop("UTF-32 (big-endian)"),
    (False, True, True, True): gettext_noop("UTF-32 (little-endian)"),
    (True, False, True, False): gettext_noop("UTF-16 (big-endian)"),
    (False, True, False, True): gettext_noop("UTF-16 (little-endian)"),
}
#: Why UTF-8 cannot be decoded, as Python's codec says it (``UnicodeDecodeError.reason``).
_DECODING_ERRORS = {
    "invalid start byte": gettext_noop("invalid start byte"),
    "invalid continuation byte": gettext_noop("invalid continuation byte"),
    "unexpected end of data": gettext_noop("unexpected end of data"),
}


def _decode(data: bytes) -> tuple[str, Problem | None]:
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            return "", Problem(
                "not_utf8",
                template=gettext_noop(
                    "The file is {encoding} (it starts with a {encoding} byte order mark); save it as UTF-8."
                ),
                params={"encoding": encoding},
            )
    encoding = _ZERO_BYTES.get(tuple(byte == 0 for byte in data[:4]))
    if encoding:
        return "", Problem(
            "not_utf8",
            template=gettext_noop(
                "The file looks like {encoding} without a byte order mark (zero bytes between its first "
                "characters); save it as UTF-8."
            ),
            params={"encoding": Phrase(encoding)},
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = {"byte": f"{data[exc.start]:02X}", "offset": str(exc.start), "line": str(line)}
        if exc.end == len(data) and exc.reason == "unexpected end of data":
            # The start of a multi-byte character and nothing after it: a UTF-8 file cut short, not another encoding.
            return "", Problem(
                "not_utf8",
                template=gettext_noop(
                    "The file ends in the middle of a UTF-8 character (byte 0x{byte} at offset "
                    "{offset}, line {line}): it is cut short. Upload the whole file."
                ),
                params=where,
                line=line,
            )
        return "", Problem(
            "not_utf8",
            template=gettext_noop(
                "The file is not UTF-8: byte 0x{byte} at offset {offset} (line {line}) "
                "cannot be decoded ({reason}). Save the file as UTF-8."
            ),
            params={**where, "reason": _known(exc.reason, _DECODING_ERRORS)},
            line=line,
        )
    return text.removeprefix("\ufeff"), None


class _Pairs(list):
    """A JSON object kept as its key/value pairs, so duplicate keys survive."""


class _Number:
    """Any JSON number, NaN and Infinity included, never converted.

    No clip id or narration is a number: one is only ever reported as a value of the wrong
    type. Not converting it keeps a 5,000-digit integer as cheap as any other value (``int``
    takes quadratic time on long literals, and refuses those over 4,300 digits).
    """


_NUMBER = _Number()


def _number(_literal: str) -> _Number:
    return _NUMBER


class _OverBound(json.JSONDecodeError):
    """Brackets past :data:`MAX_NESTING` or :data:`MAX_CONTAINERS`, found before the JSON parser met them."""

    def __init__(self, code: str, message: Phrase, text: str, position: int):
        super().__init__(str(message), text, position)
        self.code = code
        self.phrase = message


def _loads(text: str) -> Any:
    """The JSON value of ``text``; any text that is not one raises ``JSONDecodeError``, and nothing else."""
    _check_brackets(text)
    return _parse(text)


def _check_brackets(text: str) -> None:
    """Raise ``_OverBound`` where the brackets outside strings first pass a bound, unless JSON errs earlier.

    Linear, and at the speed of regular expressions and byte operations for any text within the
    bounds; one that is not is scanned again, token by token, up to where it fails, to say where.
    """
    skeleton = _STRINGS.sub("", text).encode("utf-8", "surrogatepass")
    openers = skeleton.count(b"[") + skeleton.count(b"{")
    if openers <= MAX_NESTING:
        return
    if openers <= MAX_CONTAINERS:
        changes = memoryview(skeleton.translate(_NESTING_BYTES, _NOT_BRACKET_BYTES)).cast("b")
        if max(accumulate(changes)) <= MAX_NESTING:
            return
    depth = opened = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        change = _NESTING.get(text[match.start()], 0)  # 0 for a string
        depth += change
        opened += change > 0
        if depth > MAX_NESTING:
            code = "too_deep"
            message = phrase(
                gettext_noop("brackets nested more than {limit} deep; a predictions file needs one level, {example}"),
                limit=str(MAX_NESTING),
                example=_AN_OBJECT,
            )
        elif opened > MAX_CONTAINERS:
            code = "too_many_containers"
            message = phrase(
                gettext_noop("more than {limit} arrays and objects; a predictions file is one object, or one a line"),
                limit=f"{MAX_CONTAINERS:,}",
            )
        else:
            continue
        # Report the first thing wrong: an error the parser meets before this point, if any. The text
        # before it is within the bounds; parsing it fails at its end (for want of what follows) or earlier.
        before = text[: match.start()]
        try:
            _parse(before)
        except json.JSONDecodeError as earlier:
            if _ONLY_WHITESPACE.match(before, earlier.pos) is None:
                raise json.JSONDecodeError(earlier.msg, text, earlier.pos) from None
        raise _OverBound(code, message, text, match.start())
    raise AssertionError("the scans of the brackets disagree")  # they share their patterns: never reached


def _parse(text: str) -> Any:
    """``json.loads``, keeping every pair of an object and converting no number."""
    return json.loads(text, object_pairs_hook=_Pairs, parse_int=_number, parse_float=_number, parse_constant=_number)


def _parse_json_object_or_lines(text: str) -> ParsedFile:
    try:
        value = _loads(text)
    except json.JSONDecodeError as exc:
        # Read whole, JSON Lines are "extra data" after the first line, and unclosed lines add up as
        # nesting. (Not within the first line: then that line alone fails the same way.)
        is_json_lines = exc.msg == "Extra data" or isinstance(exc, _OverBound)
        if is_json_lines and _LINE_BREAK.search(text, 0, exc.pos) and _looks_like_json_lines(text):
            return _parse_json_lines(text)
        return ParsedFile({}, None, [_not_json(exc)])
    if isinstance(value, _Pairs):
        keys = {key for key, _ in value}
        if "clip_id" in keys and keys <= _JSON_LINES_KEYS:
            return _parse_json_lines(text)  # JSON Lines with a single line
        return _from_object(value, text)
    return ParsedFile(
        {},
        None,
        [
            Problem(
                "not_an_object",
                template=gettext_noop(
                    "The file holds a JSON {type}; expected an object {example} or JSON Lines of {line_example}."
                ),
                params={"type": _json_type(value), "example": _AN_OBJECT, "line_example": _A_LINE},
            )
        ],
    )


def _looks_like_json_lines(text: str) -> bool:
    first = next((line for line in _LINE_BREAK.split(text) if line.strip(_JSON_WHITESPACE)), "")
    try:
        return isinstance(_loads(first), _Pairs)
    except json.JSONDecodeError:
        return False


def _not_json(exc: json.JSONDecodeError, line: int | None = None) -> Problem:
    """``exc`` as a problem at its line and column; ``line`` for a line of JSON Lines, parsed alone."""
    number = exc.lineno if line is None else line
    return Problem(
        exc.code if isinstance(exc, _OverBound) else "not_json",
        template=gettext_noop("Not valid JSON: line {line}, column {column}: {error}."),
        params={"line": str(number), "column": str(exc.colno), "error": _json_error(exc, in_line=line is not None)},
        line=number,
        column=exc.colno,
    )


#: What Python's JSON parser says is wrong (``JSONDecodeError.msg``), less a trailing " at".
_PARSER_ERRORS = {
    "Expecting value": gettext_noop("Expecting value"),
    "Expecting ',' delimiter": gettext_noop("Expecting ',' delimiter"),
    "Expecting ':' delimiter": gettext_noop("Expecting ':' delimiter"),
    "Expecting property name enclosed in double quotes": gettext_noop(
        "Expecting property name enclosed in double quotes"
    ),
    "Invalid \\escape": gettext_noop("Invalid \\escape"),
    "Invalid \\uXXXX escape": gettext_noop("Invalid \\uXXXX escape"),
    # Python 3.13 on.
    "Illegal trailing comma before end of object": gettext_noop("Illegal trailing comma before end of object"),
    "Illegal trailing comma before end of array": gettext_noop("Illegal trailing comma before end of array"),
}


def _json_error(exc: json.JSONDecodeError, *, in_line: bool) -> Phrase:
    """What the JSON parser's complaint means, and what it found there, in the file or (``in_line``) the line."""
    if isinstance(exc, _OverBound):
        return exc.phrase
    text, position = exc.doc, exc.pos
    ends_here = _ONLY_WHITESPACE.match(text, position) is not None
    if exc.msg.startswith("Unterminated string"):
        if in_line:
            return Phrase(
                gettext_noop(
                    "a string starts here and the line ends inside it: a closing quote is missing, or it is cut short"
                )
            )
        return Phrase(
            gettext_noop(
                "a string starts here and the file ends inside it: a closing quote is missing, or it is cut short"
            )
        )
    if exc.msg.startswith("Invalid control character"):
        character = text[position]
        if character in "\r\n":
            if ends_here:
                return Phrase(
                    gettext_noop(
                        "a string is not closed before the end of the file: a closing quote is missing, "
                        "or it is cut short"
                    )
                )
            return Phrase(
                gettext_noop(
                    "a string is not closed before the end of the line: a closing quote is missing, "
                    "or a line break in a narration is not written as \\n"
                )
            )
        return phrase(
            gettext_noop(
                "{character} inside a string: control characters must be written as escapes, such as \\u{code}"
            ),
            character=_character(character),
            code=f"{ord(character):04x}",
        )
    if exc.msg.startswith("Unexpected UTF-8 BOM"):
        return Phrase(gettext_noop("a second byte order mark (U+FEFF) where the JSON should begin: remove it"))
    if exc.msg == "Extra data":
        return phrase(
            gettext_noop("more after the end of the JSON value, found {character}"),
            character=_character(text[position]),
        )
    if ends_here:
        error = _known(exc.msg, _PARSER_ERRORS)
        if in_line:
            return phrase(gettext_noop("{error}, but the line ends here: it may be cut short"), error=error)
        return phrase(gettext_noop("{error}, but the file ends here: it may be cut short"), error=error)
    return phrase(
        gettext_noop("{error}, found {character}"),
        error=_known(exc.msg.removesuffix(" at"), _PARSER_ERRORS),
        character=_character(text[position]),
    )


def _from_object(pairs: _Pairs, text: str) -> ParsedFile:
    narrations: dict[str, str] = {}
    seen: dict[str, int] = {}
    wrong_types: list[tuple[str, Phrase]] = []
    not_text: list[tuple[str, bool]] = []  # (clip id, whether its narration, not the id itself, is not valid text)
    check_text = _SURROGATE_ESCAPE.search(text) is not None
    for clip_id, value in pairs:
        seen[clip_id] = seen.get(clip_id, 0) + 1
        if seen[clip_id] > 1:
            continue
        if check_text and not is_unicode_text(clip_id):
            not_text.append((clip_id, False))
        elif not isinstance(value, str):
            wrong_types.append((clip_id, _json_type(value)))
        elif check_text and not is_unicode_text(value):
            not_text.append((clip_id, True))
        else:
            narrations[clip_id] = value
    problems = []
    duplicates = [clip_id for clip_id, times in seen.items() if times > 1]
    # The lines of what the messages show: the first ten of each list.
    wanted = {clip_id: min(seen[clip_id], LISTED_LINES) for clip_id in duplicates[:LISTED]}
    wanted.update((clip_id, 1) for clip_id, _ in not_text[:LISTED] if clip_id not in wanted)
    lines = _key_lines(text, wanted) if wanted else {}
    if duplicates:
        problems.append(
            _about_clips(
                "duplicate_clip_id",
                gettext_noop(
                    "Duplicate clip ids ({count}): {clips}. It is not clear which narration counts: give each clip one."
                ),
                duplicates,
                [
                    _clip(
                        clip_id,
                        phrase(
                            gettext_noop("lines {lines}"),
                            lines=_listing(list(map(str, lines[clip_id])), seen[clip_id], LISTED_LINES),
                        ),
                    )
                    for clip_id in duplicates[:LISTED]
                ],
            )
        )
        for clip_id in duplicates:
            narrations.pop(clip_id, None)
    if not_text:
        problems.append(
            _not_unicode(
                [clip_id for clip_id, _ in not_text],
                [
                    _clip(clip_id, _not_text_at(narration, lines[clip_id][0]))
                    for clip_id, narration in not_text[:LISTED]
                ],
            )
        )
    if wrong_types:
        problems.append(_wrong_types(wrong_types))
    bad_ids = {clip_id for clip_id, narration in not_text if not narration}
    return ParsedFile(narrations, "json", problems, set(seen) - bad_ids)


def _key_lines(text: str, wanted: Mapping[str, int]) -> dict[str, list[int]]:
    """The first lines where each key of ``wanted`` is a key of the object ``text`` holds, as many as wanted.

    ``text`` is valid JSON. One pass over it, however many keys are wanted, and it stops when
    all are found: looking each key up in the whole text took time that grew with the square of
    the file's size.
    """
    lines: dict[str, list[int]] = {key: [] for key in wanted}
    left = sum(wanted.values())
    depth, line, counted_to = 0, 1, 0
    for match in _KEY_OR_BRACKET.finditer(text):
        if not left:
            break
        string, colon = match.group(1, 2)
        if string is None:
            depth += _NESTING[match.group()]
        elif colon and depth == 1:
            # Written plainly, or with escapes (which the parser read the same).
            key = json.loads(string) if "\\" in string else string[1:-1]
            found = lines.get(key)
            if found is not None and len(found) < wanted[key]:
                line += text.count("\n", counted_to, match.start())
                counted_to = match.start()
                found.append(line)
                left -= 1
    return lines


def _parse_json_lines(text: str) -> ParsedFile:
    narrations: dict[str, str] = {}
    first_line: dict[str, int] = {}
    # The problems of the first LISTED lines that are not a clip's narration, which are listed; the rest are counted.
    bad_lines: list[Problem] = []
    bad_count = 0
    duplicates: list[str] = []
    duplicate_details: list[Phrase] = []  # the first LISTED, which the message shows
    wrong_types: list[tuple[str, Phrase]] = []
    not_text: list[tuple[str, bool, int]] = []  # (clip id, whether its narration is the text, line)
    check_text = _SURROGATE_ESCAPE.search(text) is not None
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if not line.strip(_JSON_WHITESPACE):
            continue
        try:
            value = _loads(line)
        except json.JSONDecodeError as exc:
            bad_count += 1
            if bad_count <= LISTED:
                bad_lines.append(_not_json(exc, line=number))
            continue
        if not isinstance(value, _Pairs):
            bad_count += 1
            if bad_count <= LISTED:
                bad_lines.append(
                    Problem(
                        "not_an_object",
                        template=gettext_noop("Line {line} holds a JSON {type}; expected {line_example}."),
                        params={"line": str(number), "type": _json_type(value), "line_example": _A_LINE},
                        line=number,
                    )
                )
            continue
        fields = dict(value)
        names = [key for key, _ in value]
        if len(names) != len(set(names)) or set(names) != _JSON_LINES_KEYS:
            bad_count += 1
            if bad_count > LISTED:
                continue
            if names:
                listed: Param = _listing([_quoted(name) for name in names[:LISTED]], len(names))
            else:
                # Translators: the keys of a line of JSON Lines that has none: "Line 3 has the keys none; ..."
                listed = Phrase(gettext_noop("none"))
            bad_lines.append(
                Problem(
                    "bad_line",
                    template=gettext_noop(
                        'Line {line} has the keys {keys}; expected exactly "clip_id" and "narration", once each.'
                    ),
                    params={"line": str(number), "keys": listed},
                    line=number,
                )
            )
            continue
        clip_id, narration = fields["clip_id"], fields["narration"]
        if not isinstance(clip_id, str):
            bad_count += 1
            if bad_count <= LISTED:
                bad_lines.append(
                    Problem(
                        "bad_line",
                        template=gettext_noop("Line {line}: clip_id must be a string, found a {type}."),
                        params={"line": str(number), "type": _json_type(clip_id)},
                        line=number,
                    )
                )
            continue
        if check_text and not is_unicode_text(clip_id):
            not_text.append((clip_id, False, number))
            continue
        if clip_id in first_line:
            duplicates.append(clip_id)
            if len(duplicate_details) < LISTED:
                duplicate_details.append(
                    _clip(
                        clip_id,
                        phrase(
                            gettext_noop("line {line}, first on line {first}"),
                            line=str(number),
                            first=str(first_line[clip_id]),
                        ),
                    )
                )
            narrations.pop(clip_id, None)
            continue
        first_line[clip_id] = number
        if not isinstance(narration, str):
            wrong_types.append((clip_id, _json_type(narration)))
        elif check_text and not is_unicode_text(narration):
            not_text.append((clip_id, True, number))
        else:
            narrations[clip_id] = narration

    problems = _summarize_lines(bad_lines, bad_count)
    if duplicates:
        unique = list(dict.fromkeys(duplicates))
        for clip_id in unique:
            narrations.pop(clip_id, None)
        problems.append(
            _about_clips(
                "duplicate_clip_id",
                gettext_noop(
                    "Duplicate clip ids ({count}): {clips}. "
                    "It is not clear which narration counts: give each clip one line."
                ),
                unique,
                duplicate_details,
            )
        )
    if not_text:
        problems.append(
            _not_unicode(
                [clip_id for clip_id, _, _ in not_text],
                [_clip(clip_id, _not_text_at(narration, line)) for clip_id, narration, line in not_text[:LISTED]],
            )
        )
    if wrong_types:
        problems.append(_wrong_types(wrong_types))
    return ParsedFile(narrations, "jsonl", problems, set(first_line))


def _summarize_lines(problems: list[Problem], count: int) -> list[Problem]:
    """The ``problems`` of the first lines, and a word on the rest of the ``count`` lines with one."""
    if count <= LISTED:
        return problems
    rest = count - LISTED
    return problems[:LISTED] + [
        Problem(
            "bad_line",
            template=gettext_noop("… and {rest} more lines with problems like the ones above."),
            params={"rest": f"{rest:,}"},
            count=rest,
        )
    ]


def _wrong_types(wrong: list[tuple[str, Phrase]]) -> Problem:
    return _about_clips(
        "not_a_string",
        gettext_noop("Narrations that are not strings ({count}): {clips}. Each narration must be a JSON string."),
        [clip_id for clip_id, _ in wrong],
        [_clip(clip_id, kind) for clip_id, kind in wrong[:LISTED]],
    )


def _not_unicode(clip_ids: list[str], details: list[Phrase]) -> Problem:
    return _about_clips(
        "not_unicode",
        gettext_noop(
            "Clip ids or narrations that are not valid Unicode text ({count}): {clips}. "
            "Each holds a lone surrogate (a \\ud800-\\udfff escape without its pair), which is not a character: "
            "remove it, or write the whole character."
        ),
        clip_ids,
        details,
    )


def _not_text_at(narration: bool, line: int) -> Phrase:
    """Which text of a clip is not valid Unicode, the narration or the clip id, and on which line."""
    if narration:
        return phrase(gettext_noop("narration, line {line}"), line=str(line))
    return phrase(gettext_noop("clip id, line {line}"), line=str(line))


def _too_long(narrations: Mapping[str, str], limit: int, what: str) -> list[Problem]:
    long = [(clip_id, len(text)) for clip_id, text in narrations.items() if len(text) > limit]
    if not long:
        return []
    return [
        _about_clips(
            "narration_too_long",
            _worded(what, _OVER_THE_CAP),
            [clip_id for clip_id, _ in long],
            [
                _clip(clip_id, phrase(gettext_noop("{length} characters"), length=f"{length:,}"))
                for clip_id, length in long[:LISTED]
            ],
            limit=f"{limit:,}",
        )
    ]


# -- checking against the references -----------------------------------------


def check_clip_ids(
    narrations: Collection[str],
    reference_ids: Collection[str],
    *,
    allow_partial: bool = False,
    split_name: Param = THE_REFERENCES,
) -> list[Problem]:
    """Compare the clip ids of a file with those of the reference set, named ``split_name`` in the messages.

    A ``split_name`` given as a :class:`~evaluation.wording.Phrase` is translated with the message;
    a string is said as it is.
    """
    problems = []
    reference_ids = reference_ids if isinstance(reference_ids, (set, frozenset, dict)) else set(reference_ids)
    extra = sorted(clip_id for clip_id in narrations if clip_id not in reference_ids)
    malformed, unknown = [], []
    for clip_id in extra:
        (unknown if is_clip_id(clip_id) else malformed).append(clip_id)
    if malformed:
        problems.append(
            _about_clips(
                "malformed_clip_id",
                gettext_noop("Keys that are not clip ids of the form {form} ({count}): {clips}."),
                malformed,
                [_quoted(key) for key in malformed[:LISTED]],
                form=CLIP_ID_FORM,
            )
        )
    if unknown:
        problems.append(
            _about_clips(
                "unknown_clip_id",
                gettext_noop(
                    "Clip ids that are not in {split} ({count}): {clips}. "
                    "Check that the file is for this phase and split."
                ),
                unknown,
                split=split_name,
            )
        )
    if not allow_partial:
        missing = sorted(clip_id for clip_id in reference_ids if clip_id not in narrations)
        if missing:
            problems.append(
                _about_clips(
                    "missing_clip_id",
                    gettext_noop(
                        "Clips of {split} without a narration ({count}): {clips}. "
                        'Every clip needs one (an empty string "" is allowed).'
                    ),
                    missing,
                    split=split_name,
                )
            )
    return problems


def validate(
    data: bytes,
    references: Mapping[str, str] | Collection[str],
    *,
    filename: str | None = None,
    allow_partial: bool = False,
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES,
    max_narration_chars: int | None = DEFAULT_MAX_NARRATION_CHARS,
    split_name: Param = THE_REFERENCES,
    language: str | None = None,
    confirm_language: bool = False,
) -> ValidationReport:
    """Everything the server checks before it accepts a predictions file.

    With ``language`` ("zh" or "en"), a file whose narrations are in the other script is refused
    (``language_mismatch``, :mod:`evaluation.script`) unless ``confirm_language``: the participant
    says it is in that language all the same.
    """
    reference_ids = references.keys() if isinstance(references, Mapping) else references
    reference_ids = set(reference_ids)
    if max_file_bytes is not None and len(data) > max_file_bytes:
        return ValidationReport({}, [file_too_large(len(data), max_file_bytes)], None, len(reference_ids), 0)
    parsed = parse_narration_file(data, filename=filename, max_narration_chars=max_narration_chars)
    problems = list(parsed.problems)
    # An unreadable or empty file would make every clip "missing": say nothing more then.
    if parsed.given_ids:
        problems += check_clip_ids(parsed.given_ids, reference_ids, allow_partial=allow_partial, split_name=split_name)
    # Said with the file's other problems, if any, so that one upload more fixes them all.
    if language is not None and not confirm_language:
        mismatch = language_mismatch_phrase(parsed.narrations.values(), language)
        if mismatch is not None:
            problems.append(Problem("language_mismatch", template=mismatch.template, params=mismatch.params))
    missing = len(reference_ids - parsed.narrations.keys())
    return ValidationReport(parsed.narrations, problems, parsed.format, len(reference_ids), missing)


# -- wording ---------------------------------------------------------------

#: What a JSON object looks like, in the messages.
_AN_OBJECT = '{"<clip_id>": "<narration>", ...}'
#: What a line of JSON Lines looks like.
_A_LINE = '{"clip_id": ..., "narration": ...}'

#: "The file holds no narrations.", by what the file holds (``parse_narration_file``'s ``what``).
_NONE_OF = {
    "narration": gettext_noop("The file holds no narrations."),
    "reference": gettext_noop("The file holds no references."),
    None: "The file holds no {what}s.",
}
_OVER_THE_CAP = {
    "narration": gettext_noop("Narrations over the {limit}-character cap ({count}): {clips}."),
    "reference": gettext_noop("References over the {limit}-character cap ({count}): {clips}."),
    None: "{What}s over the {{limit}}-character cap ({{count}}): {{clips}}.",
}


def _worded(what: str, templates: Mapping[str | None, str]) -> str:
    """The template of ``templates`` for ``what``; for another word, the template of None with it, in English only."""
    template = templates.get(what)
    if template is not None:
        return template
    return templates[None].format(what=literal(what), What=literal(what.capitalize()))


def _known(text: str, translations: Mapping[str, str]) -> Param:
    """``text`` as a phrase to translate if it is one of ``translations``' keys; as it is if not."""
    template = translations.get(text)
    return text if template is None else Phrase(template)


def _about_clips(
    code: str, template: str, clip_ids: list[str], details: list[Param] | None = None, **params: Param
) -> Problem:
    """A problem of some clips: ``template`` says how many (``{count}``) and lists ``details`` (``{clips}``).

    ``details`` (the clip ids, shown, by default) may stop after the first ten; the count is of ``clip_ids``.
    """
    details = [_shown(clip_id) for clip_id in clip_ids[:LISTED]] if details is None else details
    return Problem(
        code,
        template=template,
        params={**params, "count": f"{len(clip_ids):,}", "clips": _listing(details, len(clip_ids))},
        count=len(clip_ids),
        clip_ids=tuple(str(_shown(clip_id)) for clip_id in clip_ids[:LISTED]),
    )


def _shown(text: str) -> Param:
    """Text from the file, fit to quote in a message: shortened, and what does not print escaped.

    A message goes into HTML, JSON and terminals. A lone surrogate cannot be encoded for any of
    them, and control, format and bidi characters would garble or disguise what is quoted.
    """
    if len(text) > QUOTED_CHARS:
        return phrase(
            gettext_noop("{text}… ({length} characters)"),
            text=_escaped(text[:QUOTED_CHARS]),
            length=f"{len(text):,}",
        )
    return _escaped(text)


def _escaped(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def _quoted(text: str) -> Param:
    shown = _shown(text)
    return f'"{shown}"' if isinstance(shown, str) else phrase('"{text}"', text=shown)


def _clip(clip_id: str, note: Param) -> Phrase:
    """``clip_id (note)``, the clip id shown safely."""
    return phrase("{clip} ({note})", clip=_shown(clip_id), note=note)


_CHARACTER_NAMES: dict[str, Param] = {
    "\x00": "NUL",
    "\t": Phrase(gettext_noop("a tab")),
    "\n": Phrase(gettext_noop("a line break")),
    "\r": Phrase(gettext_noop("a carriage return")),
    "\ufeff": Phrase(gettext_noop("a byte order mark")),
}


def _character(char: str) -> Param:
    """``'x'``, or for a character that does not print, its code point and name: ``U+FEFF (a byte order mark)``.

    The name is Unicode's (``ZERO WIDTH SPACE``), which is not translated, or for a few characters, a description.
    """
    if char.isprintable():
        return f"'{char}'"
    code = f"{ord(char):04X}"
    name = _CHARACTER_NAMES.get(char) or unicodedata.name(char, "")
    return phrase("U+{code} ({name})", code=code, name=name) if name else f"U+{code}"


# Translators: the type of a JSON value {...}, as in "The file holds a JSON object".
_OBJECT_TYPE = Phrase(gettext_noop("object"))
_ARRAY_TYPE = Phrase(gettext_noop("array"))
_BOOLEAN_TYPE = Phrase(gettext_noop("boolean"))
# Translators: the JSON value null.
_NULL_TYPE = Phrase(gettext_noop("null"))
_NUMBER_TYPE = Phrase(gettext_noop("number"))
_STRING_TYPE = Phrase(gettext_noop("string"))


def _json_type(value: Any) -> Phrase:
    if isinstance(value, _Pairs):
        return _OBJECT_TYPE
    if isinstance(value, list):
        return _ARRAY_TYPE
    if isinstance(value, bool):
        return _BOOLEAN_TYPE
    if value is None:
        return _NULL_TYPE
    if isinstance(value, _Number):
        return _NUMBER_TYPE
    return _STRING_TYPE


def _listing(items: list[Param], total: int, limit: int = LISTED) -> Param:
    """The first ``limit`` items, and how many more of ``total`` there are."""
    shown = Series(tuple(items[:limit]))
    if total > limit:
        return phrase(gettext_noop("{items} and {more} more"), items=shown, more=f"{total - limit:,}")
    return shown


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size % (1024 * 1024) else f"{size // (1024 * 1024)} MB"
