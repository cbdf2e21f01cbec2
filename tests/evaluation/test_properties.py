"""Properties of the validator and the stages after it, over generated files (hypothesis).

* Any bytes get a report, never an exception, and its messages print anywhere.
* Whatever the validator accepts, every later stage handles: the normalizer, both tokenizers, the
  judge's cache key and messages, the parsed form (strict UTF-8) and, in the slow run, the whole score.
* The validator's rule for text is exactly what the stages can encode.

Deterministic: derandomized, no example database, a bounded number of examples.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evaluation
from evaluation import validate
from evaluation.judge.cache import cache_key
from evaluation.judge.prompts import BUILTIN
from evaluation.movie101v2 import read_split
from evaluation.predictions import ValidationReport
from evaluation.ptb import _JAVA_LINE_BREAKS, ptb_tokenize
from evaluation.text import is_unicode_text, normalize, tokenize_zh
from tests.support.data import DEMO_DATA

REFERENCES = {language: read_split(DEMO_DATA, "val", language) for language in ("zh", "en")}
IDS = sorted(REFERENCES["zh"])
assert IDS == sorted(REFERENCES["en"])


def bounded(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- strategies --------------------------------------------------------------------------------

#: Any code point, lone surrogates included (hypothesis leaves them out unless asked).
ANY_CHARACTER = st.characters(exclude_categories=())
#: Characters that break files and tools: controls, separators, format and bidi characters, JSON's own.
AWKWARD = st.sampled_from(
    list('\x00\t\n\r\x0b\x0c\x1b\x7f\x85\u00a0\u2028\u2029\u200b\u200d\u202e\u2066\ufeff\ud800\udfff"\\[]{}|:,')
)
TEXT = st.text(st.one_of(ANY_CHARACTER, AWKWARD, st.sampled_from("林海灯塔 the man")), max_size=40)
KEYS = st.one_of(st.sampled_from(IDS), TEXT, st.from_regex(r"\A[0-9]{1,20}_[0-9]{1,4}_[0-9]{1,4}\Z"))
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        TEXT,
    ),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12,
)


@st.composite
def files(draw) -> tuple[bytes, str]:
    """A predictions file, mostly well formed, sometimes not: (bytes, file name)."""
    entries = draw(
        st.lists(st.tuples(KEYS, st.one_of(TEXT, TEXT, JSON_VALUES)), max_size=14)
        | st.just([(clip_id, "a narration") for clip_id in IDS])
    )
    if draw(st.booleans()):  # often a whole split
        entries = [(clip_id, draw(TEXT)) for clip_id in IDS] + entries[:2]
    as_lines = draw(st.booleans())
    ascii_only = draw(st.booleans())
    if as_lines:
        text = "\n".join(
            json.dumps({"clip_id": key, "narration": value}, ensure_ascii=ascii_only) for key, value in entries
        )
    else:
        body = ",\n".join(f"{json.dumps(key, ensure_ascii=ascii_only)}: {json.dumps(value)}" for key, value in entries)
        text = "{\n" + body + "\n}"
    data = text.encode("utf-8", "surrogatepass")  # raw surrogates, written unescaped, are not UTF-8
    mutation = draw(st.sampled_from(["none", "none", "cut", "insert", "brackets"]))
    if mutation == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif mutation == "insert":
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.binary(max_size=8) | st.sampled_from([b"[" * 100, b"9" * 5000, b"\xef\xbb\xbf"]))
            + data[at:]
        )
    elif mutation == "brackets":
        depth = draw(st.integers(1, 200))
        data = data.replace(b'"a narration"', b"[" * depth + b'"a"' + b"]" * depth, 1)
    return data, "predictions.jsonl" if as_lines and draw(st.booleans()) else "predictions.json"


# -- properties --------------------------------------------------------------------------------


def assert_reported(report: ValidationReport) -> None:
    """A report, whose messages and clip ids print anywhere, and whose JSON is strict UTF-8."""
    assert isinstance(report, ValidationReport)
    for problem in report.problems:
        for text in (problem.message, *problem.clip_ids):
            assert text.isprintable(), ascii(text)
    json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")


def assert_every_stage_handles(predictions: dict[str, str], language: str) -> None:
    """The stages after validation, on each narration it accepted (the PTB tokenizer apart: it needs Java)."""
    references = REFERENCES[language]
    json.dumps(predictions, ensure_ascii=False).encode("utf-8")  # the parsed form the service stores
    for clip_id, narration in predictions.items():
        normalized = normalize(narration)
        assert not _JAVA_LINE_BREAKS.intersection(normalized) and "|" not in normalized
        tokenize_zh(normalized)
        for (_, template_language), template in BUILTIN.items():
            if template_language == language:
                cache_key("judge-model", template, references.get(clip_id, ""), narration, 0.0)
                json.dumps(template.messages(references.get(clip_id, ""), narration), ensure_ascii=False).encode()


@bounded(400)
@given(st.binary(max_size=3000))
def test_any_bytes_get_a_report_never_an_exception(data):
    assert_reported(validate(data, REFERENCES["zh"]))


@bounded(200)
@given(files())
def test_any_file_gets_a_report_and_what_is_accepted_every_stage_handles(file):
    data, filename = file
    report = validate(data, REFERENCES["zh"], filename=filename, allow_partial=True)
    assert_reported(report)
    if report.ok:
        assert_every_stage_handles(report.predictions, "zh")
        assert_every_stage_handles(report.predictions, "en")


@bounded(300)
@given(TEXT)
def test_the_validator_accepts_exactly_the_text_the_stages_can_encode(narration):
    data = json.dumps({clip_id: narration for clip_id in IDS}).encode()  # \u escapes: any str is valid JSON
    report = validate(data, REFERENCES["zh"])
    try:
        narration.encode("utf-8")
    except UnicodeEncodeError:
        assert not is_unicode_text(narration)
        assert [problem.code for problem in report.problems] == ["not_unicode"]
        with pytest.raises(UnicodeEncodeError):  # what the judge did on every attempt (finding 3)
            cache_key("judge-model", BUILTIN[("l1", "zh")], "reference", narration, 0.0)
    else:
        assert is_unicode_text(narration)
        assert report.ok or [problem.code for problem in report.problems] == ["narration_too_long"]
        assert_every_stage_handles(report.predictions, "zh")


@bounded(5)
@given(st.lists(TEXT, min_size=1, max_size=len(IDS)))
def test_the_ptb_tokenizer_takes_every_accepted_narration(narrations):
    """One Java run per example, so a few examples; the slow run below scores many more."""
    data = json.dumps(dict(zip(IDS, narrations, strict=False))).encode()
    report = validate(data, REFERENCES["en"], allow_partial=True)
    if report.ok:
        captions = [normalize(text) for text in report.predictions.values()]
        assert len(ptb_tokenize(captions)) == len(captions)


@pytest.mark.slow
@bounded(30)
@given(files(), st.sampled_from(["zh", "en"]))
def test_every_accepted_file_is_scored(file, language):
    data, filename = file
    report = validate(data, REFERENCES[language], filename=filename, allow_partial=True)
    if report.ok:
        result = evaluation.score(REFERENCES[language], report.predictions, language, allow_partial=True)
        assert set(result.per_clip) == set(IDS)


def test_the_generated_files_reach_every_outcome():
    """The strategy is worth its examples: it makes accepted files and each kind of refusal."""
    codes: set[str] = set()

    @bounded(400)
    @given(files())
    def collect(file):
        data, filename = file
        report = validate(data, REFERENCES["zh"], filename=filename)
        codes.update(problem.code for problem in report.problems)
        if report.ok:
            codes.add("ok")

    collect()
    expected = {"ok", "not_json", "not_utf8", "not_unicode", "not_a_string", "too_deep", "malformed_clip_id"}
    assert expected <= codes, expected - codes
