"""The predictions validator: one test per kind of problem, each checking the wording names it."""

import codecs
import json

import pytest

from evaluation import validate
from evaluation.predictions import DEFAULT_MAX_NARRATION_CHARS, parse_narration_file

REFS = {f"100_{n}_{n + 5}": f"reference {n}" for n in range(0, 60, 5)}
IDS = sorted(REFS)


def as_json(mapping) -> bytes:
    return json.dumps(mapping, ensure_ascii=False, indent=1).encode()


def full(**overrides) -> dict:
    return {**{clip_id: "a narration" for clip_id in IDS}, **overrides}


def only(report, code):
    problems = [problem for problem in report.problems if problem.code == code]
    assert problems, f"no {code} problem in {[p.code for p in report.problems]}"
    return problems[0]


def test_a_good_file_passes():
    report = validate(as_json(full()), REFS)
    assert report.ok and report.format == "json" and len(report.predictions) == len(REFS)


def test_json_lines_and_bom_are_accepted():
    lines = "\n".join(json.dumps({"clip_id": clip_id, "narration": "叙述"}, ensure_ascii=False) for clip_id in IDS)
    report = validate(codecs.BOM_UTF8 + lines.encode(), REFS)
    assert report.ok and report.format == "jsonl" and report.predictions[IDS[0]] == "叙述"


def test_not_json_gives_line_and_column():
    data = b'{\n "100_0_5": "ok"\n "100_5_10": "no comma before me"\n}'
    problem = only(validate(data, REFS), "not_json")
    assert (problem.line, problem.column) == (3, 2)
    assert "line 3, column 2: Expecting ',' delimiter" in problem.message


def test_not_an_object():
    problem = only(validate(b'["100_0_5", "a narration"]', REFS), "not_an_object")
    assert "JSON array" in problem.message and "expected an object" in problem.message


def test_value_that_is_not_a_string():
    report = validate(as_json(full(**{IDS[0]: 3, IDS[1]: None, IDS[2]: ["x"]})), REFS)
    problem = only(report, "not_a_string")
    assert problem.count == 3
    assert f"{IDS[0]} (number)" in problem.message and f"{IDS[1]} (null)" in problem.message
    assert f"{IDS[2]} (array)" in problem.message
    assert not any(p.code == "missing_clip_id" for p in report.problems)


def test_duplicate_key_is_detected_never_last_wins():
    text = "{\n" + ",\n".join(f'"{clip_id}": "n"' for clip_id in IDS) + f',\n"{IDS[3]}": "again"\n}}'
    report = validate(text.encode(), REFS)
    problem = only(report, "duplicate_clip_id")
    assert problem.clip_ids == (IDS[3],)
    assert f"{IDS[3]} (lines 5, {len(IDS) + 2})" in problem.message
    assert not report.ok


def test_duplicate_clip_in_json_lines_names_both_lines():
    lines = [json.dumps({"clip_id": clip_id, "narration": "n"}) for clip_id in IDS] + [
        json.dumps({"clip_id": IDS[0], "narration": "again"})
    ]
    problem = only(validate("\n".join(lines).encode(), REFS), "duplicate_clip_id")
    assert f"{IDS[0]} (line {len(IDS) + 1}, first on line 1)" in problem.message


def test_unknown_clip_ids_count_and_first_ten():
    extra = {f"999_{n}_{n + 1}": "x" for n in range(15)}
    problem = only(validate(as_json(full(**extra)), REFS, split_name="the Test references (en)"), "unknown_clip_id")
    assert problem.count == 15 and len(problem.clip_ids) == 10
    assert "(15)" in problem.message and "and 5 more" in problem.message
    assert "the Test references (en)" in problem.message


def test_malformed_keys_are_called_out():
    problem = only(validate(as_json(full(**{"clip one": "x"})), REFS), "malformed_clip_id")
    assert '"clip one"' in problem.message and "<movie_id>_<start_s>_<end_s>" in problem.message


def test_missing_clip_ids_count_and_first_ten():
    partial = {clip_id: "n" for clip_id in IDS[:1]}
    problem = only(validate(as_json(partial), REFS), "missing_clip_id")
    assert problem.count == len(IDS) - 1 and problem.clip_ids == tuple(IDS[1:11])
    assert f"({len(IDS) - 1})" in problem.message and "and 1 more" in problem.message


def test_missing_clips_are_allowed_on_a_partial_phase():
    report = validate(as_json({IDS[0]: "n"}), REFS, allow_partial=True)
    assert report.ok and report.missing_clips == len(IDS) - 1


@pytest.mark.parametrize("data", [b"", b"   \n\t", codecs.BOM_UTF8])
def test_empty_file(data):
    report = validate(data, REFS)
    assert [p.code for p in report.problems] == ["empty_file"]
    assert "empty" in report.problems[0].message


def test_empty_object_holds_no_narrations():
    assert [p.code for p in validate(b"{}", REFS).problems] == ["no_narrations"]


def test_file_over_the_size_cap():
    report = validate(as_json(full()), REFS, max_file_bytes=100)
    problem = only(report, "file_too_large")
    assert "size cap" in problem.message and report.predictions == {}


def test_narration_over_the_length_cap():
    long = "x" * (DEFAULT_MAX_NARRATION_CHARS + 1)
    problem = only(validate(as_json(full(**{IDS[4]: long})), REFS), "narration_too_long")
    assert (
        IDS[4] in problem.message and "2,001 characters" in problem.message and "2,000-character cap" in problem.message
    )


def test_not_utf8_names_the_offset_and_line():
    data = b'{\n"100_0_5": "caf\xe9"\n}'
    problem = only(validate(data, REFS), "not_utf8")
    assert "0xE9" in problem.message and "line 2" in problem.message and problem.line == 2


def test_utf16_is_recognised():
    data = json.dumps(full()).encode("utf-16")
    assert "UTF-16" in only(validate(data, REFS), "not_utf8").message


def test_every_problem_is_listed_at_once():
    data = as_json({**{clip_id: "n" for clip_id in IDS[2:]}, IDS[3]: 5, "999_1_2": "x", IDS[4]: "y" * 3000})
    codes = {p.code for p in validate(data, REFS).problems}
    assert codes == {"not_a_string", "unknown_clip_id", "missing_clip_id", "narration_too_long"}


def test_json_lines_bad_lines_are_numbered():
    lines = [json.dumps({"clip_id": clip_id, "narration": "n"}) for clip_id in IDS]
    lines[2] = '{"clip_id": "x"'
    lines[4] = json.dumps({"clip_id": IDS[4], "text": "n"})
    report = validate("\n".join(lines).encode(), REFS)
    messages = [p.message for p in report.problems]
    assert any(m.startswith("Not valid JSON: line 3") for m in messages)
    assert any("Line 5 has the keys" in m for m in messages)


def test_a_single_json_lines_record_is_read_as_json_lines():
    parsed = parse_narration_file(json.dumps({"clip_id": IDS[0], "narration": "n"}).encode())
    assert parsed.format == "jsonl" and parsed.narrations == {IDS[0]: "n"}
