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
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from typing import Any

from .clips import CLIP_ID_FORM, is_clip_id
from .script import language_mismatch
from .text import is_unicode_text

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
    """One thing wrong with a file, phrased for the person who made it."""

    code: str
    message: str
    line: int | None = None
    column: int | None = None
    count: int | None = None
    clip_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clip_ids"] = list(self.clip_ids)
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
        f"The file is {_megabytes(size)} or more, over the {_megabytes(limit)} size cap. "
        "Narrations for the whole split are far smaller; check that you uploaded the right file.",
    )


def no_file() -> Problem:
    return Problem("no_file", "No predictions file was uploaded.")


# -- parsing ---------------------------------------------------------------


def parse_narration_file(
    data: bytes,
    *,
    filename: str | None = None,
    max_narration_chars: int | None = DEFAULT_MAX_NARRATION_CHARS,
    what: str = "narration",
) -> ParsedFile:
    """Decode and parse a file of narrations, collecting every problem."""
    text, problem = _decode(data)
    if problem is not None:
        return ParsedFile({}, None, [problem])
    if not text.strip(_JSON_WHITESPACE):
        message = "The file is empty: it holds only whitespace." if text else "The file is empty."
        return ParsedFile({}, None, [Problem("empty_file", message)])

    if filename and filename.lower().endswith(JSON_LINES_SUFFIXES):
        parsed = _parse_json_lines(text)
    else:
        parsed = _parse_json_object_or_lines(text)
    if parsed.format is not None and not parsed.narrations and not parsed.problems:
        parsed.problems.append(Problem("no_narrations", f"The file holds no {what}s."))
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
    (True, True, True, False): "UTF-32 (big-endian)",
    (False, True, True, True): "UTF-32 (little-endian)",
    (True, False, True, False): "UTF-16 (big-endian)",
    (False, True, False, True): "UTF-16 (little-endian)",
}


