"""Reading and validating a narration file.

The server runs exactly this code on upload, before anything is queued, and
the CLI runs it offline, so a participant sees the same list of problems in
both places. Every problem is collected, not just the first one.

Two formats are accepted, UTF-8 with or without a BOM:

* a JSON object ``{"<clip_id>": "<narration>", ...}``;
* JSON Lines, one ``{"clip_id": ..., "narration": ...}`` object a line.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .clips import CLIP_ID_FORM, is_clip_id

DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_NARRATION_CHARS = 2000
#: How many clip ids an error lists before it says "and N more".
LISTED = 10

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
_JSON_LINES_KEYS = {"clip_id", "narration"}


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
    #: Every clip id the file names, including those rejected for their value.
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
    if not text.strip():
        return ParsedFile({}, None, [Problem("empty_file", "The file is empty.")])

    if filename and filename.lower().endswith(JSON_LINES_SUFFIXES):
        parsed = _parse_json_lines(text)
    else:
        parsed = _parse_json_object_or_lines(text)
    if parsed.format is not None and not parsed.narrations and not parsed.problems:
        parsed.problems.append(Problem("no_narrations", f"The file holds no {what}s."))
    if max_narration_chars is not None:
        parsed.problems.extend(_too_long(parsed.narrations, max_narration_chars, what))
    return parsed


def _decode(data: bytes) -> tuple[str, Problem | None]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(codecs.BOM_UTF32_LE):
        return "", Problem(
            "not_utf8", "The file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return "", Problem(
            "not_utf8",
            f"The file is not UTF-8: byte 0x{data[exc.start]:02X} at offset {exc.start} (line {line}) "
            f"cannot be decoded ({exc.reason}). Save the file as UTF-8.",
            line=line,
        )
    return text.removeprefix("\ufeff"), None


class _Pairs(list):
    """A JSON object kept as its key/value pairs, so duplicate keys survive."""


def _loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_Pairs)


def _parse_json_object_or_lines(text: str) -> ParsedFile:
    try:
        value = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and _looks_like_json_lines(text):
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
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return isinstance(_loads(first), _Pairs)
    except json.JSONDecodeError:
        return False


def _not_json(exc: json.JSONDecodeError, line_offset: int = 0) -> Problem:
    line = exc.lineno + line_offset
    return Problem(
        "not_json",
        f"Not valid JSON: line {line}, column {exc.colno}: {exc.msg}.",
        line=line,
        column=exc.colno,
    )


def _from_object(pairs: _Pairs, text: str) -> ParsedFile:
    narrations: dict[str, str] = {}
    seen: dict[str, int] = {}
    wrong_types: list[tuple[str, str]] = []
    for clip_id, value in pairs:
        seen[clip_id] = seen.get(clip_id, 0) + 1
        if seen[clip_id] > 1:
            continue
        if isinstance(value, str):
            narrations[clip_id] = value
        else:
            wrong_types.append((clip_id, _json_type(value)))
    problems = []
    duplicates = [clip_id for clip_id, times in seen.items() if times > 1]
    if duplicates:
        problems.append(
            _about_clips(
                "duplicate_clip_id",
                "Duplicate clip ids",
                duplicates,
                [_with_lines(clip_id, text) for clip_id in duplicates],
                "It is not clear which narration counts: give each clip one.",
            )
        )
        for clip_id in duplicates:
            narrations.pop(clip_id, None)
    if wrong_types:
        problems.append(_wrong_types(wrong_types))
    return ParsedFile(narrations, "json", problems, set(seen))


def _with_lines(key: str, text: str) -> str:
    """``key (lines 3, 9)``, where the key is written plainly in the file."""
    pattern = re.compile(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:")
    lines = [str(text.count("\n", 0, match.start()) + 1) for match in pattern.finditer(text)]
    return f"{key} (lines {', '.join(lines)})" if len(lines) > 1 else key


def _parse_json_lines(text: str) -> ParsedFile:
    narrations: dict[str, str] = {}
    first_line: dict[str, int] = {}
    bad_lines: list[Problem] = []
    duplicates: list[str] = []
    duplicate_details: list[str] = []
    wrong_types: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = _loads(line)
        except json.JSONDecodeError as exc:
            bad_lines.append(
                Problem(
                    "not_json",
                    f"Not valid JSON: line {number}, column {exc.colno}: {exc.msg}.",
                    line=number,
                    column=exc.colno,
                )
            )
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
            bad_lines.append(
                Problem(
                    "bad_line",
                    f"Line {number} has the keys {', '.join(map(json.dumps, names)) or 'none'}; "
                    'expected exactly "clip_id" and "narration", once each.',
                    line=number,
                )
            )
            continue
        clip_id = fields["clip_id"]
        if not isinstance(clip_id, str):
            bad_lines.append(
                Problem(
                    "bad_line",
                    f"Line {number}: clip_id must be a string, found a {_json_type(clip_id)}.",
                    line=number,
                )
            )
            continue
        if clip_id in first_line:
            duplicates.append(clip_id)
            duplicate_details.append(f"{clip_id} (line {number}, first on line {first_line[clip_id]})")
            narrations.pop(clip_id, None)
            continue
        first_line[clip_id] = number
        if isinstance(fields["narration"], str):
            narrations[clip_id] = fields["narration"]
        else:
            wrong_types.append((clip_id, _json_type(fields["narration"])))

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
    if wrong_types:
        problems.append(_wrong_types(wrong_types))
    return ParsedFile(narrations, "jsonl", problems, set(first_line))


def _summarize_lines(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= LISTED:
        return problems
    rest = len(problems) - LISTED
    return problems[:LISTED] + [
        Problem("bad_line", f"… and {rest} more lines with problems like the ones above.", count=rest)
    ]


def _wrong_types(wrong: list[tuple[str, str]]) -> Problem:
    return _about_clips(
        "not_a_string",
        "Narrations that are not strings",
        [clip_id for clip_id, _ in wrong],
        [f"{clip_id} ({kind})" for clip_id, kind in wrong],
        "Each narration must be a JSON string.",
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
            [f"{clip_id} ({length:,} characters)" for clip_id, length in long],
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
    malformed = [clip_id for clip_id in extra if not is_clip_id(clip_id)]
    unknown = [clip_id for clip_id in extra if is_clip_id(clip_id)]
    if malformed:
        problems.append(
            _about_clips(
                "malformed_clip_id",
                f"Keys that are not clip ids of the form {CLIP_ID_FORM}",
                malformed,
                [json.dumps(key, ensure_ascii=False) for key in malformed],
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
) -> ValidationReport:
    """Everything the server checks before it accepts a predictions file."""
    reference_ids = references.keys() if isinstance(references, Mapping) else references
    reference_ids = set(reference_ids)
    if max_file_bytes is not None and len(data) > max_file_bytes:
        return ValidationReport({}, [file_too_large(len(data), max_file_bytes)], None, len(reference_ids), 0)
    parsed = parse_narration_file(data, filename=filename, max_narration_chars=max_narration_chars)
    problems = list(parsed.problems)
    # An unreadable or empty file would make every clip "missing": say nothing more then.
    if parsed.given_ids:
        problems += check_clip_ids(parsed.given_ids, reference_ids, allow_partial=allow_partial, split_name=split_name)
    missing = len(reference_ids - parsed.narrations.keys())
    return ValidationReport(parsed.narrations, problems, parsed.format, len(reference_ids), missing)


# -- wording ---------------------------------------------------------------


def _about_clips(
    code: str, heading: str, clip_ids: list[str], details: list[str] | None = None, advice: str = ""
) -> Problem:
    """``Heading (count): the first ten details and N more. Advice.``"""
    details = clip_ids if details is None else details
    message = f"{heading} ({len(clip_ids):,}): {_listing(details, len(details))}."
    return Problem(
        code,
        f"{message} {advice}" if advice else message,
        count=len(clip_ids),
        clip_ids=tuple(clip_ids[:LISTED]),
    )


def _json_type(value: Any) -> str:
    if isinstance(value, _Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def _listing(items: list[str], total: int) -> str:
    """The first ten items, and how many more there are."""
    shown = ", ".join(items[:LISTED])
    if total > LISTED:
        return f"{shown} and {total - LISTED:,} more"
    return shown


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size % (1024 * 1024) else f"{size // (1024 * 1024)} MB"
