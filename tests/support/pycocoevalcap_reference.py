"""The scoring protocol written out plainly on pycocoevalcap's own classes.

It shares no code with ``evaluation``: tests compare the two to 1e-9, and
``bench/`` times them against each other.
"""

from __future__ import annotations

import contextlib
import io
import re
import unicodedata

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer


def protocol_normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("[", "").replace("]", "")
    text = "".join(" " if c == "|" or unicodedata.category(c)[0] in "ZC" else c for c in text)
    return re.sub(" +", " ", text).strip()


def protocol_zh_tokens(text: str) -> str:
    return " ".join(c for c in protocol_normalize(text).lower() if unicodedata.category(c)[0] not in "PZC")


def direct_pycocoevalcap(references, predictions, language, meteor) -> dict[str, float]:
    """``meteor`` is a ``pycocoevalcap.meteor.meteor.Meteor``."""
    ids = sorted(references)
    if language == "en":
        tokenizer = PTBTokenizer()
        gts = tokenizer.tokenize({i: [{"caption": protocol_normalize(references[i])}] for i in ids})
        res = tokenizer.tokenize({i: [{"caption": protocol_normalize(predictions.get(i, ""))}] for i in ids})
    else:
        gts = {i: [protocol_zh_tokens(references[i])] for i in ids}
        res = {i: [protocol_zh_tokens(predictions.get(i, ""))] for i in ids}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    scores = {f"bleu_{n + 1}": bleu[n] for n in range(4)}
    scores["meteor"], _ = meteor.compute_score(gts, res)
    scores["rouge_l"], _ = Rouge().compute_score(gts, res)
    scores["cider"], _ = Cider().compute_score(gts, res)
    return {name: float(value) for name, value in scores.items()}
