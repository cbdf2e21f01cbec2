"""Reading submissions and boards. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from evaluation.metrics import STAGE_METRICS
from leaderboard.challenges.models import Board, Phase
from leaderboard.judging.services import judge_setup
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
    #: The model that judged this entry's L1 and L2, if any.
    judge_model: str = ""
    #: Stage scores from a judge configuration other than the board's: shown, flagged, never ranked.
    other_judge_scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BoardJudge:
    """Which judge produced a board's stage numbers, or why there is none."""

    model: str = ""
    temperature: float = 0.0
    signature: str = ""
    stages: dict = field(default_factory=dict)
    #: Set when there is no judge.
    reason: str = ""


def board_judge(phase: Phase, language: str) -> BoardJudge:
    setup = judge_setup(phase, language)
    if setup.identity is None:
        return BoardJudge(reason=setup.reason)
    identity = setup.identity
    return BoardJudge(model=identity["model"], temperature=identity["temperature"], signature=identity["signature"],
                      stages=identity["stages"])


def board_rows(phase: Phase, language: str, board: Board) -> list[BoardRow]:
    """The ranked rows of one board: a phase, a language and a stage.

    Stage scores count only when the board's current judge configuration
    produced them; an entry judged otherwise keeps them, flagged, out of the ranking.
    """
    judge_signature = board_judge(phase, language).signature
    submissions = (
        Submission.objects.filter(
            phase=phase, language=language, status=Status.FINISHED, is_public=True, current_result__isnull=False
        )
        .select_related("team", "current_result")
        .only(
            "id", "team__name", "team_id", "method_name", "paper_url", "code_url", "created_at",
            "current_result__metrics", "current_result__missing_clips", "current_result__judge",
        )
    )
    entries = []
    for submission in submissions:
        result = submission.current_result
        scores, other_judge = dict(result.metrics), {}
        if (result.judge or {}).get("signature", "") != judge_signature:
            other_judge = {name: scores.pop(name) for name in STAGE_METRICS if name in scores}
        entries.append(Entry(
            submission_id=submission.pk,
            team_id=submission.team_id,
            created_at=submission.created_at,
            scores=scores,
            payload=(submission, other_judge),
        ))
    rows = []
    for ranked in rank_entries(entries, board.columns, best_per_team=not phase.show_all_entries):
        submission, other_judge = ranked.entry.payload
        rows.append(BoardRow(
            rank=ranked.rank,
            team=submission.team.name,
            method_name=submission.method_name,
            submission_id=ranked.entry.submission_id,
            submitted_at=ranked.entry.created_at,
            scores={name: ranked.entry.scores[name] for name in board.columns if name in ranked.entry.scores},
            paper_url=submission.paper_url,
            code_url=submission.code_url,
            missing_clips=submission.current_result.missing_clips,
            judge_model=(submission.current_result.judge or {}).get("model", ""),
            other_judge_scores={name: value for name, value in other_judge.items() if name in board.columns},
        ))
    return rows


def team_submissions(user) -> QuerySet[Submission]:
    """The submissions a participant may see: their team's, newest first."""
    team = team_of(user)
    if team is None:
        return Submission.objects.none()
    return Submission.objects.filter(team=team).with_details()


def phase_languages(phase: Phase) -> list[str]:
    return sorted(phase.reference_sets.values_list("language", flat=True), key=lambda code: ("zh", "en").index(code))
