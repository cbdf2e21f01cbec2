"""The validator's problems said in the user's language: ``files.problem_text``, wherever the service shows one.

The catalog is not written yet, so the translation here is a stand-in passed through the seam
(``problem_text(problem, translate=...)``) or patched in for Django's ``gettext``: what is checked is
that the message is built from the translated template and translated words, and that without a
translation it is the English message, byte for byte. ``makemessages`` must find every template:
checked by running ``xgettext`` as it does.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from evaluation import validate
from evaluation.movie101v2 import read_split
from evaluation.predictions import Problem, parse_narration_file
from evaluation.wording import Phrase, Series
from leaderboard.submissions import files, payloads
from leaderboard.submissions.files import problem_text
from tests.support.data import DEMO_DATA, ROOT
from tests.support.hostile import REFUSED
from tests.support.service import api_client_for, upload

REFERENCES = read_split(DEMO_DATA, "val", "zh")
IDS = sorted(REFERENCES)

#: A few translations, as the zh-hans catalog will hold them.
CHINESE = {
    "Line {line}: clip_id must be a string, found a {type}.": "第 {line} 行：clip_id 必须是字符串，却是{type}。",
    "array": "数组",
    "Narrations that are not strings ({count}): {clips}. Each narration must be a JSON string.": (
        "不是字符串的旁白（{count}）：{clips}。每条旁白都必须是 JSON 字符串。"
    ),
    ", ": "、",
    "{items} and {more} more": "{items} 等另外 {more} 个",
    "number": "数字",
    "null": "空值",
}


def chinese(text: str) -> str:
    return CHINESE.get(text, text)


def marked(text: str) -> str:
    """Every template and word "translated" visibly: wrapped in brackets."""
    return f"[{text}]"


def test_the_message_is_built_from_the_translated_template_and_words():
    (problem,) = parse_narration_file(b'{"clip_id": [1], "narration": "x"}\n', filename="p.jsonl").problems
    assert problem_text(problem, translate=chinese) == "第 1 行：clip_id 必须是字符串，却是数组。"
    assert problem_text(problem, translate=marked) == "[Line 1: clip_id must be a string, found a [array].]"


def test_lists_counts_and_clip_ids_are_kept_in_the_translation():
    ids = [f"91000_{n}_{n + 1}" for n in range(12)]
    data = ("{" + ", ".join(f'"{clip_id}": {"1" if n % 2 else "null"}' for n, clip_id in enumerate(ids)) + "}").encode()
    (problem,) = parse_narration_file(data).problems
    assert problem.code == "not_a_string" and problem.count == 12
    text = problem_text(problem, translate=chinese)
    assert text.startswith("不是字符串的旁白（12）：91000_0_1 (空值)、91000_1_2 (数字)、")
    assert text.endswith("91000_9_10 (数字) 等另外 2 个。每条旁白都必须是 JSON 字符串。")


def test_without_a_translation_every_message_is_the_english_one():
    """In English, or with a translation that changes nothing, a problem says what the validator said."""
    for case in REFUSED:
        for problem in validate(case.build(IDS), REFERENCES, filename=case.filename, language="en").problems:
            with translation.override("en"):
                assert problem_text(problem) == problem.message, case.name
            assert problem_text(problem, translate=lambda text: text) == problem.message


def test_the_active_language_catalog_is_the_one_used():
    """In zh-hans the catalogs of zh-hans answer (Django's own already has the list separator, "，")."""
    problem = next(
        problem for problem in validate(b"{}", REFERENCES, language="zh").problems if problem.code == "no_narrations"
    )
    listing = validate(b'{"9_9_9": "x"}', REFERENCES).problems[-1]
    assert listing.code == "missing_clip_id"
    with translation.override("zh-hans"):
        separator = translation.gettext(", ")
        assert separator.join(listing.clip_ids[:2]) in problem_text(listing)
        assert problem_text(problem) == translation.gettext("The file holds no narrations.")
    with translation.override("en"):
        assert ", ".join(listing.clip_ids[:2]) in problem_text(listing)


def test_a_problem_without_a_template_is_its_message():
    problem = Problem("custom", "Said {as} it is.")
    assert problem_text(problem, translate=marked) == "Said {as} it is."


def test_a_translation_that_does_not_fit_its_template_is_passed_over_for_english():
    (problem,) = parse_narration_file(b'{"clip_id": [1], "narration": "x"}\n', filename="p.jsonl").problems
    broken = {"Line {line}: clip_id must be a string, found a {type}.": "第 {lien} 行 {", "array": "数组"}
    text = problem_text(problem, translate=lambda text: broken.get(text, text))
    assert text == "Line 1: clip_id must be a string, found a 数组."


def test_the_split_is_named_in_the_users_language(demo_val):
    report = files.validate_predictions(demo_val, "zh", b'{"9_9_9": "x"}', "p.json")
    problem = next(problem for problem in report.problems if problem.code == "unknown_clip_id")
    assert f"not in the {demo_val.title} references (zh) (1)" in problem.message
    names = {"the {phase} references ({language})": "{phase} 的参考（{language}）"}
    assert f"{demo_val.title} 的参考（zh）" in problem_text(problem, translate=lambda text: names.get(text, text))
    # The offline validator, told the options through the API, speaks English: a plain string.
    assert files.validation_options(demo_val, "zh")["split_name"] == f"the {demo_val.title} references (zh)"


# -- where the service shows problems ------------------------------------------------------------


@pytest.fixture
def gettext_in_chinese(monkeypatch):
    """Django's gettext, as ``problem_text`` calls it, answering from :data:`CHINESE`."""
    monkeypatch.setattr(files, "gettext", chinese)


def test_the_api_lists_the_problems_in_the_users_language(alice, demo_val, gettext_in_chinese):
    data = b'{"clip_id": "' + IDS[0].encode() + b'", "narration": "x"}\n{"clip_id": [1], "narration": "y"}\n'
    response = upload(api_client_for(alice), demo_val, "zh", data, name="p.jsonl")
    assert response.status_code == 400
    errors = response.json()["errors"]
    bad = next(error for error in errors if error["code"] == "bad_line")
    assert bad == {"code": "bad_line", "message": "第 2 行：clip_id 必须是字符串，却是数组。", "line": 2}
    missing = next(error for error in errors if error["code"] == "missing_clip_id")
    assert missing["count"] == len(IDS) - 1 and missing["clip_ids"] == IDS[1:]


def test_the_rejection_payload_keeps_every_field_but_the_message(gettext_in_chinese):
    (problem,) = parse_narration_file(b'{"clip_id": [1], "narration": "x"}\n', filename="p.jsonl").problems
    (error,) = payloads.rejection_payload([problem])["errors"]
    assert error == problem.to_dict() | {"message": "第 1 行：clip_id 必须是字符串，却是数组。"}
    assert list(error) == list(problem.to_dict())


def test_the_submit_command_lists_the_problems_in_the_active_language(alice, demo_val, tmp_path, gettext_in_chinese):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"clip_id": [1], "narration": "x"}\n')
    with pytest.raises(CommandError) as refused:
        call_command(
            "submit", str(path), "--user", "alice", "--phase", "demo/val", "--language", "zh", stdout=io.StringIO()
        )
    assert refused.value.returncode == 2
    assert "  - 第 1 行：clip_id 必须是字符串，却是数组。" in str(refused.value)


