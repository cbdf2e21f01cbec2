"""A small LRU of values derived from a reference set alone, keyed by a hash of its tokenized references.

References are fixed per phase, so what a metric derives from them alone (n-gram counts, document
frequencies, vectors) is computed once and reused by every later submission against the same set.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def references_key(gts: Mapping[str, Sequence[str]]) -> str:
    """A hash of the tokenized references, in the order of ``gts``."""
    digest = hashlib.sha256()
    for references in gts.values():
        digest.update(len(references).to_bytes(4, "little"))
        for reference in references:
            encoded = reference.encode("utf-8", "surrogatepass")
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
    return digest.hexdigest()


class ReferenceCache:
    """Least recently used reference sets first out; thread-safe; the size is given per call (0: keep none)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, gts: Mapping[str, Sequence[str]], compute: Callable[[], Any], size: int) -> Any:
        """The value kept for ``gts``, or ``compute()`` (then kept when ``size`` > 0)."""
        key = references_key(gts)
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                self._trim(size)
                return value
        # Computed outside the lock: two threads missing at once both compute, and the values are equal.
        value = compute()
        with self._lock:
            if size > 0:
                self._entries[key] = value
            self._trim(size)
        return value

    def _trim(self, size: int) -> None:
        while len(self._entries) > max(size, 0):
            self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
