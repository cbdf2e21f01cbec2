"""Clip identifiers: ``<movie_id>_<start_seconds>_<end_seconds>``."""

from __future__ import annotations

import re
from typing import NamedTuple

CLIP_ID_PATTERN = re.compile(r"^(\d+)_(\d+)_(\d+)$")
CLIP_ID_FORM = "<movie_id>_<start_s>_<end_s>"


class ClipId(NamedTuple):
    movie_id: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.movie_id}_{self.start}_{self.end}"


def parse_clip_id(text: str) -> ClipId | None:
    match = CLIP_ID_PATTERN.match(text)
    if match is None:
        return None
    return ClipId(match.group(1), int(match.group(2)), int(match.group(3)))


def is_clip_id(text: str) -> bool:
    return CLIP_ID_PATTERN.match(text) is not None