# -- the catalog can have them all ---------------------------------------------------------------


def extracted_msgids(paths: list[Path]) -> set[str]:
    """The msgids ``makemessages`` would extract from ``paths``: ``xgettext`` run with its options."""
    keywords = ["gettext_noop", "gettext_lazy", "ngettext_lazy:1,2", "pgettext:1c,2", "npgettext:1c,2,3"]
    command = ["xgettext", "--language=Python", "--from-code=UTF-8", "--add-comments=Translators", "--output=-"]
    command += [f"--keyword={keyword}" for keyword in keywords] + [str(path) for path in paths]
    pot = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    msgids, current = set(), None
    for line in pot.splitlines():
        if line.startswith("msgid "):
            current = [line[len("msgid ") :]]
        elif line.startswith('"') and current is not None:
            current.append(line)
        else:
            if current is not None:
                msgids.add("".join(_unquote(part) for part in current))
            current = None
    return msgids - {""}


def _unquote(part: str) -> str:
    return re.sub(r"\\(.)", lambda match: {"n": "\n", "t": "\t"}.get(match[1], match[1]), part[1:-1])


def templates_of(value) -> set[str]:
    if isinstance(value, Phrase):
        return {value.template}.union(*(templates_of(param) for param in value.params.values()))
    if isinstance(value, Series):
        return set().union(*(templates_of(item) for item in value.items))
    return set()


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext's xgettext")
def test_makemessages_extracts_every_template_with_words():
    """Templates without words ("{clip} ({note})", "U+{code} ({name})") need no translation and are not marked."""
    msgids = extracted_msgids(
        [*sorted((ROOT / "evaluation").glob("*.py")), ROOT / "leaderboard" / "submissions" / "files.py"]
    )
    used = set()
    for case in REFUSED:
        for language in ("zh", "en"):
            report = validate(case.build(IDS), REFERENCES, filename=case.filename, language=language)
            for problem in report.problems:
                used |= templates_of(Phrase(problem.template, problem.params))
    with_words = {template for template in used if re.search(r"[a-z]{2}", re.sub(r"\{\w*\}", "", template))}
    assert with_words and not with_words - msgids, sorted(with_words - msgids)
    assert "the {phase} references ({language})" in msgids and ", " in msgids
