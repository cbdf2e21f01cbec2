"""The judge cache: one parsed answer per (model, stage, template, parser, reference, prediction, temperature).

The key holds everything that decides what the judge is asked and how its
answer is read, so a cached answer is the answer the same question would get
(at temperature 0) and re-scoring costs no calls. The judge protocol is in it
too: an answer read under old parsing rules is not an answer under new ones.
The endpoint's URL is not: the same model behind another URL answers the same.
The service keeps the cache in its database; the command line in a SQLite file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .prompts import Template
from .protocol import JUDGE_PROTOCOL


def cache_key(model: str, template: Template, reference: str, prediction: str, temperature: float) -> str:
    canonical = json.dumps(
        # The stage too: one wording may serve both stages, whose answers are read for different scores.
        [
            model,
            template.stage,
            template.hash,
            template.parser,
            reference,
            prediction,
            float(temperature),
            JUDGE_PROTOCOL,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    key: str
    stage: str
    model: str
    template_hash: str
    parser: str
    scores: dict[str, int]
    raw_text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class JudgeCache(Protocol):
    def get_many(self, keys: Iterable[str]) -> dict[str, CacheEntry]: ...

    def put_many(self, entries: Iterable[CacheEntry]) -> None: ...


class MemoryJudgeCache:
    """For one run that keeps nothing."""

    def __init__(self) -> None:
        self._entries: dict[str, CacheEntry] = {}

    def get_many(self, keys: Iterable[str]) -> dict[str, CacheEntry]:
        return {key: self._entries[key] for key in keys if key in self._entries}

    def put_many(self, entries: Iterable[CacheEntry]) -> None:
        for entry in entries:
            self._entries.setdefault(entry.key, entry)


class SqliteJudgeCache:
    """A cache file for the command line; safe to share between runs, not between machines."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._connection:
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS judge_answer ("
                " key TEXT PRIMARY KEY, stage TEXT NOT NULL, model TEXT NOT NULL, template_hash TEXT NOT NULL,"
                " parser TEXT NOT NULL, scores TEXT NOT NULL, raw_text TEXT NOT NULL,"
                " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
                " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )

    def get_many(self, keys: Iterable[str]) -> dict[str, CacheEntry]:
        keys = list(keys)
        found: dict[str, CacheEntry] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = self._connection.execute(
                    "SELECT key, stage, model, template_hash, parser, scores, raw_text, prompt_tokens,"
                    f" completion_tokens FROM judge_answer WHERE key IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                for row in rows:
                    found[row[0]] = CacheEntry(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), *row[6:])
        return found

    def put_many(self, entries: Iterable[CacheEntry]) -> None:
        rows = [
            (
                e.key,
                e.stage,
                e.model,
                e.template_hash,
                e.parser,
                json.dumps(e.scores, sort_keys=True),
                e.raw_text,
                e.prompt_tokens,
                e.completion_tokens,
            )
            for e in entries
        ]
        with self._lock, self._connection:
            self._connection.executemany(
                "INSERT OR IGNORE INTO judge_answer (key, stage, model, template_hash, parser, scores, raw_text,"
                " prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def close(self) -> None:
        self._connection.close()
