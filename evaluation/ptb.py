"""pycocoevalcap's PTB tokenizer, run so that no caption leaves a private folder.

pycocoevalcap's ``PTBTokenizer.tokenize`` writes every caption (hidden
references included) to a temporary file inside the installed package, which
fails on a read-only install and leaves the file behind if Java dies. This
runs the same jar with the same options on a file in a fresh 0700 temporary
directory that is always removed, and applies the same punctuation filter, so
the tokens are identical.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence

from .errors import EvaluationError
from .java import CORENLP_JAR, JAVA_ENCODING_FLAGS, java_executable

# Copied from pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS (1.2).
PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)

# Characters the Java tokenizer treats as line ends with -preserveLines. One
# inside a caption would shift every later caption onto the wrong clip.
_JAVA_LINE_BREAKS = frozenset("\n\r\u2028\u2029\u000b\u000c\u0085")

DEFAULT_TIMEOUT_SECONDS = 600


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
            *JAVA_ENCODING_FLAGS,
            "-cp",
            str(CORENLP_JAR),
            "edu.stanford.nlp.process.PTBTokenizer",
            "-preserveLines",
            "-lowerCase",
            path,
        ]
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
