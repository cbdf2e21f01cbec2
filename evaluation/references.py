"""Reference sets: loading them and naming their content with a hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from .errors import EvaluationError
from .predictions import parse_narration_file


class ReferenceFileError(EvaluationError):
    pass


def reference_hash(references: Mapping[str, str]) -> str:
    """A content hash of a reference set, the same wherever it is computed.

    Two reference sets with the same clips and texts have the same hash, in
    whatever order or file format they were written.
    """
    canonical = json.dumps(dict(references), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_references(path: str | Path) -> dict[str, str]:
    """Read a ``{clip_id: narration}`` (or JSON Lines) reference file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReferenceFileError(f"cannot read the references {path}: {exc.strerror}") from exc
    parsed = parse_narration_file(data, filename=path.name, max_narration_chars=None, what="reference")
    if parsed.problems:
        listing = "\n".join(f"  - {problem.message}" for problem in parsed.problems)
        raise ReferenceFileError(f"the references {path} are not usable:\n{listing}")
    return parsed.narrations
