"""Reading submissions and boards. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from leaderboard.challenges.models import Board, Phase
from leaderboard.teams.services import team_of

from .models import Status, Submission
from .ranking import Entry, rank_entries


@dataclass(frozen=True)
class BoardRow:
    rank: int
    team: str
    method_name: str
    submission_id: int
    submitted_at: datetime
    scores: dict[str, float]
    paper_url: str
    code_url: str
    missing_clips: int


def board_rows(phase: Phase, language: str, board: Board) -> list[BoardRow]:
    """The ranked rows of one board: a phase, a language and a stage."""
    submissions = (
        Submission.objects.filter(
            phase=phase, language=language, status=Status.FINISHED, is_public=True, current_result__isnull=False
        )
        .select_related("team", "current_result")
        .only(
            "id", "team__name", "team_id", "method_name", "paper_url", "code_url", "created_at",
            "current_result__metrics", "current_result__missing_clips",
        )
    )
    entries = [
        Entry(
            submission_id=submission.pk,
            team_id=submission.team_id,
            created_at=submission.created_at,
            scores=submission.current_result.metrics,
            payload=submission,
        )
        for submission in submissions
    ]
    return [
        BoardRow(
            rank=ranked.rank,
            team=ranked.entry.payload.team.name,
            method_name=ranked.entry.payload.method_name,
            submission_id=ranked.entry.submission_id,
            submitted_at=ranked.entry.created_at,
            scores={name: ranked.entry.scores[name] for name in board.columns if name in ranked.entry.scores},
            paper_url=ranked.entry.payload.paper_url,
            code_url=ranked.entry.payload.code_url,
            missing_clips=ranked.entry.payload.current_result.missing_clips,
        )
        for ranked in rank_entries(entries, board.columns, best_per_team=not phase.show_all_entries)
    ]


def team_submissions(user) -> QuerySet[Submission]:
    """The submissions a participant may see: their team's, newest first."""
    team = team_of(user)
    if team is None:
        return Submission.objects.none()
    return Submission.objects.filter(team=team).with_details()


def phase_languages(phase: Phase) -> list[str]:
    return sorted(phase.reference_sets.values_list("language", flat=True), key=lambda code: ("zh", "en").index(code))
