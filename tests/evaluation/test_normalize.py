"""The table-driven normalizer gives exactly what the protocol's per-character definition gives."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation import text as text_module
from evaluation.movie101v2 import read_split
from evaluation.text import normalize
from tests.support.data import movie101v2_root


def normalize_by_definition(narration: str) -> str:
    """The protocol as written before the table (one Python test per character)."""
    narration = unicodedata.normalize("NFKC", narration).translate(str.maketrans("", "", "[]"))
    narration = "".join(" " if char == "|" or unicodedata.category(char)[0] in "ZC" else char for char in narration)
    return re.sub(" {2,}", " ", narration).strip()


@settings(max_examples=2000, deadline=None, derandomize=True, database=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80))
def test_any_text_normalizes_as_the_definition_says(narration):
    assert normalize(narration) == normalize_by_definition(narration)


@pytest.mark.parametrize(
    "narration",
    [
        "[Zhang San] walks | in\u2028the\u00a0rain\u200b.",
        "  ||| a\tb\r\nc \ufeff",
        "ｆｕｌｌ　ｗｉｄｔｈ［名字］",
        "\ud800 lone surrogate",  # the validator refuses it; the normalizer still must not differ
        "",
    ],
)
def test_hand_picked_texts(narration):
    assert normalize(narration) == normalize_by_definition(narration)


def test_every_code_point_has_the_definitions_verdict_even_past_the_cap():
    every = "".join(chr(code_point) for code_point in range(0x110000))
    assert normalize(every) == normalize_by_definition(every)
    # Past the cap a verdict is computed, not remembered: the table stops growing.
    assert len(text_module._TABLE) <= text_module._CharacterTable.LIMIT


@pytest.mark.skipif(movie101v2_root() is None, reason="needs the real Movie101v2 annotations")
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_real_test_split_normalizes_as_before(language):
    references = read_split(movie101v2_root(), "test", language)
    for clip_id, narration in references.items():
        assert normalize(narration) == normalize_by_definition(narration), clip_id
