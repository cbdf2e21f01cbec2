"""The validator refuses a file whose narrations are in the other language's script, unless confirmed."""

from __future__ import annotations

import json

import pytest

from evaluation import validate
from evaluation.movie101v2 import read_split
from evaluation.script import MIN_HAN_EN, MIN_LETTERS_ZH, count_script, language_mismatch
from tests.support.data import DEMO_DATA, DEMO_PREDICTIONS

DEMO_FILES = {
    ("val", "zh"): "val-zh.json",
    ("val", "en"): "val-en.json",
    ("test", "zh"): "test-zh.json",
    ("test", "en"): "test-en.jsonl",
}


def demo(split: str, language: str) -> tuple[bytes, str, dict[str, str]]:
    name = DEMO_FILES[split, language]
    return (DEMO_PREDICTIONS / name).read_bytes(), name, read_split(DEMO_DATA, split, language)


def codes(report) -> list[str]:
    return [problem.code for problem in report.problems]


@pytest.mark.parametrize(("split", "language"), sorted(DEMO_FILES))
def test_a_demo_file_passes_as_its_own_language(split, language):
    data, name, references = demo(split, language)
    assert validate(data, references, filename=name, language=language).ok


@pytest.mark.parametrize(("split", "language"), sorted(DEMO_FILES))
def test_a_demo_file_is_refused_as_the_other_language_and_confirming_lifts_it(split, language):
    data, name, _ = demo(split, language)
    other = "en" if language == "zh" else "zh"
    references = read_split(DEMO_DATA, split, other)  # the same clips in both languages
    report = validate(data, references, filename=name, language=other)
    assert codes(report) == ["language_mismatch"]
    message = report.problems[0].message
    if other == "en":
        assert "You chose English (en)" in message
        assert "100% of the letters in the narrations are Chinese characters" in message
        assert "Choose zh, or confirm that the file is English." in message
    else:
        assert "You chose Chinese (zh)" in message
        assert "but 0% of the letters" in message
        assert "Choose en, or confirm that the file is Chinese." in message
    assert validate(data, references, filename=name, language=other, confirm_language=True).ok
    # Without a language (the corpus, scripts that only check the format) nothing is judged.
    assert validate(data, references, filename=name).ok


def test_english_with_a_few_chinese_names_passes_as_en():
    references = read_split(DEMO_DATA, "val", "en")
    narrations = {
        clip_id: f"[林海] meets [王小美] and [张三] at the lighthouse. {text}" for clip_id, text in references.items()
    }
    data = json.dumps(narrations, ensure_ascii=False).encode()
    count = count_script(narrations.values())
    assert count.han >= MIN_HAN_EN and count.han_share < 0.1
    assert validate(data, references, language="en").ok


def test_chinese_with_latin_names_and_numbers_passes_as_zh():
    references = read_split(DEMO_DATA, "val", "zh")
    narrations = {clip_id: f"[Tom]和[Mary]走进DVD店，买了3张CD。{text}" for clip_id, text in references.items()}
    data = json.dumps(narrations, ensure_ascii=False).encode()
    assert validate(data, references, language="zh").ok


def test_too_few_letters_are_not_judged():
    references = read_split(DEMO_DATA, "val", "zh")
    # English, but fewer letters than a judgement needs: accepted as zh.
    short = {clip_id: "a door" for clip_id in references}
    assert count_script(short.values()).letters < MIN_LETTERS_ZH
    assert validate(json.dumps(short).encode(), references, language="zh").ok
    # Chinese, but fewer characters than a judgement needs: accepted as en.
    few = {clip_id: "他走" for clip_id in references}
    assert count_script(few.values()).han < MIN_HAN_EN
    assert validate(json.dumps(few, ensure_ascii=False).encode(), references, language="en").ok
    # Nothing to judge at all: digits, punctuation, emoji, empty narrations.
    empty = {clip_id: "" if index % 2 else "1, 2… 🎬!" for index, clip_id in enumerate(references)}
    for language in ("zh", "en"):
        assert validate(json.dumps(empty).encode(), references, language=language).ok


def test_the_threshold_is_over_the_whole_file():
    # Half the clips in Chinese, half in English: neither language is refused.
    references = read_split(DEMO_DATA, "val", "zh")
    english = read_split(DEMO_DATA, "val", "en")
    mixed = {
        clip_id: (text if index % 2 else english[clip_id]) for index, (clip_id, text) in enumerate(references.items())
    }
    data = json.dumps(mixed, ensure_ascii=False).encode()
    share = count_script(mixed.values()).han_share
    assert 0.1 < share <= 0.5
    for language in ("zh", "en"):
        assert validate(data, references, language=language).ok


def test_the_mismatch_is_listed_with_the_files_other_problems():
    data, name, references = demo("val", "zh")
    narrations = json.loads(data)
    narrations["9100000000000000099_1_2"] = "一个不存在的片段里，有一个人在走路。"
    report = validate(json.dumps(narrations, ensure_ascii=False).encode(), references, language="en")
    assert codes(report) == ["unknown_clip_id", "language_mismatch"]
    report = validate(
        json.dumps(narrations, ensure_ascii=False).encode(), references, language="en", confirm_language=True
    )
    assert codes(report) == ["unknown_clip_id"]


def test_the_real_data_passes_for_its_language_and_is_refused_for_the_other(real_data):
    for language in ("zh", "en"):
        narrations = read_split(real_data, "val", language)
        assert language_mismatch(narrations.values(), language) is None
        other = "en" if language == "zh" else "zh"
        assert language_mismatch(narrations.values(), other) is not None


def test_the_message_never_rounds_to_all_or_nothing():
    mostly = ["中" * 999 + "a"]
    message = language_mismatch(mostly, "en")
    assert "more than 99% of the letters" in message
    barely = ["a" * 999 + "中"]
    assert "but less than 1% of the letters" in language_mismatch(barely, "zh")
