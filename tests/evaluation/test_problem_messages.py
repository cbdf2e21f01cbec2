"""Every problem the validator finds is an English template and its parameters, which the service translates.

The message stays what it was (``template.format(**params)`` is it); every field of every template,
nested ones too, has its parameter; and translated, a message holds no English word but the file's
own text (clip ids, quoted keys) and names and codes (``UTF-8``, ``U+FEFF``, ``clip_id``): every
other word is in a template, marked with ``gettext_noop`` for the catalog. No Django here.
"""

from __future__ import annotations

import ast
import random
import re
import string
from collections.abc import Iterator

import pytest

from evaluation import validate
from evaluation.movie101v2 import read_split
from evaluation.predictions import Problem, check_clip_ids, file_too_large, no_file, parse_narration_file
from evaluation.script import language_mismatch, language_mismatch_phrase
from evaluation.wording import Phrase, Series, gettext_noop, phrase
from tests.support.data import DEMO_DATA, ROOT
from tests.support.hostile import CASES, Hostile

REFERENCES = read_split(DEMO_DATA, "val", "zh")
IDS = sorted(REFERENCES)
#: Names and codes a translated message may keep: the JSON shapes' keys, Unicode's own names and
#: encodings (upper case), hexadecimal and escapes (``\ud800``, ``\x00``).
KEPT_WORDS = {"clip_id", "narration", "movie_id", "start_s", "end_s"}
_KEPT = re.compile(r"[A-Z0-9_\-]+|(?=[0-9a-f]*[0-9])[0-9a-f]+")
_ESCAPE = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def problems_of(case: Hostile) -> Iterator[tuple[bytes, Problem]]:
    """The case's problems, validated as the server does (language too) and as the references' reader does."""
    data = case.build(IDS)
    for language in ("zh", "en"):
        report = validate(data, REFERENCES, filename=case.filename, language=language, split_name=Phrase("the Test"))
        yield from ((data, problem) for problem in report.problems)
    parsed = parse_narration_file(data, filename=case.filename, max_narration_chars=5, what="reference")
    yield from ((data, problem) for problem in parsed.problems)


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def phrases_in(value) -> Iterator[Phrase]:
    if isinstance(value, Phrase):
        yield value
        for param in value.params.values():
            yield from phrases_in(param)
    elif isinstance(value, Series):
        for item in value.items:
            yield from phrases_in(item)


def assert_well_formed(problem: Problem) -> None:
    assert problem.template, problem
    assert problem.template.format(**problem.params) == problem.message
    for part in phrases_in(Phrase(problem.template, problem.params)):
        assert fields(part.template) == set(part.params), part
        assert all(name.isidentifier() for name in part.params), part


def pseudo(template: str) -> str:
    """A "translation" that keeps the fields and makes each ASCII letter of the text around them a full-width one."""
    out = []
    for text, name, spec, conversion in string.Formatter().parse(template):
        wide = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in text)
        out.append(wide.replace("{", "{{").replace("}", "}}"))
        if name is not None:
            out.append("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
    return "".join(out)


def english_words_left(text: str, data: bytes) -> set[str]:
    """The ASCII words of ``text`` that are neither kept names and codes nor the file's own text."""
    source = data.decode("utf-8", "replace")
    text = _ESCAPE.sub(" ", text)  # how a message shows a character of the file that does not print
    words = set(re.findall(r"[A-Za-z0-9_\-]*[A-Za-z][A-Za-z0-9_\-]*", text))
    return {word for word in words if word not in KEPT_WORDS and not _KEPT.fullmatch(word) and word not in source}


@pytest.mark.parametrize("case", [case for case in CASES if not case.accepted], ids=lambda case: case.name)
def test_every_problem_of_the_hostile_corpus_is_its_template_and_params(case):
    found = list(problems_of(case))
    assert any(problem.code == case.code for _, problem in found)
    for data, problem in found:
        assert_well_formed(problem)
        translated = problem.render(pseudo)
        assert translated != problem.message
        assert not english_words_left(translated, data), (problem.code, translated)


def test_the_other_problems_are_templates_too():
    big = 20 * 1024 * 1024
    extra_ids = ["junk", "x" * 200, "9_9_9", "\u202e", *IDS[:2]]
    problems = [
        file_too_large(big + 5, big),
        no_file(),
        *check_clip_ids(extra_ids, set(IDS)),
        *check_clip_ids(extra_ids, set(IDS), split_name="the Test references (zh)"),
        *parse_narration_file(b"  ", what="reference").problems,
        *parse_narration_file(b"{}", what="reference").problems,
        *parse_narration_file(b'{"a": "' + b"x" * 30 + b'"}', what="reference", max_narration_chars=3).problems,
        *parse_narration_file(b"\n".join([b"[1]"] * 12 + [b"{}"]), filename="p.jsonl").problems,
    ]
    assert {problem.code for problem in problems} >= {
        "file_too_large",
        "no_file",
        "malformed_clip_id",
        "unknown_clip_id",
        "missing_clip_id",
        "empty_file",
        "no_narrations",
        "narration_too_long",
        "bad_line",
    }
    for problem in problems:
        assert_well_formed(problem)
        # The ids are the file's text, and so is a split name given as a string: said as it is.
        given = " ".join([*extra_ids, "the Test references (zh)", "a"]).encode()
        assert not english_words_left(problem.render(pseudo), given), problem.render(pseudo)


def test_random_damage_to_good_files_gets_templates_with_every_field():
    """A few hundred files broken at random: every JSON error the parser says has its translation."""
    rng = random.Random(7)
    good = [
        "\n".join(f'{{"clip_id": "{clip_id}", "narration": "a narration"}}' for clip_id in IDS[:20]).encode(),
        ("{\n" + ",\n".join(f' "{clip_id}": "一个旁白"' for clip_id in IDS[:20]) + "\n}").encode(),
    ]
    pieces = [b"{", b"}", b"[", b"]", b'"', b",", b":", b"\n", b"\t", b"\x00", b"\\", b"\\u", b"\\ud800", b"\xff"]
    pieces += [b"\xef\xbb\xbf", b"null", b"1e5", b"NaN", "\u200b".encode(), b"\xe4"]
    for index in range(600):
        data = bytearray(good[index % 2])
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(data))
            if rng.random() < 0.6:
                data[at:at] = rng.choice(pieces) * rng.choice((1, 1, 1, 40))
            else:
                del data[at : at + rng.randint(1, 5)]
        data = bytes(data)
        for problem in validate(data, REFERENCES, filename="p.jsonl" if index % 4 == 0 else "p.json").problems:
            assert_well_formed(problem)
            assert not english_words_left(problem.render(pseudo), data), problem.render(pseudo)


