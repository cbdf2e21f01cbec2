"""Where the Java tools of pycocoevalcap live, and how to start them."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from importlib.util import find_spec
from pathlib import Path

from .errors import EvaluationError

# pycocoevalcap is a namespace package (no __init__.py), so find it by a module.
PYCOCOEVALCAP_DIR = Path(find_spec("pycocoevalcap.bleu.bleu").origin).resolve().parents[1]
METEOR_JAR = PYCOCOEVALCAP_DIR / "meteor" / "meteor-1.5.jar"
CORENLP_JAR = PYCOCOEVALCAP_DIR / "tokenizer" / "stanford-corenlp-3.4.1.jar"

# Without these, Java 17 decodes pipes with the locale's charset, which is
# ASCII in a bare container: every Chinese character would become "?".
JAVA_ENCODING_FLAGS = ("-Dfile.encoding=UTF-8", "-Dstdout.encoding=UTF-8", "-Dstderr.encoding=UTF-8")


class JavaNotFound(EvaluationError):
    pass


@functools.cache
def java_executable() -> str:
    """The ``java`` to run: ``$JAVA``, then ``$JAVA_HOME/bin/java``, then PATH."""
    candidates = [os.environ.get("JAVA")]
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.path.join(os.environ["JAVA_HOME"], "bin", "java"))
    candidates.append(shutil.which("java"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise JavaNotFound(
        "METEOR and the PTB tokenizer need a Java runtime, and none was found "
        "(looked at $JAVA, $JAVA_HOME/bin/java and PATH). On Debian: "
        "apt-get install default-jre-headless"
    )


@functools.cache
def java_version() -> str:
    """The runtime's own version line, e.g. ``openjdk version "17.0.15" 2025-04-15``."""
    completed = subprocess.run([java_executable(), "-version"], capture_output=True, text=True, timeout=60, check=False)
    lines = (completed.stderr or completed.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"
