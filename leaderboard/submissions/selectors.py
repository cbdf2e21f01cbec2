"""Reading submissions. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from evaluation.metrics import METRICS
from leaderboard.challenges.models import Movie, Phase, ReferenceSet
from leaderboard.teams.services import team_of

from .files import ScoringFailed, read_parsed
from .models import Result, Submission


def team_submissions(user) -> QuerySet[Submission]:
    """The submissions a participant may see: their team's, newest first."""
    team = team_of(user)
    if team is None:
        return Submission.objects.none()
    return Submission.objects.filter(team=team).with_details()


# -- a submission's own results: per-clip rows, comparisons, result history (issue 12) ---------------------
#
# Who may see what is the caller's business (``rules.can_view_submission``, ``rules.can_view_clip_scores``);
# rounding for hidden phases is ``boards.disclosure``'s, applied by the views. Nothing here checks either.

#: Per-clip metric used when none of the phase's boards has its primary metric among the per-clip scores.
FALLBACK_CLIP_METRIC = "rouge_l"
#: Most submissions one comparison shows side by side.
MAX_COMPARED = 10


@dataclass(frozen=True)
class ClipRow:
    clip_id: str
    movie_id: str
    title: str
    #: The reference narration; None when the viewer may not see it (or the phase has none in that language).
    reference: str | None
    #: The submission's narration; None when the clip is missing from the file (or the file could not be read).
    narration: str | None
    scores: dict[str, float]


def movie_id_of(clip_id: str) -> str:
    """A clip's movie: its id before the first ``_``."""
    return clip_id.split("_", 1)[0]


def per_clip_of(result_id: int | None) -> dict[str, dict[str, float]]:
    """The per-clip scores of a result (clip id -> metric -> value), empty without one."""
    if result_id is None:
        return {}
    return Result.objects.only("per_clip").get(pk=result_id).per_clip or {}


