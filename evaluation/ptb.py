"""pycocoevalcap's PTB tokenizer, run so that no caption leaves a private folder.

pycocoevalcap's ``PTBTokenizer.tokenize`` writes every caption (hidden
references included) to a temporary file inside the installed package, which
fails on a read-only install and leaves the file behind if Java dies. This
runs the same jar with the same options on a file in a fresh 0700 temporary
directory that is always removed, and applies the same punctuation filter, so
the tokens are identical.

The tokenizer works line by line (``-preserveLines``), so a caption's tokens
do not depend on the captions around it. That allows two savings: the
references' tokens are kept per reference set (references are fixed per
phase), and whatever must be tokenized goes to one Java start-up.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Sequence

from .errors import EvaluationError
from .java import CORENLP_JAR, JAVA_ENCODING_FLAGS, java_executable
from .reference_cache import ReferenceCache, references_key

# Copied from pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS (1.2).
PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)

# Characters the Java tokenizer treats as line ends with -preserveLines. One
# inside a caption would shift every later caption onto the wrong clip.
_JAVA_LINE_BREAKS = frozenset("\n\r\u2028\u2029\u000b\u000c\u0085")

DEFAULT_TIMEOUT_SECONDS = 600

# The tokenizer's JVM lives about a second: the C1 compiler alone starts it in about half the time,
# with the same output (docs/performance.md).
SHORT_LIVED_JVM_FLAGS = ("-XX:TieredStopAtLevel=1",)

CACHE_SIZE = int(os.environ.get("EVALUATION_TOKEN_CACHE_SIZE", "2"))

_launches = 0
_launches_lock = threading.Lock()
_cache = ReferenceCache()


class TokenizerError(EvaluationError):
    pass


def ptb_tokenize(captions: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[str]:
    """Tokenize each caption as pycocoevalcap does: lowercased, punctuation dropped."""
    if not captions:
        return []
    for index, caption in enumerate(captions):
        if _JAVA_LINE_BREAKS.intersection(caption):
            raise ValueError(f"caption {index} contains a line break; normalize it first")

    with tempfile.TemporaryDirectory(prefix="movie101v2-ptb-") as private_dir:
        path = os.path.join(private_dir, "captions.txt")
        with open(path, "wb") as handle:
            handle.write("\n".join(captions).encode("utf-8"))
        command = [
            java_executable(),
            *SHORT_LIVED_JVM_FLAGS,
            *JAVA_ENCODING_FLAGS,
            "-cp",
            str(CORENLP_JAR),
            "edu.stanford.nlp.process.PTBTokenizer",
            "-preserveLines",
            "-lowerCase",
            path,
        ]
        _count_launch()
        try:
            completed = subprocess.run(command, cwd=private_dir, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise TokenizerError(f"the PTB tokenizer did not finish within {timeout:g} s") from exc

    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise TokenizerError(f"the PTB tokenizer failed (exit {completed.returncode}): {' / '.join(tail)}")

    lines = completed.stdout.decode("utf-8").split("\n")
    if len(lines) < len(captions):
        # pycocoevalcap would zip() the shorter list and silently drop captions.
        raise TokenizerError(f"the PTB tokenizer returned {len(lines)} lines for {len(captions)} captions")
    return [
        " ".join(word for word in line.rstrip().split(" ") if word not in PUNCTUATIONS)
        for line in lines[: len(captions)]
    ]


def ptb_tokenize_with_references(
    references: Sequence[str], predictions: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> tuple[list[str], list[str]]:
    """``(ptb_tokenize(references), ptb_tokenize(predictions))``, in at most one Java start-up.

    The references' tokens are kept for the next call with the same references
    (``EVALUATION_TOKEN_CACHE_SIZE`` reference sets, least recently used first
    out; ``0`` keeps none).
    """
    prediction_tokens: list[str] | None = None

    def tokenize_both() -> tuple[str, ...]:
        nonlocal prediction_tokens
        tokens = ptb_tokenize([*references, *predictions], timeout=timeout)
        prediction_tokens = tokens[len(references) :]
        return tuple(tokens[: len(references)])  # immutable: the cache hands the same value to every caller

    reference_tokens = _cache.get(_as_reference_set(references), tokenize_both, CACHE_SIZE)
    if prediction_tokens is None:
        prediction_tokens = ptb_tokenize(predictions, timeout=timeout)
    return list(reference_tokens), prediction_tokens


def captions_key(captions: Sequence[str]) -> str:
    """The cache's key for these captions: a SHA-256 of them in order, each with its length."""
    return references_key(_as_reference_set(captions))


def _as_reference_set(captions: Sequence[str]) -> dict[str, Sequence[str]]:
    # The shape ReferenceCache keys: clips to references. Untokenized captions are one list here.
    return {"captions": captions}


def clear_cache() -> None:
    _cache.clear()


def launches() -> int:
    """How many times this process has started the tokenizer's JVM."""
    return _launches


def _count_launch() -> None:
    global _launches
    with _launches_lock:
        _launches += 1