def test_words_chosen_at_run_time_are_translated_on_their_own():
    data = b'{"clip_id": [1], "narration": "x"}\n'
    (problem,) = parse_narration_file(data, filename="p.jsonl").problems
    assert problem.message == "Line 1: clip_id must be a string, found a array."
    words = {"array": "数组", "Line {line}: clip_id must be a string, found a {type}.": "第 {line} 行：找到 {type}。"}
    assert problem.render(lambda text: words.get(text, text)) == "第 1 行：找到 数组。"


def test_numbers_keep_their_separators_and_a_bad_translation_falls_back_to_english():
    (problem,) = parse_narration_file(b'{"a": "' + b"x" * 2001 + b'"}').problems
    assert "2,001 characters" in problem.message and "2,000-character cap" in problem.message
    assert problem.params["limit"] == "2,000"
    broken = {problem.template: "超过 {limt} 个字符"}  # a field misspelt: the English template is used
    assert problem.render(lambda text: broken.get(text, text)) == problem.message


def test_a_problem_made_with_a_message_alone_is_said_as_it_is():
    problem = Problem("custom", "Something {odd} happened.", line=3)
    assert problem.template == "" and problem.render(str.upper) == "Something {odd} happened."
    assert problem.to_dict() == {"code": "custom", "message": "Something {odd} happened.", "line": 3}


def test_to_dict_is_unchanged_by_the_templates():
    (problem,) = parse_narration_file(b"[1, 2]").problems
    assert problem.to_dict() == {"code": "not_an_object", "message": problem.message}
    assert str(problem) == problem.message


def test_the_language_check_says_the_same_with_a_phrase():
    narrations = ["中文旁白" * 30]
    mismatch = language_mismatch_phrase(narrations, "en")
    assert mismatch is not None and str(mismatch) == language_mismatch(narrations, "en")
    assert mismatch.params["percent"] == "100%" and "{percent}" in mismatch.template
    barely = ["a" * 1000 + "中"]
    assert str(language_mismatch_phrase(barely, "zh")).startswith("You chose Chinese (zh), but less than 1% of")


def test_gettext_noop_is_the_identity_and_phrases_render_in_english_by_default():
    assert gettext_noop("Expecting value") == "Expecting value"
    listing = phrase("{items} and {more} more", items=Series(("a", phrase("{x} (y)", x="b"))), more="3")
    assert str(listing) == "a, b (y) and 3 more" and f"{listing}" == str(listing)


def test_every_marked_template_is_a_literal_makemessages_can_read():
    """``makemessages`` reads the argument of each ``gettext_noop`` call as a string literal; a variable or an
    f-string would reach the catalog as nothing."""
    for path in sorted((ROOT / "evaluation").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "gettext_noop":
                assert len(node.args) == 1 and not node.keywords, f"{path.name}:{node.lineno}"
                argument = node.args[0]
                assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), (
                    f"{path.name}:{node.lineno}"
                )
                assert argument.value, f"{path.name}:{node.lineno}: an empty msgid is the catalog's header"
