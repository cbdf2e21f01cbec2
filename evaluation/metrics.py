"""The metrics a result can carry: names, labels, scales and what they mean."""

from __future__ import annotations

from dataclasses import dataclass

from .wording import gettext_noop as _


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    scale: str
    precision: int
    description: str


CLASSIC_METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")
STAGE_METRICS = ("l1_environment", "l1_character", "l1", "l2")

_ALL = [
    MetricInfo(
        "l1",
        "L1",
        "0–5",
        2,
        _("Stage 1, visual facts: the mean of the environment and character scores an LLM judge gives each clip."),
    ),
    MetricInfo(
        "l1_environment",
        _("L1 environment"),
        "0–5",
        2,
        _("How well the narration gets the reference's scenes, objects and events right, judged 0–5 per clip."),
    ),
    MetricInfo(
        "l1_character",
        _("L1 characters"),
        "0–5",
        2,
        _("How well the narration gets who appears, their actions and emotions right, judged 0–5 per clip."),
    ),
    MetricInfo(
        "l2",
        "L2",
        "0–5",
        2,
        _(
            "Stage 2, plot: whether a visually impaired listener would understand the same plot as from the "
            "reference, judged 0–5 per clip; wording and visual detail do not count."
        ),
    ),
    MetricInfo(
        "bleu_1",
        "BLEU-1",
        "0–1",
        4,
        _("Corpus BLEU with unigrams: word (zh: character) overlap with the reference."),
    ),
    MetricInfo(
        "bleu_2",
        "BLEU-2",
        "0–1",
        4,
        _("Corpus BLEU up to bigrams."),
    ),
    MetricInfo(
        "bleu_3",
        "BLEU-3",
        "0–1",
        4,
        _("Corpus BLEU up to trigrams."),
    ),
    MetricInfo(
        "bleu_4",
        "BLEU-4",
        "0–1",
        4,
        _("Corpus BLEU up to 4-grams, with the brevity penalty: n-gram precision against the reference."),
    ),
    MetricInfo(
        "meteor",
        "METEOR",
        "0–1",
        4,
        _(
            "METEOR 1.5: unigram matching with stems, synonyms and paraphrases (English resources), weighted"
            " towards recall, with a fragmentation penalty."
        ),
    ),
    MetricInfo(
        "rouge_l",
        "ROUGE-L",
        "0–1",
        4,
        _("F-measure of the longest common subsequence with the reference, averaged over clips."),
    ),
    MetricInfo(
        "cider",
        "CIDEr",
        "0–10",
        4,
        _(
            "Consensus with the reference, TF-IDF-weighted n-grams (1–4) with document frequencies from the "
            "whole reference set, averaged over clips."
        ),
    ),
]

METRICS: dict[str, MetricInfo] = {info.name: info for info in _ALL}


def metric_info(name: str) -> MetricInfo:
    try:
        return METRICS[name]
    except KeyError:
        return MetricInfo(name, name, "", 4, "")
