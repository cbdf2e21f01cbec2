"""The n-grams of tokenized sentences as dense integer ids, for exact n-gram counting with numpy.

pycocoevalcap counts the n-grams (n = 1..4, words from ``str.split()``) of every sentence in a Python
dict of tuples: on 46,006 clips that is millions of tuples and dicts. Here each word of a reference set
gets an integer id, and each k-gram (k >= 2) the row of the pair (id of its first k-1 words, id of its
last word) in a sorted table of the pairs the references contain. A sentence becomes arrays of ids;
counting and matching are sorts and binary searches. Counts are integers, so counting in another
order than pycocoevalcap's gives its counts exactly.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np

from .reference_cache import ReferenceCache

N = 4

#: The id of a word or k-gram the references lack, and of "no k-gram starts here".
ABSENT = -1


@dataclass(frozen=True)
class Sentences:
    """Sentences as word ids, concatenated: sentence ``s`` is ``lengths[s]`` ids after the previous ones."""

    words: np.ndarray
    lengths: np.ndarray

    def sentence_of_word(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.lengths), dtype=np.int64), self.lengths)

    def words_left(self) -> np.ndarray:
        """At each position, the words from there to the end of its sentence (itself included)."""
        ends = np.repeat(np.cumsum(self.lengths), self.lengths)
        return ends - np.arange(len(self.words), dtype=np.int64)


@dataclass(frozen=True)
class NgramTable:
    """The distinct k-grams (k = 1..N) of a reference set."""

    vocabulary: dict[str, int]
    #: For k = 2..N, sorted ``prefix_id * len(vocabulary) + last_word_id``; a k-gram's id is its row.
    pairs: tuple[np.ndarray, ...]

    def size(self, k: int) -> int:
        """How many distinct k-grams the references have (k-gram ids are below it)."""
        return len(self.vocabulary) if k == 1 else len(self.pairs[k - 2])

    def sentences(self, texts: Iterable[str]) -> Sentences:
        """Other sentences (a submission's) in this table's word ids; ABSENT for unknown words."""
        return _sentences(texts, self.vocabulary)

    def kgram_ids(self, sentences: Sentences) -> list[np.ndarray]:
        """For k = 1..N, the id of the k-gram starting at each word of ``sentences``, ABSENT if none or unknown."""
        return list(self.each_kgram_ids(sentences))

    def each_kgram_ids(self, sentences: Sentences) -> Iterator[np.ndarray]:
        """:meth:`kgram_ids` one k at a time, holding two of them at most (memory on 46k clips)."""
        ids = sentences.words
        yield ids
        left = sentences.words_left()
        for k, pairs in enumerate(self.pairs, start=2):
            pair, valid = _pairs(ids, sentences.words, left, k, len(self.vocabulary))
            ids = np.full(len(pair), ABSENT, dtype=np.int64)
            wanted = pair[valid]
            rows = np.searchsorted(pairs, wanted)
            found = rows < len(pairs)
            found[found] = pairs[rows[found]] == wanted[found]
            ids[np.flatnonzero(valid)[found]] = rows[found]
            yield ids

    def sentences_with_all_words(self, texts: Sequence[str]) -> tuple[Sentences, int]:
        """``texts`` with every word numbered: the references' ids, then new ids for the others.

        Returns the sentences and how many distinct words they may use (the extended vocabulary's size).
        """
        new_words = dict.fromkeys(chain.from_iterable(map(str.split, texts))).keys() - self.vocabulary.keys()
        first_new = len(self.vocabulary)
        extended = {**self.vocabulary, **{word: first_new + index for index, word in enumerate(new_words)}}
        return _sentences(texts, extended), len(extended)


def build_table(references: Sequence[str]) -> tuple[NgramTable, Sentences, list[np.ndarray]]:
    """The table of ``references``' k-grams, their word ids and the id of the k-gram at each word (k = 1..N)."""
    # Ids in order of first appearance, made at C speed.
    words = dict.fromkeys(chain.from_iterable(map(str.split, references)))
    vocabulary = {word: index for index, word in enumerate(words)}
    del words
    sentences = _sentences(references, vocabulary)
    tables, grams = dense_kgram_ids(sentences, len(vocabulary))
    return NgramTable(vocabulary, tables), sentences, grams


def dense_kgram_ids(sentences: Sentences, vocabulary_size: int) -> tuple[tuple[np.ndarray, ...], list[np.ndarray]]:
    """Ids for every k-gram of ``sentences`` (all words known): the pair tables (k = 2..N) and the ids."""
    tables: list[np.ndarray] = []
    grams = list(each_dense_kgram_ids(sentences, vocabulary_size, tables))
    return tuple(tables), grams


def each_dense_kgram_ids(
    sentences: Sentences, vocabulary_size: int, tables: list | None = None
) -> Iterator[np.ndarray]:
    """:func:`dense_kgram_ids` one k at a time (the pair tables appended to ``tables`` when given)."""
    ids = sentences.words
    yield ids
    left = sentences.words_left()
    for k in range(2, N + 1):
        pair, valid = _pairs(ids, sentences.words, left, k, vocabulary_size)
        table, rows = np.unique(pair[valid], return_inverse=True)
        ids = np.full(len(pair), ABSENT, dtype=np.int64)
        ids[valid] = rows
        if tables is not None:
            tables.append(table)
        yield ids


@dataclass(frozen=True)
class ReferenceNgrams:
    """What BLEU and CIDEr both derive from a reference set: its table and each reference's k-gram counts."""

    table: NgramTable
    #: The clip of each reference (references in ``gts`` order), nondecreasing.
    clip_of_reference: np.ndarray
    #: Each reference's number of words.
    lengths: np.ndarray
    #: For k = 1..N: sorted ``reference * max(table.size(k), 1) + kgram_id``, and how often it occurs there.
    keys: tuple[np.ndarray, ...]
    counts: tuple[np.ndarray, ...]

    @property
    def clips(self) -> int:
        return int(self.clip_of_reference[-1]) + 1 if len(self.clip_of_reference) else 0

    @property
    def one_reference_per_clip(self) -> bool:
        return len(self.clip_of_reference) == self.clips


_references = ReferenceCache()


def reference_ngrams(gts: Mapping[str, Sequence[str]]) -> tuple[ReferenceNgrams, Sentences, list[np.ndarray]]:
    """The n-grams of the references of ``gts``, with their word ids and the k-gram ids at each word.

    The latest reference set's :class:`ReferenceNgrams` is kept, so that BLEU and CIDEr share one (its
    memory and its cost); the word and k-gram ids (large, wanted once) are recomputed on a hit.
    """
    references = [reference for clip in gts.values() for reference in clip]
    built = []

    def build() -> ReferenceNgrams:
        table, sentences, grams = build_table(references)
        built.append((sentences, grams))
        clip_of_reference = np.repeat(np.arange(len(gts), dtype=np.int64), [len(clip) for clip in gts.values()])
        reference_of_word = sentences.sentence_of_word()
        counted = [counts_by_sentence(grams[k - 1], reference_of_word, table.size(k)) for k in range(1, N + 1)]
        keys = tuple(keys for keys, _ in counted)
        counts = tuple(counts.astype(np.int32) for _, counts in counted)
        return ReferenceNgrams(table, clip_of_reference, sentences.lengths, keys, counts)

    ngrams = _references.get(gts, build, 1)
    if built:
        return ngrams, *built[0]
    sentences = ngrams.table.sentences(references)
    return ngrams, sentences, ngrams.table.kgram_ids(sentences)


def clear_cache() -> None:
    _references.clear()


def sequential_sums(values: np.ndarray, segments: np.ndarray, count: int) -> np.ndarray:
    """``sums[s]``: the values of segment ``s`` added one after the other from 0.0, in their order here.

    Floating-point addition is not associative: pycocoevalcap adds terms in a loop, so these sums
    must add them in the same order (numpy's ``sum`` and ``reduceat`` add pairwise). All segments
    advance together, one term each per step: as many numpy steps as the longest segment has terms.
    """
    if len(segments) > 1 and not (segments[1:] >= segments[:-1]).all():
        order = np.argsort(segments, kind="stable")
        values, segments = values[order], segments[order]
    lengths = np.bincount(segments, minlength=count)
    starts = np.cumsum(lengths) - lengths
    longest_first = np.argsort(-lengths, kind="stable")
    # At each step, how many segments have more terms than the step number.
    still_going = np.searchsorted(-lengths[longest_first], -np.arange(int(lengths.max(initial=0))), side="left")
    sums = np.zeros(count)
    for step, active in enumerate(still_going.tolist()):
        going = longest_first[:active]  # the segments with more than ``step`` terms
        sums[going] += values[starts[going] + step]
    return sums


def _sentences(texts: Iterable[str], vocabulary: dict[str, int]) -> Sentences:
    words = array("q")
    lengths = array("q")
    get = vocabulary.get
    absent = repeat(ABSENT)
    for text in texts:
        split = text.split()
        lengths.append(len(split))
        words.extend(map(get, split, absent))
    return Sentences(np.frombuffer(words, dtype=np.int64).copy(), np.frombuffer(lengths, dtype=np.int64).copy())


def _pairs(prefix: np.ndarray, words: np.ndarray, left: np.ndarray, k: int, vocabulary_size: int):
    """``prefix_id * vocabulary_size + id of the k-th word`` at each start of a k-gram whose parts are known."""
    last = np.full(len(words), ABSENT, dtype=np.int64)
    last[: max(len(words) - (k - 1), 0)] = words[k - 1 :]
    valid = (left >= k) & (prefix != ABSENT) & (last != ABSENT)
    # Both factors are below the number of words, so the product fits in 64 bits for any real input.
    return np.where(valid, prefix * vocabulary_size + last, ABSENT), valid


def counts_by_sentence(grams: np.ndarray, sentence_of_word: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``sentence * size + kgram_id`` of the known k-grams of each sentence, and how often each occurs."""
    known = grams != ABSENT
    return np.unique(sentence_of_word[known] * max(size, 1) + grams[known], return_counts=True)
