"""The typed result of one scoring run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stats import ClipStats


@dataclass(frozen=True)
class ScoreResult:
    language: str
    clips: int
    #: Clips of the reference set the predictions did not cover, scored as "".
    missing_clips: int
    metrics: dict[str, float]
    #: clip id -> metric -> value. Never publish these for a hidden split.
    per_clip: dict[str, dict[str, float]] = field(repr=False)
    reference_hash: str
    versions: dict[str, str]
    duration_seconds: float
    #: Per-clip sufficient statistics for bootstrap intervals (``evaluation.stats``); hidden-split data too.
    stats: ClipStats | None = field(default=None, repr=False, compare=False)

    def to_dict(self, *, include_per_clip: bool = False, include_stats: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "language": self.language,
            "clips": self.clips,
            "missing_clips": self.missing_clips,
            "metrics": dict(self.metrics),
            "reference_hash": self.reference_hash,
            "versions": dict(self.versions),
            "duration_seconds": self.duration_seconds,
        }
        if include_per_clip:
            data["per_clip"] = self.per_clip
        if include_stats and self.stats is not None:
            data["stats"] = self.stats.to_json_dict()
        return data
