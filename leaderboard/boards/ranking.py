"""The ranking rule of every board, as one pure function.

* Higher is better on every column.
* Entries are ordered by the primary metric, then by each secondary column
  in order. An entry without a column's value sorts after every entry that
  has it, on that column.
* Entries equal on every column share a rank (1, 1, 3), listed earlier
  submission first.
* By default a team shows only its best entry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Entry:
    submission_id: int
    team_id: int
    #: None only for an entry that is placed, never ranked (an external baseline).
    created_at: datetime | None
    scores: Mapping[str, float]
    payload: Any = None  # whatever the caller wants back with the row


@dataclass(frozen=True)
class RankedEntry:
    rank: int
    entry: Entry


def _value(scores: Mapping[str, float], metric: str) -> float | None:
    value = scores.get(metric)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def score_key(scores: Mapping[str, float], columns: Sequence[str]) -> tuple:
    """Sorts ascending into board order: present before missing, higher first."""
    key = []
    for metric in columns:
        value = _value(scores, metric)
        key.append((1, 0.0) if value is None else (0, -value))
    return tuple(key)


def rank_entries(entries: Iterable[Entry], columns: Sequence[str], *, best_per_team: bool = True) -> list[RankedEntry]:
    if not columns:
        raise ValueError("a board needs at least one column")
    ordered = sorted(
        entries, key=lambda entry: (score_key(entry.scores, columns), entry.created_at, entry.submission_id)
    )
    if best_per_team:
        seen_teams: set[int] = set()
        best = []
        for entry in ordered:
            if entry.team_id not in seen_teams:
                seen_teams.add(entry.team_id)
                best.append(entry)
        ordered = best

    ranked: list[RankedEntry] = []
    previous_key = None
    for position, entry in enumerate(ordered, start=1):
        key = score_key(entry.scores, columns)
        rank = ranked[-1].rank if ranked and key == previous_key else position
        ranked.append(RankedEntry(rank, entry))
        previous_key = key
    return ranked


@dataclass(frozen=True)
class PlacedEntry:
    #: None for an entry shown without a rank.
    rank: int | None
    entry: Entry


def place_unranked(
    ranked: Sequence[RankedEntry], unranked: Iterable[Entry], columns: Sequence[str]
) -> list[PlacedEntry]:
    """Put entries shown without a rank (baselines, entries hidden from the public) among ranked ones, by score.

    They take no rank and move none: every ranked entry keeps the rank
    :func:`rank_entries` gave it. An unranked entry goes before the first
    ranked entry it beats on the columns, so after those it ties with.
    Unranked entries that tie list the earlier submission first, then
    external baselines (no submission) in the order given.
    """
    waiting = sorted(
        unranked,
        key=lambda entry: (
            score_key(entry.scores, columns),
            entry.created_at is None,
            (entry.created_at, entry.submission_id) if entry.created_at is not None else (),
        ),
    )
    placed: list[PlacedEntry] = []
    index = 0
    for item in ranked:
        key = score_key(item.entry.scores, columns)
        while index < len(waiting) and score_key(waiting[index].scores, columns) < key:
            placed.append(PlacedEntry(None, waiting[index]))
            index += 1
        placed.append(PlacedEntry(item.rank, item.entry))
    placed.extend(PlacedEntry(None, entry) for entry in waiting[index:])
    return placed