def clip_metrics(per_clip: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The metrics the per-clip scores carry: the known ones in the metrics' order, then any other by name."""
    present = {name for scores in per_clip.values() for name in scores}
    return [name for name in METRICS if name in present] + sorted(present - set(METRICS))


def default_clip_metric(phase: Phase, metrics: list[str]) -> str | None:
    """The metric clips are sorted by when none is asked for: the first board's primary metric the per-clip
    scores carry, else ROUGE-L, else the first metric there is."""
    for primary in phase.boards.values_list("primary_metric", flat=True):
        if primary in metrics:
            return primary
    if FALLBACK_CLIP_METRIC in metrics:
        return FALLBACK_CLIP_METRIC
    return metrics[0] if metrics else None


def submission_narrations(submission: Submission) -> dict[str, str] | None:
    """The narrations of ``submission``'s file (clip id -> text), or None when the file cannot be read."""
    try:
        return read_parsed(submission)
    except ScoringFailed:
        return None


def reference_narrations(submission: Submission) -> dict[str, str]:
    """The current references of ``submission``'s phase and language (clip id -> text); empty without any.

    Only for viewers ``rules.can_view_clip_scores`` allows: on a hidden phase these are the secret."""
    narrations = (
        ReferenceSet.objects.filter(phase=submission.phase_id, language=submission.language)
        .values_list("narrations", flat=True)
        .first()
    )
    return narrations or {}


def movie_titles(movie_ids: Iterable[str]) -> dict[str, str]:
    return dict(Movie.objects.filter(movie_id__in=set(movie_ids)).values_list("movie_id", "title"))


def clip_rows(
    submission: Submission,
    per_clip: Mapping[str, Mapping[str, float]],
    *,
    with_references: bool,
    narrations: Mapping[str, str] | None = None,
) -> list[ClipRow]:
    """One row per scored clip of ``submission``, by clip id: film, reference (if ``with_references``),
    narration and scores."""
    if narrations is None:
        narrations = submission_narrations(submission) or {}
    references = reference_narrations(submission) if with_references else {}
    titles = movie_titles(movie_id_of(clip_id) for clip_id in per_clip)
    return [
        ClipRow(
            clip_id=clip_id,
            movie_id=movie_id_of(clip_id),
            title=titles.get(movie_id_of(clip_id), ""),
            reference=references.get(clip_id) if with_references else None,
            narration=narrations.get(clip_id),
            scores=dict(per_clip[clip_id]),
        )
        for clip_id in sorted(per_clip)
    ]


def sort_clip_rows(rows: list[ClipRow], metric: str, *, descending: bool = False) -> list[ClipRow]:
    """``rows`` by ``metric`` (worst first unless ``descending``), ties by clip id; clips without it last."""
    scored = [row for row in rows if isinstance(row.scores.get(metric), (int, float))]
    unscored = [row for row in rows if not isinstance(row.scores.get(metric), (int, float))]
    scored.sort(key=lambda row: row.clip_id)
    scored.sort(key=lambda row: row.scores[metric], reverse=descending)
    return scored + unscored


def parse_ids(values: Iterable[str]) -> list[int] | None:
    """Submission ids from ``?ids=1,2,3`` (or ``?ids=1&ids=2``, as checkboxes send them), in order, once each;
    None when one is not a number."""
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                return None
            if int(part) not in ids:
                ids.append(int(part))
    return ids


def compare_refusal(submissions: list[Submission]) -> str | None:
    """Why ``submissions`` cannot be compared, or None: two or more, all of one phase and one language."""
    if len(submissions) < 2:
        return _("Choose two or more submissions to compare.")
    if len(submissions) > MAX_COMPARED:
        return ngettext(
            "Compare at most %(count)d submissions at a time.",
            "Compare at most %(count)d submissions at a time.",
            MAX_COMPARED,
        ) % {"count": MAX_COMPARED}
    if len({submission.phase_id for submission in submissions}) > 1:
        return _("These submissions are of different phases: only submissions of one phase can be compared.")
    if len({submission.language for submission in submissions}) > 1:
        return _("These submissions are in different languages: only submissions in one language can be compared.")
    return None


def submissions_by_ids(ids: list[int]) -> list[Submission]:
    """The submissions ``ids`` names that exist, in the order given (with their details)."""
    found = {submission.pk: submission for submission in Submission.objects.with_details().filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def differing_clips(
    per_clips: list[Mapping[str, Mapping[str, float]]], metric: str, limit: int = 20
) -> list[tuple[str, float]]:
    """The clips where the submissions' ``metric`` differs most: (clip id, largest absolute difference to the
    first submission), largest first, ties by clip id; only clips every submission has a score for."""
    if not per_clips:
        return []
    first, others = per_clips[0], per_clips[1:]
    found = []
    for clip_id, scores in first.items():
        base = scores.get(metric)
        values = [other.get(clip_id, {}).get(metric) for other in others]
        if base is None or any(value is None for value in values):
            continue
        found.append((clip_id, max(abs(value - base) for value in values)))
    found.sort(key=lambda item: (-item[1], item[0]))
    return found[:limit]


def result_history(submission: Submission) -> list[Result]:
    """Every result of ``submission`` (its re-scores), newest first, without the large fields."""
    return list(Result.objects.filter(submission=submission).order_by("-created_at", "-pk"))


def history_metrics(phase: Phase, results: list[Result]) -> list[str]:
    """The scores a result history shows: the phase's boards' primary metrics any result has, else its classic
    metrics' ``FALLBACK_CLIP_METRIC`` and CIDEr."""
    present = {name for result in results for name in (result.metrics or {})}
    primaries = list(dict.fromkeys(phase.boards.values_list("primary_metric", flat=True)))
    shown = [name for name in primaries if name in present]
    return shown or [name for name in (FALLBACK_CLIP_METRIC, "cider") if name in present]
