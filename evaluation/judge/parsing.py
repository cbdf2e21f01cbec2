"""Reading a judge's answer: tolerant of its form, strict about its content.

Tolerated: a JSON object inside a code fence or among other text, full-width
digits and punctuation, curly quotes, key case, extra keys. Refused: a
missing score, a number outside 0-5, a fraction, anything ambiguous. A
refused answer is re-asked; it never becomes a number.
"""

from __future__ import annotations

import json
import re
import unicodedata

#: The integer scores each stage's answer carries, in the order the comma form lists them.
STAGE_KEYS: dict[str, tuple[str, ...]] = {"l1": ("environment", "character"), "l2": ("plot",)}
PARSERS = ("json", "comma")
SCORE_RANGE = (0, 5)

_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.S)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "「": '"', "」": '"'})


class AnswerError(ValueError):
    """The answer cannot be read as the stage's scores; the message says why."""


def parse_answer(text: str, stage: str, parser: str = "json") -> dict[str, int]:
    if stage not in STAGE_KEYS:
        raise ValueError(f"unknown stage {stage!r}")
    if text is None or not text.strip():
        raise AnswerError("the answer is empty")
    normalized = unicodedata.normalize("NFKC", text).translate(_QUOTES).strip()
    if parser == "json":
        return _parse_json(normalized, stage)
    if parser == "comma":
        return _parse_comma(normalized, stage)
    raise ValueError(f"unknown parser {parser!r}")


def _score(value: object, key: str) -> int:
    if isinstance(value, bool):
        raise AnswerError(f'"{key}" is {json.dumps(value)}, not an integer')
    if isinstance(value, str):
        stripped = value.strip()
        if not re.fullmatch(r"[-+]?\d+(?:\.0+)?", stripped):
            raise AnswerError(f'"{key}" is {json.dumps(value, ensure_ascii=False)[:40]}, not an integer')
        value = float(stripped)
    if isinstance(value, float):
        if not value.is_integer():
            raise AnswerError(f'"{key}" is {value}, not an integer')
        value = int(value)
    if not isinstance(value, int):
        raise AnswerError(f'"{key}" is {type(value).__name__}, not an integer')
    low, high = SCORE_RANGE
    if not low <= value <= high:
        raise AnswerError(f'"{key}" is {value}, outside {low}-{high}')
    return value


def _json_objects(text: str):
    """Candidate JSON texts: fenced blocks first, then the outermost braces, then the whole text."""
    for block in _FENCE.findall(text):
        yield block.strip()
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        yield text[start : end + 1]
    yield text


def _refuse_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    """``{"plot": 1, "Plot": 5}`` has no single reading; JSON would silently keep the last."""
    by_key: dict[str, object] = {}
    for key, value in pairs:
        folded = str(key).strip().lower()
        if folded in by_key:
            raise AnswerError(f'the answer gives "{folded}" more than once')
        by_key[folded] = value
    return by_key


def _parse_json(text: str, stage: str) -> dict[str, int]:
    objects = []
    for candidate in _json_objects(text):
        try:
            value = json.loads(candidate, object_pairs_hook=_refuse_repeated_keys)
        except AnswerError:
            raise
        except ValueError:
            continue
        if isinstance(value, dict):
            objects.append(value)
    if not objects:
        if text.count("{") > 1 and text.count("}") > 1:
            raise AnswerError("the answer holds several JSON objects or broken JSON; expected exactly one object")
        raise AnswerError("no JSON object in the answer")
    keys = STAGE_KEYS[stage]
    # Two fenced blocks, or a block and a different object in the prose, are two verdicts: taking
    # either would be a guess. The same verdict repeated (the block found again as the text) is one.
    with_scores = [found for found in objects if any(key in found for key in keys)]
    _refuse_different_readings([_reading(found, keys) for found in with_scores])
    chosen = (with_scores or objects)[0]
    scores = {}
    for key in keys:
        if key not in chosen:
            raise AnswerError(f'the answer has no "{key}"')
        scores[key] = _score(chosen[key], key)
    return scores


def _reading(found: dict, keys: tuple[str, ...]) -> tuple:
    """What a candidate says about each score, so that ``4``, ``4.0`` and ``"4"`` read the same."""
    reading = []
    for key in keys:
        try:
            reading.append(_score(found[key], key) if key in found else None)
        except AnswerError:
            reading.append(("unreadable", json.dumps(found[key], ensure_ascii=False, sort_keys=True)))
    return tuple(reading)


def _refuse_different_readings(readings: list) -> None:
    if len(set(readings)) > 1:
        raise AnswerError("the answer gives more than one set of scores")


def _parse_comma(text: str, stage: str) -> dict[str, int]:
    """The released protocol's form: ``"3,5"`` for L1 and ``"4"`` for L2."""
    blocks = _FENCE.findall(text)
    if blocks:
        # A fenced answer is read from its fences only. Fenced blocks that disagree are two
        # verdicts; the same numbers fenced twice are one.
        with_numbers = [block for block in blocks if _NUMBER.search(block)]
        _refuse_different_readings(
            [tuple(float(number) for number in _NUMBER.findall(block)) for block in with_numbers]
        )
        text = (with_numbers or blocks)[0]
    numbers = _NUMBER.findall(text)
    keys = STAGE_KEYS[stage]
    if len(numbers) != len(keys):
        raise AnswerError(f"expected {len(keys)} number(s) separated by a comma, found {len(numbers)}")
    if len(keys) > 1 and not re.fullmatch(r"\s*[-+]?[\d.]+\s*[,、;]\s*[-+]?[\d.]+\s*\.?\s*", text):
        raise AnswerError("expected two numbers separated by a comma")
    return {key: _score(number, key) for key, number in zip(keys, numbers, strict=True)}
