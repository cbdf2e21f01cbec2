"""Reading the Movie101v2 annotation release (narration/, splits.json).

Layout: ``narration/long-46k-<language>/<movie_id>.txt`` with one clip a line,
``H:M:S|H:M:S|text``, and ``splits.json`` naming the movies of each split.
"""

from __future__ import annotations

import json
from pathlib import Path

from .clips import ClipId
from .errors import EvaluationError

SPLITS = ("train", "val", "test")


class DatasetError(EvaluationError):
    pass


def _seconds(stamp: str) -> int:
    hours, minutes, seconds = (int(part) for part in stamp.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def read_movie(path: Path) -> dict[str, str]:
    """Clip id -> narration for one movie file."""
    movie_id = path.stem
    narrations: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split("|", 2)
            try:
                if len(parts) != 3:
                    raise ValueError("expected H:M:S|H:M:S|text")
                clip_id = str(ClipId(movie_id, _seconds(parts[0]), _seconds(parts[1])))
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: {exc}: {line[:80]!r}") from exc
            if clip_id in narrations:
                raise DatasetError(f"{path}:{number}: clip {clip_id} appears twice")
            narrations[clip_id] = parts[2]
    return narrations


def split_movies(root: str | Path, split: str) -> list[str]:
    root = Path(root)
    try:
        splits = json.loads((root / "splits.json").read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{root} is not a Movie101v2 folder: {exc.strerror}: splits.json") from exc
    if split not in splits:
        raise DatasetError(f"splits.json has no split {split!r}; it has {', '.join(splits)}")
    return list(splits[split])


def read_split(root: str | Path, split: str, language: str) -> dict[str, str]:
    """Clip id -> narration for every clip of a split, in one language."""
    root = Path(root)
    folder = root / "narration" / f"long-46k-{language}"
    narrations: dict[str, str] = {}
    for movie_id in split_movies(root, split):
        path = folder / f"{movie_id}.txt"
        if not path.exists():
            raise DatasetError(f"{path} is missing: movie {movie_id} of the {split} split has no {language} file")
        narrations.update(read_movie(path))
    return narrations