def _decode(data: bytes) -> tuple[str, Problem | None]:
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            return "", Problem(
                "not_utf8", f"The file is {encoding} (it starts with a {encoding} byte order mark); save it as UTF-8."
            )
    encoding = _ZERO_BYTES.get(tuple(byte == 0 for byte in data[:4]))
    if encoding:
        return "", Problem(
            "not_utf8",
            f"The file looks like {encoding} without a byte order mark (zero bytes between its first "
            "characters); save it as UTF-8.",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        if exc.end == len(data) and exc.reason == "unexpected end of data":
            # The start of a multi-byte character and nothing after it: a UTF-8 file cut short, not another encoding.
            return "", Problem(
                "not_utf8",
                f"The file ends in the middle of a UTF-8 character (byte 0x{data[exc.start]:02X} at offset "
                f"{exc.start}, line {line}): it is cut short. Upload the whole file.",
                line=line,
            )
        return "", Problem(
            "not_utf8",
            f"The file is not UTF-8: byte 0x{data[exc.start]:02X} at offset {exc.start} (line {line}) "
            f"cannot be decoded ({exc.reason}). Save the file as UTF-8.",
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

    def __init__(self, code: str, message: str, text: str, position: int):
        super().__init__(message, text, position)
        self.code = code


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
            message = (
                f"brackets nested more than {MAX_NESTING} deep; a predictions file needs one level, "
                '{"<clip_id>": "<narration>", ...}'
            )
        elif opened > MAX_CONTAINERS:
            code = "too_many_containers"
            message = (
                f"more than {MAX_CONTAINERS:,} arrays and objects; a predictions file is one object, or one a line"
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
                f"The file holds a JSON {_json_type(value)}; expected an object "
                '{"<clip_id>": "<narration>", ...} or JSON Lines of {"clip_id": ..., "narration": ...}.',
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
        f"Not valid JSON: line {number}, column {exc.colno}: {_json_error(exc, 'file' if line is None else 'line')}.",
        line=number,
        column=exc.colno,
    )


def _json_error(exc: json.JSONDecodeError, where: str) -> str:
    """What the JSON parser's complaint means, and what it found there; ``where`` the file or the line."""
    if isinstance(exc, _OverBound):
        return exc.msg
    text, position = exc.doc, exc.pos
    ends_here = _ONLY_WHITESPACE.match(text, position) is not None
    if exc.msg.startswith("Unterminated string"):
        return f"a string starts here and the {where} ends inside it: a closing quote is missing, or it is cut short"
    if exc.msg.startswith("Invalid control character"):
        character = text[position]
        if character in "\r\n":
            if ends_here:
                return (
                    "a string is not closed before the end of the file: a closing quote is missing, or it is cut short"
                )
            return (
                "a string is not closed before the end of the line: a closing quote is missing, "
                "or a line break in a narration is not written as \\n"
            )
        return (
            f"{_character(character)} inside a string: control characters must be written as escapes, "
            f"such as \\u{ord(character):04x}"
        )
    if exc.msg.startswith("Unexpected UTF-8 BOM"):
        return "a second byte order mark (U+FEFF) where the JSON should begin: remove it"
    if exc.msg == "Extra data":
        return f"more after the end of the JSON value, found {_character(text[position])}"
    if ends_here:
        return f"{exc.msg}, but the {where} ends here: it may be cut short"
    return f"{exc.msg.removesuffix(' at')}, found {_character(text[position])}"


def _from_object(pairs: _Pairs, text: str) -> ParsedFile:
    narrations: dict[str, str] = {}
    seen: dict[str, int] = {}
    wrong_types: list[tuple[str, str]] = []
    not_text: list[tuple[str, str]] = []  # (clip id, which of its texts is not valid text)
    check_text = _SURROGATE_ESCAPE.search(text) is not None
    for clip_id, value in pairs:
        seen[clip_id] = seen.get(clip_id, 0) + 1
        if seen[clip_id] > 1:
            continue
        if check_text and not is_unicode_text(clip_id):
            not_text.append((clip_id, "clip id"))
        elif not isinstance(value, str):
            wrong_types.append((clip_id, _json_type(value)))
        elif check_text and not is_unicode_text(value):
            not_text.append((clip_id, "narration"))
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
                "Duplicate clip ids",
                duplicates,
                [
                    _clip(clip_id, "lines " + _listing(list(map(str, lines[clip_id])), seen[clip_id], LISTED_LINES))
                    for clip_id in duplicates[:LISTED]
                ],
                "It is not clear which narration counts: give each clip one.",
            )
        )
        for clip_id in duplicates:
            narrations.pop(clip_id, None)
    if not_text:
        problems.append(
            _not_unicode(
                [clip_id for clip_id, _ in not_text],
                [_clip(clip_id, f"{which}, line {lines[clip_id][0]}") for clip_id, which in not_text[:LISTED]],
            )
        )
    if wrong_types:
        problems.append(_wrong_types(wrong_types))
    bad_ids = {clip_id for clip_id, which in not_text if which == "clip id"}
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
    bad_lines: list[Problem] = []
    duplicates: list[str] = []
    duplicate_details: list[str] = []
    wrong_types: list[tuple[str, str]] = []
    not_text: list[tuple[str, str]] = []
    check_text = _SURROGATE_ESCAPE.search(text) is not None
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if not line.strip(_JSON_WHITESPACE):
            continue
        try:
            value = _loads(line)
        except json.JSONDecodeError as exc:
            bad_lines.append(_not_json(exc, line=number))
            continue
        if not isinstance(value, _Pairs):
            bad_lines.append(
                Problem(
                    "not_an_object",
                    f'Line {number} holds a JSON {_json_type(value)}; expected {{"clip_id": ..., "narration": ...}}.',
                    line=number,
                )
            )
            continue
        fields = dict(value)
        names = [key for key, _ in value]
        if len(names) != len(set(names)) or set(names) != _JSON_LINES_KEYS:
            listed = _listing([_quoted(name) for name in names[:LISTED]], len(names))
            bad_lines.append(
                Problem(
                    "bad_line",
                    f"Line {number} has the keys {listed or 'none'}; "
                    'expected exactly "clip_id" and "narration", once each.',
                    line=number,
                )
            )
            continue
        clip_id, narration = fields["clip_id"], fields["narration"]
        if not isinstance(clip_id, str):
            bad_lines.append(
                Problem(
                    "bad_line",
                    f"Line {number}: clip_id must be a string, found a {_json_type(clip_id)}.",
                    line=number,
                )
            )
            continue
        if check_text and not is_unicode_text(clip_id):
            not_text.append((clip_id, f"clip id, line {number}"))
            continue
        if clip_id in first_line:
            duplicates.append(clip_id)
            duplicate_details.append(_clip(clip_id, f"line {number}, first on line {first_line[clip_id]}"))
            narrations.pop(clip_id, None)
            continue
        first_line[clip_id] = number
        if not isinstance(narration, str):
            wrong_types.append((clip_id, _json_type(narration)))
        elif check_text and not is_unicode_text(narration):
            not_text.append((clip_id, f"narration, line {number}"))
        else:
            narrations[clip_id] = narration

    problems = _summarize_lines(bad_lines)
    if duplicates:
        unique = list(dict.fromkeys(duplicates))
        for clip_id in unique:
            narrations.pop(clip_id, None)
        problems.append(
            _about_clips(
                "duplicate_clip_id",
                "Duplicate clip ids",
                unique,
                duplicate_details,
                "It is not clear which narration counts: give each clip one line.",
            )
        )
    if not_text:
        problems.append(_not_unicode([clip_id for clip_id, _ in not_text], [_clip(*found) for found in not_text]))
    if wrong_types:
        problems.append(_wrong_types(wrong_types))
    return ParsedFile(narrations, "jsonl", problems, set(first_line))


