"""The PTB tokenizer starts Java once per submission, and the references' tokens are kept per reference set.

The tokenizer works line by line (``-preserveLines``): the tests prove on the real test split that a
caption's tokens do not depend on its neighbours (alone, in another order, in another batch), so that
cached references and one batch of references plus predictions give pycocoevalcap's tokens. Java
start-ups are counted by ``ptb.launches()``, which the tokenizer increments before each ``java``.
"""

from __future__ import annotations

import pytest
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

import evaluation
from evaluation import ptb
from evaluation.text import normalize
from tests.support.data import shifted_predictions


@pytest.fixture
def empty_cache():
    ptb.clear_cache()
    yield
    ptb.clear_cache()


@pytest.fixture(scope="module")
def english(real_test_split) -> tuple[list[str], list[str]]:
    """The test split's normalized English references and shifted predictions, in clip order."""
    references = real_test_split["en"]
    predictions = shifted_predictions(references)
    ids = sorted(references)
    return [normalize(references[key]) for key in ids], [normalize(predictions[key]) for key in ids]


@pytest.fixture(scope="module")
def batch_tokens(english) -> list[str]:
    return ptb.ptb_tokenize(english[0])


def test_a_caption_has_the_same_tokens_alone_in_another_order_and_in_another_batch(english, batch_tokens):
    references, _ = english
    assert ptb.ptb_tokenize(references[::-1]) == batch_tokens[::-1]
    assert ptb.ptb_tokenize(references[1::2] + references[::2]) == batch_tokens[1::2] + batch_tokens[::2]
    # Alone: one Java start-up each, so a sample; the longest captions and those with the most punctuation.
    by_length = sorted(range(len(references)), key=lambda index: len(references[index]))
    by_punctuation = sorted(range(len(references)), key=lambda index: sum(not c.isalnum() for c in references[index]))
    for index in {*by_length[-4:], *by_punctuation[-4:], by_length[0]}:
        assert ptb.ptb_tokenize([references[index]]) == [batch_tokens[index]]


def test_the_batch_equals_pycocoevalcaps_tokenizer(english, batch_tokens):
    references, _ = english
    theirs = PTBTokenizer().tokenize({index: [{"caption": caption}] for index, caption in enumerate(references)})
    assert batch_tokens == [theirs[index][0] for index in range(len(references))]


def test_a_miss_starts_java_once_and_a_hit_tokenizes_only_the_predictions(english, batch_tokens, empty_cache):
    references, predictions = english
    expected_predictions = ptb.ptb_tokenize(predictions)

    before = ptb.launches()
    miss = ptb.ptb_tokenize_with_references(references, predictions)
    assert ptb.launches() == before + 1  # references and predictions in one start-up
    assert miss == (batch_tokens, expected_predictions)

    hit = ptb.ptb_tokenize_with_references(references, predictions[:100])
    assert ptb.launches() == before + 2
    assert hit == (batch_tokens, expected_predictions[:100])

    hit[0][0] = "changed by the caller"
    assert ptb.ptb_tokenize_with_references(references, [])[0] == batch_tokens  # the cache hands out copies
    assert ptb.launches() == before + 2  # nothing to tokenize, no Java at all


def test_the_cache_keeps_the_most_recent_reference_sets(english, empty_cache, monkeypatch):
    references, _ = english
    monkeypatch.setattr(ptb, "CACHE_SIZE", 2)
    sets = [references[:3], references[3:6], references[6:9]]
    for captions in sets:
        ptb.ptb_tokenize_with_references(captions, [])
    ptb.ptb_tokenize_with_references(sets[1], [])  # a hit: now the most recent
    assert list(ptb._cache._entries) == [ptb.captions_key(sets[2]), ptb.captions_key(sets[1])]

    monkeypatch.setattr(ptb, "CACHE_SIZE", 0)
    ptb.clear_cache()
    before = ptb.launches()
    for _ in range(2):
        assert ptb.ptb_tokenize_with_references(sets[0], ["he waves."]) == (ptb.ptb_tokenize(sets[0]), ["he waves"])
    assert len(ptb._cache) == 0 and ptb.launches() == before + 4


def test_keys_depend_on_every_caption_and_their_boundaries():
    assert ptb.captions_key(["a b", "c"]) != ptb.captions_key(["a", "b c"])
    assert ptb.captions_key(["ab", ""]) != ptb.captions_key(["a", "b"])
    assert ptb.captions_key(["a", "b"]) != ptb.captions_key(["b", "a"])
    assert ptb.captions_key(["a", "b"]) == ptb.captions_key(("a", "b"))


def test_a_warm_english_score_starts_java_once_and_gives_the_same_result(real_test_split, empty_cache):
    references = {key: real_test_split["en"][key] for key in sorted(real_test_split["en"])[::9]}
    predictions = shifted_predictions(references)
    before = ptb.launches()
    cold = evaluation.score(references, predictions, "en")
    warm = evaluation.score(references, predictions, "en")
    assert ptb.launches() == before + 2  # one per score
    assert warm.metrics == cold.metrics and warm.per_clip == cold.per_clip
    assert warm.stats.to_json_dict() == cold.stats.to_json_dict()
    ptb.clear_cache()
    assert evaluation.score(references, predictions, "en").metrics == cold.metrics
    chinese = {key: real_test_split["zh"][key] for key in sorted(real_test_split["zh"])[::9]}
    evaluation.score(chinese, shifted_predictions(chinese), "zh")
    assert ptb.launches() == before + 3  # Chinese never starts the tokenizer
