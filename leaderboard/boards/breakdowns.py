"""Per-movie and per-genre scores of a result (``Result.breakdown``), computed when it is written.

Every metric is evaluated exactly on the clips of one movie, or of every movie of one genre, from the
result's per-clip statistics (``evaluation.stats.metric_values`` with one indicator row per movie and
per genre): corpus BLEU and METEOR from the summed statistics of those clips, ROUGE-L, CIDEr and the
judge's metrics as the mean of their per-clip scores. CIDEr's per-clip scores keep the document
frequencies of the whole reference set, so a movie's CIDEr is the mean of its clips' full-set scores,
not CIDEr scored on that movie alone.

A genre row counts every clip of its movies; a movie of two genres counts in both. Genres come from
the movie metadata (``challenges.Movie``, read from the release's ``metadata/``); a movie without
metadata has its row, untitled, and no genre.

Who sees a breakdown is ``rules.can_view_breakdown``; :func:`visible_breakdown` gives it as a viewer may
see it (rounded on a hidden phase for all but its organizers, as ``disclosure`` rounds every score).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from evaluation.stats import ClipStats, metric_values
from leaderboard.challenges.genres import genre_en, genre_name
from leaderboard.challenges.models import Movie, Phase
from leaderboard.challenges.texts import chinese_active

from .disclosure import precision_of, round_scores, rounds_for
from .intervals import result_stats


def compute_breakdown(stats: ClipStats | None, movies: Mapping[str, Movie] | None = None) -> dict:
    """``Result.breakdown`` of a result with statistics ``stats`` (every metric it gives); empty without them.

    ``{"movies": [{"movie_id", "title", "genres": [zh...], "clips", "scores": {metric: value}}],
       "genres": [{"genre": zh, "genre_en", "movies", "clips", "scores": {...}}]}``, movies by id, genres
    by their number of clips (most first), then name. ``movies``: movie id -> ``Movie`` (read when None).
    """
    if stats is None:
        return {}
    clip_movies = stats.movies()
    movie_ids = sorted(set(clip_movies))
    if movies is None:
        movies = {movie.movie_id: movie for movie in Movie.objects.filter(movie_id__in=movie_ids)}
    clip_movie = np.array(clip_movies)
    movie_rows = np.stack([(clip_movie == movie_id).astype(np.float64) for movie_id in movie_ids])
    genres_of = {movie_id: _genres(movies.get(movie_id)) for movie_id in movie_ids}
    genre_names = sorted({name for names in genres_of.values() for name in names})
    genre_movies = {name: [movie_id for movie_id in movie_ids if name in genres_of[movie_id]] for name in genre_names}
    genre_rows = [
        movie_rows[[movie_ids.index(movie_id) for movie_id in genre_movies[name]]].sum(axis=0) for name in genre_names
    ]
    counts = np.vstack([movie_rows, *genre_rows]) if genre_rows else movie_rows
    values = metric_values(stats, counts)
    sizes = counts.sum(axis=1)

    def scores(row: int) -> dict[str, float | None]:
        return {name: _number(values[name][row]) for name in values}

    movie_entries = []
    for row, movie_id in enumerate(movie_ids):
        movie = movies.get(movie_id)
        movie_entries.append(
            {
                "movie_id": movie_id,
                "title": movie.title if movie is not None else "",
                "genres": list(genres_of[movie_id]),
                "clips": int(sizes[row]),
                "scores": scores(row),
            }
        )
    genre_entries = [
        {
            "genre": name,
            "genre_en": genre_en(name),
            "movies": len(genre_movies[name]),
            "clips": int(sizes[len(movie_ids) + index]),
            "scores": scores(len(movie_ids) + index),
        }
        for index, name in enumerate(genre_names)
    ]
    genre_entries.sort(key=lambda entry: (-entry["clips"], entry["genre"]))
    return {"movies": movie_entries, "genres": genre_entries}


def result_breakdown(clip_stats: Mapping | None, per_clip: Mapping[str, Mapping[str, float]]) -> dict:
    """The breakdown of a stored result from its ``clip_stats`` and ``per_clip`` (judge metrics included)."""
    return compute_breakdown(result_stats(clip_stats, per_clip))


def breakdown_out_of_date(breakdown: Mapping | None) -> bool:
    """Whether a stored breakdown is missing, or names its movies otherwise than the movie metadata now does
    (metadata imported or changed after the result was written)."""
    if not breakdown or "movies" not in breakdown:
        return True
    stored = {
        entry["movie_id"]: (entry.get("title", ""), list(entry.get("genres", []))) for entry in breakdown["movies"]
    }
    known = {movie.movie_id: (movie.title, _genres(movie)) for movie in Movie.objects.filter(movie_id__in=list(stored))}
    return any(stored[movie_id] != (title, genres) for movie_id, (title, genres) in known.items())


def visible_breakdown(breakdown: Mapping | None, phase: Phase, viewer) -> dict:
    """``breakdown`` as ``viewer`` may see it: every score rounded to the boards' precision on a hidden phase
    for all but its organizers (``disclosure.rounds_for``), English genre names from the current table."""
    if not breakdown:
        return {"movies": [], "genres": []}
    rounded = rounds_for(viewer, phase)
    precision = precision_of(phase) if rounded else None

    def shown(scores: Mapping[str, float | None]) -> dict[str, float | None]:
        return round_scores(scores, precision) if precision is not None else dict(scores)

    return {
        "movies": [{**entry, "scores": shown(entry["scores"])} for entry in breakdown.get("movies", [])],
        "genres": [
            {**entry, "genre_en": genre_en(entry["genre"]), "scores": shown(entry["scores"])}
            for entry in breakdown.get("genres", [])
        ],
    }


def page_breakdown(result, phase: Phase, viewer) -> dict | None:
    """What the submission page's breakdown section shows: :func:`visible_breakdown` with the metrics in
    order, each genre named in the page's language (``shown_genre``); None when the result has no breakdown."""
    shown = visible_breakdown(result.breakdown, phase, viewer)
    if not shown["movies"]:
        return None
    metrics = list(shown["movies"][0]["scores"])
    return {
        "metrics": metrics,
        "rounded": rounds_for(viewer, phase),
        "movies": [
            {
                **entry,
                "title_zh": _has_cjk(entry["title"]),
                "genre_names": [shown_genre(name) for name in entry["genres"]],
            }
            for entry in shown["movies"]
        ],
        "genres": [{**entry, **shown_genre(entry["genre"])} for entry in shown["genres"]],
    }


def shown_genre(genre: str) -> dict[str, str]:
    """A genre (its Chinese name, as stored) as a page shows it: ``name`` in the page's language
    (``genres.genre_name``), and ``lang`` "zh" when that is still Chinese on a page in another language."""
    name = genre_name(genre)
    return {"name": name, "lang": "zh" if _has_cjk(name) and not chinese_active() else ""}


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= character <= "\u9fff" for character in text)


def _genres(movie: Movie | None) -> list[str]:
    if movie is None or not isinstance(movie.genres, list):
        return []
    return list(dict.fromkeys(name for name in movie.genres if isinstance(name, str) and name))


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
