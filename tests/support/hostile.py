"""The hostile predictions files: every way to upload a bad file we could think of, written here as code.

Each case builds its bytes from the clip ids of a reference set (the demo's validation split in the
tests), so the corpus is a few kilobytes of source, not megabytes of files, and the same case runs
through ``evaluation.validate`` (tests/evaluation/test_hostile.py), the CLI, and the site, the API
and ``manage.py submit`` (tests/service/test_hostile_uploads.py). ``expected`` is a fragment of the
message that refuses the file and ``code`` that problem's code; a case with neither is a file that
looks odd but is valid, and is accepted. docs/reliability.md lists the corpus with its messages
(:func:`markdown_table`, kept in sync by a test). No Django here.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evaluation import validate
from evaluation.predictions import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_NARRATION_CHARS, MAX_CONTAINERS, MAX_NESTING

Build = Callable[[Sequence[str]], bytes]


@dataclass(frozen=True)
class Hostile:
    name: str
    #: What the file is, in a few words (docs/reliability.md).
    about: str
    build: Build
    #: The problem's code and a fragment of its message; both None for a file that is accepted.
    code: str | None
    expected: str | None
    filename: str = "predictions.json"
    #: What the site's and the API's form fields answer instead, when they refuse the file before validation.
    field_error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.code is None


# -- builders ----------------------------------------------------------------------------------------


def narrations(ids: Sequence[str], text: str = "a narration") -> dict[str, str]:
    return {clip_id: text for clip_id in ids}


def as_object(mapping: dict, *, ensure_ascii: bool = False) -> bytes:
    return json.dumps(mapping, ensure_ascii=ensure_ascii, indent=1).encode()


def good(ids: Sequence[str]) -> bytes:
    return as_object(narrations(ids))


def with_value(raw: str, at: int = 0) -> Build:
    """A good file whose ``at``-th clip has the JSON text ``raw`` as its value."""

    def build(ids: Sequence[str]) -> bytes:
        entries = [
            f'"{clip_id}": {raw if index == at else json.dumps("a narration")}' for index, clip_id in enumerate(ids)
        ]
        return ("{\n" + ",\n".join(entries) + "\n}").encode()

    return build


def with_key(raw_key: str, value: str = '"x"') -> Build:
    """A good file and one more entry whose key is the JSON text ``raw_key`` (with its quotes)."""
    return lambda ids: good(ids)[: -len(b"\n}")] + f",\n {raw_key}: {value}\n}}".encode()


def lines(ids: Sequence[str], text: str = "a narration") -> list[str]:
    return [json.dumps({"clip_id": clip_id, "narration": text}, ensure_ascii=False) for clip_id in ids]


def json_lines(replace: dict[int, str] | None = None, *, ending: str = "\n") -> Build:
    """Good JSON Lines, the line at each index of ``replace`` replaced by its text."""

    def build(ids: Sequence[str]) -> bytes:
        rows = lines(ids)
        for index, text in (replace or {}).items():
            rows[index] = text
        return ending.join(rows).encode()

    return build


def then(build: Build, change: Callable[[bytes], bytes]) -> Build:
    return lambda ids: change(build(ids))


def encoded(encoding: str, bom: bytes = b"") -> Build:
    return lambda ids: bom + json.dumps(narrations(ids), ensure_ascii=False).encode(encoding)


def constant(data: bytes) -> Build:
    return lambda ids: data


def fixed(text: str) -> Build:
    return constant(text.encode())


def duplicates(count: int) -> Build:
    """``count`` distinct clip ids, each written twice (finding 1's file: linear time or a stalled worker)."""

    def build(ids: Sequence[str]) -> bytes:
        entries = (
            f'"{9200000000000000000 + n}_0_5": "first",\n"{9200000000000000000 + n}_0_5": "again"' for n in range(count)
        )
        return ("{\n" + ",\n".join(entries) + "\n}").encode()

    return build


DEEP = 100_000
SURROGATE = "\\ud800"  # as JSON writes it: a lone high surrogate

# -- the corpus --------------------------------------------------------------------------------------

CASES: tuple[Hostile, ...] = (
    # Bytes and encodings
    Hostile(
        "empty",
        "0 bytes",
        constant(b""),
        "empty_file",
        "The file is empty.",
        field_error="The submitted file is empty.",
    ),
    Hostile(
        "whitespace_only", "spaces, tabs and line breaks only", fixed(" \t\r\n \n"), "empty_file", "only whitespace"
    ),
    Hostile("bom_only", "a UTF-8 byte order mark and nothing else", constant(codecs.BOM_UTF8), "empty_file", "empty"),
    Hostile(
        "two_boms",
        "two UTF-8 byte order marks",
        then(good, lambda data: codecs.BOM_UTF8 * 2 + data),
        "not_json",
        "a second byte order mark (U+FEFF)",
    ),
    Hostile("utf16_le_bom", "UTF-16 LE with its byte order mark", encoded("utf-16"), "not_utf8", "The file is UTF-16"),
    Hostile(
        "utf16_be_bom",
        "UTF-16 BE with its byte order mark",
        encoded("utf-16-be", codecs.BOM_UTF16_BE),
        "not_utf8",
        "The file is UTF-16",
    ),
    Hostile(
        "utf16_le",
        "UTF-16 LE without a byte order mark",
        encoded("utf-16-le"),
        "not_utf8",
        "UTF-16 (little-endian) without a byte order mark",
    ),
    Hostile(
        "utf16_be",
        "UTF-16 BE without a byte order mark",
        encoded("utf-16-be"),
        "not_utf8",
        "UTF-16 (big-endian) without a byte order mark",
    ),
    Hostile("utf32_le_bom", "UTF-32 LE with its byte order mark", encoded("utf-32"), "not_utf8", "The file is UTF-32"),
    Hostile(
        "utf32_be_bom",
        "UTF-32 BE with its byte order mark",
        encoded("utf-32-be", codecs.BOM_UTF32_BE),
        "not_utf8",
        "The file is UTF-32",
    ),
    Hostile(
        "utf32_le",
        "UTF-32 LE without a byte order mark",
        encoded("utf-32-le"),
        "not_utf8",
        "UTF-32 (little-endian) without a byte order mark",
    ),
    Hostile(
        "latin1",
        "Latin-1, not UTF-8 (an é)",
        lambda ids: as_object(narrations(ids, "café")).decode().encode("latin-1"),
        "not_utf8",
        "byte 0xE9",
    ),
    Hostile(
        "stray_continuation_byte",
        "a UTF-8 continuation byte alone",
        then(good, lambda data: data.replace(b"a narration", b"a \x80", 1)),
        "not_utf8",
        "byte 0x80",
    ),
    Hostile(
        "overlong_utf8",
        "an overlong UTF-8 encoding of '/'",
        then(good, lambda data: data.replace(b"a narration", b"a \xc0\xaf", 1)),
        "not_utf8",
        "byte 0xC0",
    ),
    Hostile(
        "utf8_surrogate",
        "a surrogate encoded as UTF-8 bytes (CESU-8)",
        then(good, lambda data: data.replace(b"a narration", b"\xed\xa0\x80", 1)),
        "not_utf8",
        "byte 0xED",
    ),
    Hostile(
        "cut_inside_character",
        "a file cut in the middle of a multi-byte character",
        lambda ids: (lambda data: data[: data.rindex("述".encode()) + 1])(as_object(narrations(ids, "叙述"))),
        "not_utf8",
        "ends in the middle of a UTF-8 character",
    ),
    Hostile("binary", "a PNG image", constant(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "not_utf8", "byte 0x89"),
    Hostile(
        "gzip", "a gzip-compressed file", constant(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"), "not_utf8", "byte 0x8B"
    ),
    Hostile(
        "nul_between_entries",
        "a NUL byte between two entries",
        then(good, lambda data: data.replace(b",\n", b",\x00\n", 1)),
        "not_json",
        "U+0000 (NUL)",
    ),
    Hostile(
        "nul_in_narration",
        "a raw NUL byte inside a narration",
        then(good, lambda data: data.replace(b"a narration", b"a\x00narration", 1)),
        "not_json",
        "U+0000 (NUL) inside a string",
    ),
    # JSON syntax
    Hostile(
        "cut_inside_string",
        "a file cut short inside a narration",
        lambda ids: good(ids)[:-6],
        "not_json",
        "a string starts here and the file ends inside it",
    ),
    Hostile(
        "cut_inside_string_newline",
        "cut short inside a narration, then a line break (finding: 'Invalid control character at.')",
        lambda ids: good(ids)[:-6] + b"\n",
        "not_json",
        "a string is not closed before the end of the file",
    ),
    Hostile(
        "cut_after_comma",
        "cut short after a comma",
        lambda ids: good(ids)[: good(ids).rindex(b",") + 1],
        "not_json",
        "the file ends here: it may be cut short",
    ),
    Hostile(
        "no_closing_brace", "the closing brace missing", lambda ids: good(ids)[:-2], "not_json", "the file ends here"
    ),
    Hostile(
        "trailing_garbage",
        "text after the object",
        then(good, lambda data: data + b"\nthanks!"),
        "not_json",
        "more after the end of the JSON value, found 't'",
    ),
    Hostile(
        "two_objects",
        "two objects one after the other",
        then(good, lambda data: data + data),
        "not_json",
        "more after the end of the JSON value",
    ),
    Hostile(
        "trailing_comma",
        "a comma after the last entry",
        then(good, lambda data: data[:-2] + b",\n}"),
        "not_json",
        "Expecting property name enclosed in double quotes, found '}'",
    ),
    Hostile(
        "single_quotes",
        "a Python dict's repr, single quotes",
        lambda ids: repr(narrations(ids)).encode(),
        "not_json",
        "found ''",
    ),
    Hostile(
        "comment",
        "a // comment line",
        then(good, lambda data: b"// my model\n" + data),
        "not_json",
        "Expecting value, found '/'",
    ),
    Hostile(
        "raw_line_break_in_narration",
        "a narration with a raw line break in it",
        then(good, lambda data: data.replace(b"a narration", b"a\nnarration", 1)),
        "not_json",
        "a string is not closed before the end of the line",
    ),
    Hostile(
        "raw_tab_in_narration",
        "a raw tab in a narration",
        then(good, lambda data: data.replace(b"a narration", b"a\tnarration", 1)),
        "not_json",
        "U+0009 (a tab) inside a string",
    ),
    Hostile(
        "raw_escape_char",
        "a raw ESC control character in a narration",
        then(good, lambda data: data.replace(b"a narration", b"\x1b[31mred", 1)),
        "not_json",
        "U+001B inside a string",
    ),
    Hostile("bad_escape", "an invalid backslash escape", with_value('"C:\\\\x\\q"'), "not_json", "Invalid \\escape"),
    Hostile(
        "short_unicode_escape",
        "a \\u escape with two digits",
        with_value('"\\u12"'),
        "not_json",
        "Invalid \\uXXXX escape",
    ),
    Hostile(
        "csv",
        "a CSV file",
        lambda ids: ("clip_id,narration\n" + "".join(f"{c},a narration\n" for c in ids)).encode(),
        "not_json",
        "found 'c'",
    ),
    Hostile(
        "html", "an HTML page", fixed("<!doctype html><title>404</title>"), "not_json", "Expecting value, found '<'"
    ),
    Hostile(
        "unquoted_keys",
        "keys without quotes",
        fixed("{clip: 'x'}"),
        "not_json",
        "Expecting property name enclosed in double quotes, found 'c'",
    ),
    # Not an object
    Hostile(
        "top_level_array",
        "an array of narrations",
        lambda ids: json.dumps(list(narrations(ids).values())).encode(),
        "not_an_object",
        "holds a JSON array",
    ),
    Hostile(
        "array_of_pairs",
        "an array of [clip id, narration] pairs",
        lambda ids: json.dumps(list(narrations(ids).items())).encode(),
        "not_an_object",
        "JSON array",
    ),
    Hostile("top_level_number", "a number", fixed("42"), "not_an_object", "holds a JSON number"),
    Hostile(
        "top_level_huge_number", "a 100,000-digit number", fixed("9" * 100_000), "not_an_object", "holds a JSON number"
    ),
    Hostile("top_level_string", "a string", fixed('"all my narrations"'), "not_an_object", "holds a JSON string"),
    Hostile("top_level_null", "null", fixed("null"), "not_an_object", "holds a JSON null"),
    Hostile("top_level_true", "true", fixed("true"), "not_an_object", "holds a JSON boolean"),
    Hostile("empty_object", "{}", fixed("{}"), "no_narrations", "holds no narrations"),
    # Values
    Hostile("number_narration", "a number as a narration", with_value("3"), "not_a_string", "(number)"),
    Hostile(
        "huge_integer_narration",
        "a 5,000-digit integer (finding 2: ValueError)",
        with_value("1" * 5_000),
        "not_a_string",
        "(number)",
    ),
    Hostile(
        "huge_float_narration",
        "a 100,000-digit float",
        with_value("0." + "1" * 100_000 + "e999999"),
        "not_a_string",
        "(number)",
    ),
    Hostile("nan_narration", "NaN, not JSON", with_value("NaN"), "not_a_string", "(number)"),
    Hostile("infinity_narration", "-Infinity, not JSON", with_value("-Infinity"), "not_a_string", "(number)"),
    Hostile("null_narration", "null as a narration", with_value("null"), "not_a_string", "(null)"),
    Hostile("bool_narration", "false as a narration", with_value("false"), "not_a_string", "(boolean)"),
    Hostile("list_narration", "a list of sentences", with_value('["one", "two"]'), "not_a_string", "(array)"),
    Hostile("object_narration", "an object as a narration", with_value('{"text": "x"}'), "not_a_string", "(object)"),
    Hostile(
        "nested_at_the_bound",
        f"a value nested {MAX_NESTING - 1} deep, the most allowed",
        with_value("[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1)),
        "not_a_string",
        "(array)",
    ),
    Hostile(
        "narration_too_long",
        f"{DEFAULT_MAX_NARRATION_CHARS + 1:,} characters",
        with_value(json.dumps("x" * (DEFAULT_MAX_NARRATION_CHARS + 1))),
        "narration_too_long",
        f"({DEFAULT_MAX_NARRATION_CHARS + 1:,} characters)",
    ),
    Hostile(
        "long_line",
        "a line of 1,000,000 characters, one narration",
        with_value(json.dumps("叙" * 1_000_000, ensure_ascii=False)),
        "narration_too_long",
        "(1,000,000 characters)",
    ),
    # Text that is not Unicode (finding 3)
    Hostile(
        "surrogate_narration",
        "a lone high surrogate in a narration",
        with_value(f'"half {SURROGATE}"'),
        "not_unicode",
        "(narration, line 2)",
    ),
    Hostile(
        "low_surrogate_narration",
        "a lone low surrogate in a narration",
        with_value('"\\udc00"', at=1),
        "not_unicode",
        "(narration, line 3)",
    ),
    Hostile(
        "reversed_pair_narration",
        "a surrogate pair in the wrong order",
        with_value('"\\ude00\\ud83d"'),
        "not_unicode",
        "not valid Unicode text",
    ),
    Hostile(
        "surrogate_key",
        'a lone surrogate as a key, {"\\ud800": "x"} (finding 2)',
        fixed(f'{{"{SURROGATE}": "x"}}'),
        "not_unicode",
        "\\ud800 (clip id, line 1)",
    ),
    Hostile(
        "surrogate_in_clip_id",
        "a good clip id with a lone surrogate after it",
        lambda ids: with_key(f'"{ids[0]}{SURROGATE}"')(ids),
        "not_unicode",
        "(clip id, line",
    ),
    # Keys
    Hostile(
        "unknown_clip_ids",
        "clip ids of another split",
        with_key('"9300000000000000000_1_2"'),
        "unknown_clip_id",
        "not in",
    ),
    Hostile("malformed_key", "a key that is not a clip id", with_key('"clip one"'), "malformed_clip_id", '"clip one"'),
    Hostile(
        "missing_clips",
        "half the clips",
        lambda ids: as_object(narrations(ids[: len(ids) // 2])),
        "missing_clip_id",
        "without a narration",
    ),
    Hostile(
        "one_clip",
        "one clip of the split",
        lambda ids: as_object(narrations(ids[:1])),
        "missing_clip_id",
        "without a narration",
    ),
    Hostile(
        "html_key",
        "a key with HTML in it",
        with_key('"<script>alert(1)</script>"'),
        "malformed_clip_id",
        '"<script>alert(1)</script>"',
    ),
    Hostile(
        "bidi_key",
        "a key with a right-to-left override",
        with_key('"\\u202egnp.exe"'),
        "malformed_clip_id",
        '"\\u202egnp.exe"',
    ),
    Hostile(
        "zero_width_key",
        "a clip id with a zero-width space",
        lambda ids: with_key(f'"{ids[0]}\\u200b"')(ids),
        "malformed_clip_id",
        "\\u200b",
    ),
    Hostile(
        "newline_key",
        "a clip id with a line break at its end",
        lambda ids: with_key(f'"{ids[0][:-1]}9\\n"')(ids),
        "unknown_clip_id",
        "\\n",
    ),
    Hostile(
        "long_key",
        "a 100,000-character key",
        with_key(json.dumps("k" * 100_000)),
        "malformed_clip_id",
        "… (100,000 characters)",
    ),
    Hostile(
        "duplicate_clip",
        "one clip twice",
        lambda ids: with_key(f'"{ids[3]}"')(ids),
        "duplicate_clip_id",
        "(lines 5, 12)",
    ),
    Hostile(
        "duplicate_escaped",
        "one clip twice, once written with \\u escapes",
        lambda ids: with_key('"' + "".join(f"\\u{ord(c):04x}" for c in ids[0]) + '"')(ids),
        "duplicate_clip_id",
        "(lines 2, 12)",
    ),
    Hostile(
        "duplicates_45000",
        "45,000 clip ids each written twice, 2.6 MB (finding 1: no answer)",
        duplicates(45_000),
        "duplicate_clip_id",
        "Duplicate clip ids (45,000)",
    ),
    # Nesting
    Hostile(
        "deep_top_level",
        f"[ × {DEEP:,} then ] × {DEEP:,} (finding 2: RecursionError)",
        fixed("[" * DEEP + "]" * DEEP),
        "too_deep",
        "nested more than",
    ),
    Hostile(
        "deep_value",
        f"a value of [ × {DEEP:,} then ] × {DEEP:,}",
        with_value("[" * DEEP + "]" * DEEP),
        "too_deep",
        "line 2, column",
    ),
    Hostile(
        "deep_objects", f'{{"a": × {DEEP:,}', fixed('{"a":' * DEEP + "1" + "}" * DEEP), "too_deep", "nested more than"
    ),
    Hostile("deep_unclosed", f"[ × {DEEP:,}, never closed", fixed("[" * DEEP), "too_deep", "nested more than"),
    Hostile(
        "deep_json_line",
        "a JSON Lines line of [ × 100,000 then ] × 100,000",
        json_lines({1: "[" * DEEP + "]" * DEEP}),
        "too_deep",
        "line 2, column 33",
    ),
    Hostile(
        "many_containers",
        f"more than {MAX_CONTAINERS:,} empty arrays in a value",
        with_value("[" + "[]," * MAX_CONTAINERS + "[]]"),
        "too_many_containers",
        f"more than {MAX_CONTAINERS:,} arrays and objects",
    ),
    Hostile(
        "syntax_error_before_deep",
        "a syntax error, then deep nesting",
        fixed('{"a" "b",\n' + "[" * DEEP),
        "not_json",
        "line 1, column 6: Expecting ':' delimiter",
    ),
    # JSON Lines
    Hostile(
        "jsonl_bad_line",
        "a JSON Lines line that is not JSON",
        json_lines({2: '{"clip_id": "x"'}),
        "not_json",
        "line 3, column 16",
    ),
    Hostile(
        "jsonl_wrong_field_names",
        'lines of {"id", "text"}',
        lambda ids: "\n".join(json.dumps({"id": c, "text": "x"}) for c in ids).encode(),
        "bad_line",
        'has the keys "id", "text"',
    ),
    Hostile(
        "jsonl_extra_field",
        "a line with a third key",
        json_lines({1: '{"clip_id": "x", "narration": "y", "score": 1}'}),
        "bad_line",
        '"score"',
    ),
    Hostile(
        "jsonl_repeated_field",
        "a line with clip_id twice",
        json_lines({1: '{"clip_id": "x", "clip_id": "y", "narration": "z"}'}),
        "bad_line",
        "once each",
    ),
    Hostile(
        "jsonl_many_keys",
        "a line with 10,000 keys",
        json_lines({1: json.dumps({f"k{n}": 1 for n in range(10_000)})}),
        "bad_line",
        "and 9,990 more",
    ),
    Hostile(
        "jsonl_clip_id_number",
        "a clip_id that is a number",
        json_lines({1: '{"clip_id": 12, "narration": "y"}'}),
        "bad_line",
        "clip_id must be a string, found a number",
    ),
    Hostile(
        "jsonl_null_narration",
        "a null narration",
        lambda ids: json_lines({1: json.dumps({"clip_id": ids[1], "narration": None})})(ids),
        "not_a_string",
        "(null)",
    ),
    Hostile(
        "jsonl_line_is_array",
        "a line that is an array",
        json_lines({1: '["x", "y"]'}),
        "not_an_object",
        "Line 2 holds a JSON array",
    ),
    Hostile(
        "jsonl_duplicate_clip",
        "a clip on two lines",
        lambda ids: json_lines({1: lines(ids[:1])[0]})(ids),
        "duplicate_clip_id",
        "(line 2, first on line 1)",
    ),
    Hostile(
        "jsonl_many_bad_lines",
        "JSON Lines, then a hundred lines that are not JSON",
        then(json_lines(), lambda data: data + b"\nnot json" * 100),
        "bad_line",
        "… and 90 more lines with problems like the ones above.",
    ),
    Hostile(
        "lines_of_open_braces",
        "a hundred lines of {",
        fixed("{\n" * 100),
        "not_json",
        "line 2, column 1: Expecting property name enclosed in double quotes, found '{'",
    ),
    Hostile(
        "jsonl_surrogate_narration",
        "a lone surrogate in a JSON Lines narration",
        lambda ids: json_lines({1: json.dumps({"clip_id": ids[1], "narration": "\ud800"})})(ids),
        "not_unicode",
        "(narration, line 2)",
    ),
    Hostile(
        "jsonl_surrogate_clip_id",
        "a lone surrogate in a JSON Lines clip_id",
        json_lines({1: '{"clip_id": "\\udfff", "narration": "y"}'}),
        "not_unicode",
        "\\udfff (clip id, line 2)",
    ),
    Hostile(
        "jsonl_huge_number_clip_id",
        "a 10,000-digit clip_id",
        json_lines({1: '{"clip_id": ' + "7" * 10_000 + ', "narration": "y"}'}),
        "bad_line",
        "found a number",
    ),
    Hostile(
        "jsonl_key_not_string",
        "a line with a key that is not a string",
        json_lines({1: '{1: "x"}'}),
        "not_json",
        "Expecting property name enclosed in double quotes",
    ),
    Hostile(
        "jsonl_named_but_object",
        "a JSON object in a file named .jsonl",
        good,
        "not_json",
        "Not valid JSON: line 1",
        filename="predictions.jsonl",
    ),
    Hostile(
        "mixed_formats",
        "an object, then JSON Lines",
        lambda ids: b"\n".join([json.dumps(narrations(ids[:2])).encode(), *(line.encode() for line in lines(ids[2:]))]),
        "bad_line",
        "Line 1 has the keys",
    ),
    Hostile(
        "jsonl_cut_short",
        "JSON Lines cut short",
        lambda ids: json_lines()(ids)[:-5],
        "not_json",
        "the line ends inside it",
    ),
    # Size
    Hostile(
        "over_the_size_cap",
        f"{DEFAULT_MAX_FILE_BYTES + 1:,} bytes",
        lambda ids: good(ids) + b" " * (DEFAULT_MAX_FILE_BYTES + 1 - len(good(ids))),
        "file_too_large",
        "size cap",
    ),
    # Odd but valid: accepted
    Hostile(
        "accepted_utf8_bom", "a UTF-8 byte order mark", then(good, lambda data: codecs.BOM_UTF8 + data), None, None
    ),
    Hostile("accepted_crlf", "CRLF line ends", then(good, lambda data: data.replace(b"\n", b"\r\n")), None, None),
    Hostile(
        "accepted_jsonl_crlf_blank_lines",
        "JSON Lines with CRLF and blank lines",
        lambda ids: ("\r\n\r\n".join(lines(ids)) + "\r\n\r\n").encode(),
        None,
        None,
    ),
    Hostile(
        "accepted_jsonl_cr_only", "JSON Lines with CR line ends (classic Mac)", json_lines(ending="\r"), None, None
    ),
    Hostile(
        "accepted_jsonl_u2028",
        "a raw U+2028 in a JSON Lines narration (not a line end)",
        lambda ids: "\n".join(lines(ids, "a\u2028narration")).encode(),
        None,
        None,
    ),
    Hostile("accepted_empty_narrations", 'every narration ""', lambda ids: as_object(narrations(ids, "")), None, None),
    Hostile(
        "accepted_whitespace_narrations",
        "every narration whitespace (scored as empty)",
        lambda ids: as_object(narrations(ids, " \t\u3000")),
        None,
        None,
    ),
    Hostile(
        "accepted_zero_width_and_bidi",
        "zero-width and bidi characters in narrations",
        lambda ids: as_object(narrations(ids, "a\u200bb\u200dc\u202ed\u2066e\ufeff")),
        None,
        None,
    ),
    Hostile(
        "accepted_escaped_controls",
        "NUL and ESC written as \\u escapes",
        lambda ids: as_object(narrations(ids, "a\x00b\x1b[0m")),
        None,
        None,
    ),
    Hostile(
        "accepted_astral",
        "emoji as a surrogate pair escape",
        lambda ids: as_object(narrations(ids, "🎬 a scene"), ensure_ascii=True),
        None,
        None,
    ),
    Hostile(
        "accepted_brackets_in_narrations",
        "1,000 [ in each narration (strings do not nest)",
        lambda ids: as_object(narrations(ids, "[" * 1000)),
        None,
        None,
    ),
    Hostile(
        "accepted_placeholders",
        "{reference} and {prediction} in narrations",
        # In Chinese around the placeholders: the corpus is sent as zh, and Latin letters alone are an English file.
        lambda ids: as_object(narrations(ids, "{reference} {prediction} {0} %s 一段旁白")),
        None,
        None,
    ),
    Hostile(
        "accepted_exactly_the_cap",
        f"narrations of exactly {DEFAULT_MAX_NARRATION_CHARS:,} characters",
        lambda ids: as_object(narrations(ids, "字" * DEFAULT_MAX_NARRATION_CHARS)),  # Chinese: sent as zh
        None,
        None,
    ),
    # File names: the name picks JSON Lines by its suffix and is stored as given, and only so
    Hostile("name_traversal", "a good file named ../../x.json", good, None, None, filename="../../x.json"),
    Hostile(
        "name_html",
        "a good file named with HTML and quotes",
        good,
        None,
        None,
        filename="\"><img src=x onerror=alert(1)>'.json",
    ),
    Hostile("name_long", "a good file with a 1,000-character name", good, None, None, filename="n" * 995 + ".json"),
    Hostile(
        "name_html_rejected",
        "a bad file named with HTML",
        fixed("[]"),
        "not_an_object",
        "holds a JSON array",
        filename="<script>alert(1)</script>.json",
    ),
)

BY_NAME = {case.name: case for case in CASES}
assert len(BY_NAME) == len(CASES), "two cases share a name"
REFUSED = tuple(case for case in CASES if not case.accepted)
ACCEPTED = tuple(case for case in CASES if case.accepted)
#: Cases over a megabyte: the slower surfaces (a process per case) run only a few of them.
LARGE = frozenset({"over_the_size_cap", "long_line", "duplicates_45000"})


def refusal_messages(references: dict[str, str]) -> dict[str, str]:
    """The message that refuses each refused case, validated against ``references``."""
    ids = sorted(references)
    messages = {}
    for case in REFUSED:
        report = validate(case.build(ids), references, filename=case.filename)
        messages[case.name] = next(problem.message for problem in report.problems if problem.code == case.code)
    return messages


def markdown_table(messages: dict[str, str]) -> str:
    """The corpus as docs/reliability.md lists it: ``messages`` maps each refused case to its message."""
    rows = ["| case | file | answer |", "| --- | --- | --- |"]
    for case in CASES:
        answer = "accepted" if case.accepted else f"`{case.code}`: `{_cell(messages[case.name])}`"
        rows.append(f"| {case.name} | {_cell(case.about)} | {answer} |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    text = text if len(text) <= 240 else text[:240] + "…"
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


if __name__ == "__main__":
    # python -m tests.support.hostile: the table for docs/reliability.md, against the demo's validation references.
    from evaluation.movie101v2 import read_split

    from .data import DEMO_DATA

    print(markdown_table(refusal_messages(read_split(DEMO_DATA, "val", "zh"))), end="")
