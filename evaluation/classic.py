"""The classic metrics: BLEU-1..4, METEOR, ROUGE-L and CIDEr from pycocoevalcap.

The protocol:

1. normalize references and predictions (:func:`evaluation.text.normalize`);
2. tokenize English with pycocoevalcap's PTB tokenizer, Chinese in characters;
3. score the complete split in one pass: CIDEr takes its document
   frequencies from the whole reference set, so averaging batches gives
   different numbers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from .background import BackgroundCall
from .bleu import bleu
from .cider import cider
from .errors import EvaluationError
from .meteor import Meteor, shared_meteor
from .ptb import ptb_tokenize, ptb_tokenize_with_references
from .references import reference_hash
from .result import ScoreResult
from .rouge import rouge_l
from .stats import ClipStats, parse_meteor_stats
from .text import normalize, tokenize_zh
from .versions import classic_versions

LANGUAGES = ("zh", "en")


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise EvaluationError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")


def tokenize(texts: list[str], language: str) -> list[str]:
    """Normalize and tokenize captions the way the protocol does for ``language``."""
    normalized = [normalize(text) for text in texts]
    if language == "en":
        return ptb_tokenize(normalized)
    _check_language(language)
    return [tokenize_zh(text) for text in normalized]


def tokenize_references_and_predictions(
    references: list[str], predictions: list[str], language: str
) -> tuple[list[str], list[str]]:
    """:func:`tokenize` of both sides; in English the references' tokens are cached, and Java starts once."""
    if language == "en":
        return ptb_tokenize_with_references(
            [normalize(text) for text in references], [normalize(text) for text in predictions]
        )
    return tokenize(references, language), tokenize(predictions, language)


def score(
    references: Mapping[str, str],
    predictions: Mapping[str, str],
    language: str,
    *,
    allow_partial: bool = False,
    meteor: Meteor | None = None,
) -> ScoreResult:
    """Score ``predictions`` against the complete ``references`` in one pass.

    Clip ids must match the references exactly; with ``allow_partial`` a
    missing clip is scored as an empty narration and counted in the result.
    """
    started = time.perf_counter()
    _check_language(language)
    if not references:
        raise EvaluationError("the reference set is empty")
    unknown = predictions.keys() - references.keys()
    if unknown:
        raise EvaluationError(f"{len(unknown)} predicted clip ids are not in the references, e.g. {min(unknown)}")
    missing = references.keys() - predictions.keys()
    if missing and not allow_partial:
        raise EvaluationError(f"{len(missing)} clips have no prediction, e.g. {min(missing)}")

    ids = sorted(references)
    reference_tokens, prediction_tokens = tokenize_references_and_predictions(
        [references[key] for key in ids], [predictions.get(key, "") for key in ids], language
    )
    gts = {key: [tokens] for key, tokens in zip(ids, reference_tokens, strict=True)}
    res = {key: [tokens] for key, tokens in zip(ids, prediction_tokens, strict=True)}

    # METEOR runs in the Java process while this thread computes the Python metrics: the thread
    # that drives it mostly waits on pipes, without the GIL.
    cancel_meteor = threading.Event()
    meteor_call = BackgroundCall((meteor or shared_meteor()).compute_score_and_stats, gts, res, cancel=cancel_meteor)
    try:
        bleu_scores = bleu(gts, res)
        bleu_totals, bleu_per_clip = bleu_scores.totals, bleu_scores.per_clip
        rouge_total, rouge_per_clip = rouge_l(gts, res)
        cider_total, cider_per_clip = cider(gts, res)
        meteor_total, meteor_per_clip, meteor_stats = meteor_call.result()
    except BaseException:
        cancel_meteor.set()  # it stops within a fraction of a second; nothing waits for it here
        raise

    metrics = {f"bleu_{n + 1}": float(bleu_totals[n]) for n in range(4)}
    metrics.update(meteor=float(meteor_total), rouge_l=float(rouge_total), cider=float(cider_total))
    per_clip = {
        key: {
            **{f"bleu_{n + 1}": float(bleu_per_clip[n][index]) for n in range(4)},
            "meteor": float(meteor_per_clip[index]),
            "rouge_l": float(rouge_per_clip[index]),
            "cider": float(cider_per_clip[index]),
        }
        for index, key in enumerate(ids)
    }
    stats = ClipStats.build(
        ids,
        bleu_scores.clip_stats,
        [parse_meteor_stats(line) for line in meteor_stats],
        {"rouge_l": rouge_per_clip, "cider": cider_per_clip},
    )
    return ScoreResult(
        language=language,
        clips=len(ids),
        missing_clips=len(missing),
        metrics=metrics,
        per_clip=per_clip,
        reference_hash=reference_hash(references),
        versions=classic_versions(),
        duration_seconds=time.perf_counter() - started,
        stats=stats,
    )
