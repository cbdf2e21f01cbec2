"""The classic metrics: BLEU-1..4, METEOR, ROUGE-L and CIDEr from pycocoevalcap.

The protocol:

1. normalize references and predictions (:func:`evaluation.text.normalize`);
2. tokenize English with pycocoevalcap's PTB tokenizer, Chinese in characters;
3. score the complete split in one pass: CIDEr takes its document
   frequencies from the whole reference set, so averaging batches gives
   different numbers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from pycocoevalcap.bleu.bleu_scorer import BleuScorer
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from .errors import EvaluationError
from .meteor import Meteor, shared_meteor
from .ptb import ptb_tokenize
from .references import reference_hash
from .result import ScoreResult
from .stats import ClipStats, bleu_clip_stats, parse_meteor_stats
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


def bleu(gts: Mapping[str, list[str]], res: Mapping[str, list[str]]) -> tuple[list[float], list[list[float]]]:
    """``pycocoevalcap.bleu.Bleu(4).compute_score`` without its prints to stdout."""
    return _bleu_scorer(gts, res).compute_score(option="closest", verbose=0)


def _bleu_scorer(gts: Mapping[str, list[str]], res: Mapping[str, list[str]]) -> BleuScorer:
    scorer = BleuScorer(n=4)
    for key in gts:
        scorer += (res[key][0], gts[key])
    return scorer


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
    reference_tokens = tokenize([references[key] for key in ids], language)
    prediction_tokens = tokenize([predictions.get(key, "") for key in ids], language)
    gts = {key: [tokens] for key, tokens in zip(ids, reference_tokens, strict=True)}
    res = {key: [tokens] for key, tokens in zip(ids, prediction_tokens, strict=True)}

    bleu_scorer = _bleu_scorer(gts, res)
    bleu_totals, bleu_per_clip = bleu_scorer.compute_score(option="closest", verbose=0)
    meteor_total, meteor_per_clip, meteor_stats = (meteor or shared_meteor()).compute_score_and_stats(gts, res)
    rouge_total, rouge_per_clip = Rouge().compute_score(gts, res)
    cider_total, cider_per_clip = Cider().compute_score(gts, res)

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
        bleu_clip_stats(bleu_scorer.ctest),
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