def _summarize_lines(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= LISTED:
        return problems
    rest = len(problems) - LISTED
    return problems[:LISTED] + [
        Problem("bad_line", f"… and {rest:,} more lines with problems like the ones above.", count=rest)
    ]


def _wrong_types(wrong: list[tuple[str, str]]) -> Problem:
    return _about_clips(
        "not_a_string",
        "Narrations that are not strings",
        [clip_id for clip_id, _ in wrong],
        [_clip(clip_id, kind) for clip_id, kind in wrong],
        "Each narration must be a JSON string.",
    )


def _not_unicode(clip_ids: list[str], details: list[str]) -> Problem:
    return _about_clips(
        "not_unicode",
        "Clip ids or narrations that are not valid Unicode text",
        clip_ids,
        details,
        "Each holds a lone surrogate (a \\ud800-\\udfff escape without its pair), which is not a character: "
        "remove it, or write the whole character.",
    )


def _too_long(narrations: Mapping[str, str], limit: int, what: str) -> list[Problem]:
    long = [(clip_id, len(text)) for clip_id, text in narrations.items() if len(text) > limit]
    if not long:
        return []
    return [
        _about_clips(
            "narration_too_long",
            f"{what.capitalize()}s over the {limit:,}-character cap",
            [clip_id for clip_id, _ in long],
            [_clip(clip_id, f"{length:,} characters") for clip_id, length in long],
        )
    ]


# -- checking against the references -----------------------------------------


def check_clip_ids(
    narrations: Collection[str],
    reference_ids: Collection[str],
    *,
    allow_partial: bool = False,
    split_name: str = "the references",
) -> list[Problem]:
    """Compare the clip ids of a file with those of the reference set."""
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
                f"Keys that are not clip ids of the form {CLIP_ID_FORM}",
                malformed,
                [_quoted(key) for key in malformed],
            )
        )
    if unknown:
        problems.append(
            _about_clips(
                "unknown_clip_id",
                f"Clip ids that are not in {split_name}",
                unknown,
                advice="Check that the file is for this phase and split.",
            )
        )
    if not allow_partial:
        missing = sorted(clip_id for clip_id in reference_ids if clip_id not in narrations)
        if missing:
            problems.append(
                _about_clips(
                    "missing_clip_id",
                    f"Clips of {split_name} without a narration",
                    missing,
                    advice='Every clip needs one (an empty string "" is allowed).',
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
    split_name: str = "the references",
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
        mismatch = language_mismatch(parsed.narrations.values(), language)
        if mismatch is not None:
            problems.append(Problem("language_mismatch", mismatch))
    missing = len(reference_ids - parsed.narrations.keys())
    return ValidationReport(parsed.narrations, problems, parsed.format, len(reference_ids), missing)


# -- wording ---------------------------------------------------------------


def _about_clips(
    code: str, heading: str, clip_ids: list[str], details: list[str] | None = None, advice: str = ""
) -> Problem:
    """``Heading (count): the first ten details and N more. Advice.``

    ``details`` (the clip ids, shown, by default) may stop after the first ten; the count is of ``clip_ids``.
    """
    details = [_shown(clip_id) for clip_id in clip_ids[:LISTED]] if details is None else details
    message = f"{heading} ({len(clip_ids):,}): {_listing(details, len(clip_ids))}."
    return Problem(
        code,
        f"{message} {advice}" if advice else message,
        count=len(clip_ids),
        clip_ids=tuple(_shown(clip_id) for clip_id in clip_ids[:LISTED]),
    )


def _shown(text: str) -> str:
    """Text from the file, fit to quote in a message: shortened, and what does not print escaped.

    A message goes into HTML, JSON and terminals. A lone surrogate cannot be encoded for any of
    them, and control, format and bidi characters would garble or disguise what is quoted.
    """
    if len(text) > QUOTED_CHARS:
        text = f"{text[:QUOTED_CHARS]}… ({len(text):,} characters)"
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def _quoted(text: str) -> str:
    return f'"{_shown(text)}"'


def _clip(clip_id: str, note: str) -> str:
    """``clip_id (note)``, the clip id shown safely."""
    return f"{_shown(clip_id)} ({note})"


_CHARACTER_NAMES = {
    "\x00": "NUL",
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
    "\ufeff": "a byte order mark",
}


def _character(char: str) -> str:
    """``'x'``, or for a character that does not print, its code point and name: ``U+FEFF (a byte order mark)``."""
    if char.isprintable():
        return f"'{char}'"
    name = _CHARACTER_NAMES.get(char) or unicodedata.name(char, "")
    return f"U+{ord(char):04X} ({name})" if name else f"U+{ord(char):04X}"


def _json_type(value: Any) -> str:
    if isinstance(value, _Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, _Number):
        return "number"
    return "string"


def _listing(items: list[str], total: int, limit: int = LISTED) -> str:
    """The first ``limit`` items, and how many more of ``total`` there are."""
    shown = ", ".join(items[:limit])
    if total > limit:
        return f"{shown} and {total - limit:,} more"
    return shown


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size % (1024 * 1024) else f"{size // (1024 * 1024)} MB"
