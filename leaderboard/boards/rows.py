"""Ranking a phase's boards from the submissions, their results and the baselines.

This is the expensive side: it reads every finished public entry of the phase. It runs on
write (``services.refresh_boards``), never on a board view, and returns every entry, those the
public does not see included, marked (the view filters them per viewer).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime

from django.db.models import Q

from evaluation.intervals import BootstrapMethod
from evaluation.judge import JudgeIdentity
from evaluation.metrics import STAGE_METRICS
from leaderboard.challenges.models import Phase
from leaderboard.judging.models import JudgeStatus
from leaderboard.submissions.models import Result, Status, Submission

from .intervals import ALPHA, method_of, paired_p_values
from .models import Baseline, Board, BoardEntry
from .ranking import Entry, place_unranked, rank_entries

#: ``BoardRow.other_judge``: the entry was judged with a configuration other than the board's.
OTHER_CONFIGURATION = "other_configuration"
#: ``BoardRow.other_judge``: an external baseline's stage numbers, as its source reported them.
REPORTED_BY_SOURCE = "reported_by_source"


@dataclass(frozen=True)
class BoardRow:
    #: None for a row shown without a rank: a baseline, or an entry kept off the public board.
    rank: int | None
    team: str
    method_name: str
    #: None for an external baseline (``boards.Baseline``).
    submission_id: int | None
    submitted_at: datetime | None
    scores: dict[str, float]
    paper_url: str
    code_url: str
    missing_clips: int
    #: The method tags (``Submission``): None when the team did not say; empty for an external baseline.
    uses_character_info: bool | None = None
    external_data: bool | None = None
    model_size: str = ""
    #: The model that judged this entry's L1 and L2, if any.
    judge_model: str = ""
    #: Stage scores from a judge configuration other than the board's: shown, flagged, never ranked.
    other_judge_scores: dict[str, float] = field(default_factory=dict)
    #: Why ``other_judge_scores`` are not the board's judge's, when there are any: ``OTHER_CONFIGURATION``
    #: (an entry judged with another configuration) or ``REPORTED_BY_SOURCE`` (an external baseline's numbers).
    other_judge: str = ""
    #: A baseline: placed by score, never ranked, never counted as a team.
    baseline: bool = False
    citation: str = ""
    #: Why the public does not see this entry ("hidden", "disqualified", "banned") and the reason.
    #: Such rows reach organizers (all of them) and the entry's own team (``selectors.board_view``).
    moderation: str = ""
    moderation_reason: str = ""
    #: The entry's team: whose members see it when it is moderated. None for an external baseline.
    team_id: int | None = None
    #: The result the row shows (its per-clip statistics make the tie tests). None for an external baseline.
    result_id: int | None = None
    #: metric -> [low, high]: the result's 95% bootstrap interval of each column shown (``boards.intervals``).
    intervals: dict[str, list[float]] = field(default_factory=dict)
    #: Ranked rows whose differences are not significant share a group: the rank of the group's first row.
    tie_group: int | None = None
    #: The paired bootstrap's p-value of this row's primary metric against the ranked row above.
    p_value_vs_above: float | None = None


#: ``BoardRow`` fields stored under another name in ``BoardEntry``.
_ENTRY_NAMES = {"team": "team_name"}


def entry_from_row(row: BoardRow, **key) -> BoardEntry:
    """The stored form of ``row``; ``key`` gives its board, language, moment and position."""
    return BoardEntry(
        **key, **{_ENTRY_NAMES.get(name.name, name.name): getattr(row, name.name) for name in fields(row)}
    )


def row_from_entry(entry: BoardEntry) -> BoardRow:
    return BoardRow(**{name.name: getattr(entry, _ENTRY_NAMES.get(name.name, name.name)) for name in fields(BoardRow)})


#: The ``BoardEntry`` columns of a ``BoardRow``'s fields, in the fields' order.
_ENTRY_COLUMNS = tuple(_ENTRY_NAMES.get(name.name, name.name) for name in fields(BoardRow))


def rows_of_entries(entries) -> list[BoardRow]:
    """The rows of a ``BoardEntry`` queryset, read as tuples (no model instance per entry)."""
    return [BoardRow(*values) for values in entries.values_list(*_ENTRY_COLUMNS)]


def rank_boards(
    phase: Phase, language: str, boards: Iterable[Board], *, as_of: datetime | None, judge_signature: str
) -> dict[int, list[BoardRow]]:
    """Every row of each board of ``phase`` in ``language``, in board order, keyed by board id.

    * ``as_of``: the boards as they stood then: entries submitted by then, each
      with the result current then, its stage scores only if the judge had
      finished by then. None: the live boards.
    * Ranked by ``ranking.rank_entries``; hidden and disqualified entries and
      banned teams' entries are kept, marked and without a rank, placed by score.
    * Baselines (flagged submissions and the phase's external baselines) are
      placed by score, marked, without a rank and never counted as a team.
    * Stage scores count only when the board's judge (``judge_signature``, the
      one in effect at ``as_of``) produced them; an entry judged otherwise keeps
      them, flagged, out of the ranking. An external baseline's stage scores
      come from its source's judge: flagged the same way.
    * Ranked rows carry their results' intervals and their tie groups on the
      board's primary metric (:func:`with_ties`).
    """
    candidates = _candidates(phase, language, as_of)
    baselines = list(Baseline.objects.filter(phase=phase, language=language))
    best_per_team = not phase.show_all_entries
    method = method_of(phase)
    return {
        board.pk: with_ties(
            board, _place(board, _entries(board, candidates, baselines, judge_signature), best_per_team), method
        )
        for board in boards
    }


def rerank_team(
    phase: Phase,
    language: str,
    boards: Iterable[Board],
    stored: dict[int, list[BoardRow]],
    *,
    team_id: int,
    as_of: datetime | None,
    judge_signature: str,
) -> dict[int, list[BoardRow]]:
    """:func:`rank_boards` after a write that touched one team's entries only, from the ``stored`` rows.

    Every other row stands as ranked (each team's best, or every entry; moderated entries and
    baselines), so only the team's own entries are read again and everything is placed anew:
    the work grows with the board and the team, not with the phase's submissions. Only valid while
    the stored rows' inputs are current (``services.inputs_fingerprint``).
    """
    candidates = _candidates(phase, language, as_of, team_id=team_id)
    best_per_team = not phase.show_all_entries
    method = method_of(phase)
    ranked = {}
    for board in boards:
        others = [_entry_of_row(row) for row in stored.get(board.pk, []) if row.team_id != team_id]
        own_ranked, own_unranked = _entries(board, candidates, [], judge_signature)
        placed = _place(
            board,
            (
                [entry for entry in others if entry.payload.rank is not None] + own_ranked,
                [entry for entry in others if entry.payload.rank is None] + own_unranked,
            ),
            best_per_team,
        )
        ranked[board.pk] = with_ties(board, placed, method)
    return ranked


def _entry_of_row(row: BoardRow) -> Entry:
    """A stored row as the ranking takes it (an external baseline has neither submission nor team)."""
    return Entry(
        submission_id=row.submission_id or 0,
        team_id=row.team_id or 0,
        created_at=row.submitted_at,
        scores=row.scores,
        payload=row,
    )


@dataclass(frozen=True)
class _Candidate:
    """A finished public (or baseline) submission with the result it is placed by."""

    submission: Submission
    result: Result
    scores: dict[str, float]


def _entries(
    board: Board, candidates: list[_Candidate], baselines: list[Baseline], judge_signature: str
) -> tuple[list[Entry], list[Entry]]:
    """The board's entries before ranking: those that take a rank, and those placed without one."""
    ranked_entries, unranked_entries = [], []
    for candidate in candidates:
        submission, result = candidate.submission, candidate.result
        scores = dict(candidate.scores)
        other_judge = {}
        result_judge = JudgeIdentity.from_dict(result.judge)
        if result_judge.signature != judge_signature:
            other_judge = _other_judge_scores(scores, board)
        moderation, reason = _moderation(submission)
        entry = Entry(
            submission_id=submission.pk,
            team_id=submission.team_id,
            created_at=submission.created_at,
            scores=scores,
            payload=BoardRow(
                rank=None,
                team=submission.team.name,
                method_name=submission.method_name,
                submission_id=submission.pk,
                submitted_at=submission.created_at,
                scores={},
                paper_url=submission.paper_url,
                code_url=submission.code_url,
                uses_character_info=submission.uses_character_info,
                external_data=submission.external_data,
                model_size=submission.model_size,
                missing_clips=result.missing_clips,
                judge_model=result_judge.model,
                other_judge_scores=other_judge,
                other_judge=OTHER_CONFIGURATION if other_judge else "",
                baseline=submission.is_baseline,
                citation=submission.baseline_citation if submission.is_baseline else "",
                moderation=moderation,
                moderation_reason=reason,
                team_id=submission.team_id,
                result_id=result.pk,
                intervals=dict((result.intervals or {}).get("metrics", {})),
            ),
        )
        (unranked_entries if moderation or submission.is_baseline else ranked_entries).append(entry)
    for baseline in baselines:
        scores = dict(baseline.scores)
        other_judge = _other_judge_scores(scores, board)  # the source's judge (a paper's GPT), never the board's
        unranked_entries.append(
            Entry(
                submission_id=0,
                team_id=0,
                created_at=None,
                scores=scores,
                payload=BoardRow(
                    rank=None,
                    team="",
                    method_name=baseline.method_name,
                    submission_id=None,
                    submitted_at=None,
                    scores={},
                    paper_url=baseline.url,
                    code_url="",
                    missing_clips=0,
                    other_judge_scores=other_judge,
                    other_judge=REPORTED_BY_SOURCE if other_judge else "",
                    baseline=True,
                    citation=baseline.citation,
                ),
            )
        )
    return ranked_entries, unranked_entries


def _place(board: Board, entries: tuple[list[Entry], list[Entry]], best_per_team: bool) -> list[BoardRow]:
    ranked_entries, unranked_entries = entries
    ranked = rank_entries(ranked_entries, board.columns, best_per_team=best_per_team)
    return [
        replace(
            placed.entry.payload,
            rank=placed.rank,
            scores={name: placed.entry.scores[name] for name in board.columns if name in placed.entry.scores},
            intervals={
                name: placed.entry.payload.intervals[name]
                for name in board.columns
                if name in placed.entry.payload.intervals and name in placed.entry.scores
            },
        )
        for placed in place_unranked(ranked, unranked_entries, board.columns)
    ]


_ROW_FIELDS = (
    "id",
    "team__name",
    "team__banned",
    "team__ban_reason",
    "team_id",
    "method_name",
    "paper_url",
    "code_url",
    "uses_character_info",
    "external_data",
    "model_size",
    "created_at",
    "moderation",
    "moderation_reason",
    "is_baseline",
    "baseline_citation",
)


def _candidates(phase: Phase, language: str, as_of: datetime | None, *, team_id: int | None = None) -> list[_Candidate]:
    """The entries the boards place (one team's, with ``team_id``): finished, public or baseline, each
    with the result shown at ``as_of``."""
    submissions = Submission.objects.filter(
        Q(is_public=True) | Q(is_baseline=True),
        phase=phase,
        language=language,
        status=Status.FINISHED,
        current_result__isnull=False,
    )
    if team_id is not None:
        submissions = submissions.filter(team_id=team_id)
    if as_of is None:
        submissions = submissions.select_related("current_result").only(
            *_ROW_FIELDS,
            "current_result__metrics",
            "current_result__missing_clips",
            "current_result__judge",
            "current_result__intervals",
        )
    else:
        submissions = submissions.filter(created_at__lte=as_of).only(*_ROW_FIELDS)
    submissions = list(submissions.select_related("team"))
    results = (
        {
            submission.pk: (submission.current_result, dict(submission.current_result.metrics))
            for submission in submissions
        }
        if as_of is None
        else _results_as_of([submission.pk for submission in submissions], as_of)
    )
    return [_Candidate(submission, *results[submission.pk]) for submission in submissions if submission.pk in results]


def _other_judge_scores(scores: dict[str, float], board: Board) -> dict[str, float]:
    """Take the stage scores out of ``scores`` (they no longer place the entry); return those the board shows."""
    taken = {name: scores.pop(name) for name in STAGE_METRICS if name in scores}
    return {name: value for name, value in taken.items() if name in board.columns}


def _moderation(submission: Submission) -> tuple[str, str]:
    """Why the public does not see this entry, if it does not: ("hidden" | "disqualified" | "banned", reason)."""
    if submission.moderation:
        return submission.moderation, submission.moderation_reason
    if submission.team.banned and not submission.is_baseline:
        return "banned", submission.team.ban_reason
    return "", ""


def _results_as_of(submission_ids: list[int], as_of: datetime) -> dict[int, tuple[Result, dict[str, float]]]:
    """Each submission's result as the boards showed it at ``as_of``, with the scores shown then.

    An upload's first result was current from its creation; a re-score's
    became current when its judge run ended complete (or found no judge).
    Stage scores count only from a judge run that had completed by ``as_of``.
    """
    results = (
        Result.objects.filter(submission_id__in=submission_ids, created_at__lte=as_of)
        .select_related("judge_run")
        .only(
            "id",
            "submission_id",
            "metrics",
            "missing_clips",
            "judge",
            "intervals",
            "created_at",
            "judge_run__status",
            "judge_run__finished_at",
            "judge_run__promote_when_complete",
        )
        .order_by("submission_id", "created_at", "id")
    )
    shown: dict[int, tuple[datetime, Result]] = {}
    for result in results:
        run = getattr(result, "judge_run", None)
        if run is not None and run.promote_when_complete:
            promoted = run.status in (JudgeStatus.COMPLETE, JudgeStatus.NOT_CONFIGURED) and run.finished_at
            current_from = run.finished_at if promoted and run.finished_at <= as_of else None
        else:
            current_from = result.created_at  # the upload's result, current as soon as it was stored
        if current_from is not None and (
            result.submission_id not in shown or current_from >= shown[result.submission_id][0]
        ):
            shown[result.submission_id] = (current_from, result)
    picked = {}
    for submission_id, (_, result) in shown.items():
        run = getattr(result, "judge_run", None)
        scores = dict(result.metrics)
        judged_by_then = run is None or (
            run.status == JudgeStatus.COMPLETE and run.finished_at is not None and run.finished_at <= as_of
        )
        if not judged_by_then:
            scores = {name: value for name, value in scores.items() if name not in STAGE_METRICS}
        picked[submission_id] = (result, scores)
    return picked


def with_ties(board: Board, rows: list[BoardRow], method: BootstrapMethod) -> list[BoardRow]:
    """``rows`` (in board order) with their tie groups.

    Each ranked row is tested against the ranked row above by a paired bootstrap on the metric that
    orders them: the first of the board's columns both show (the primary metric, or before the judge
    has scored them, the first classic column). A p-value of at least ``ALPHA`` puts the row in that
    row's group; a group is named by the rank of its first row. A row that cannot be tested (no
    statistics, other clips) starts a group of its own, with no p-value. Unranked rows (baselines,
    moderated entries) have no group.
    """
    ranked = [index for index, row in enumerate(rows) if row.rank is not None]
    pairs = [_pair(board, rows[above], rows[below]) for above, below in itertools.pairwise(ranked)]
    p_values = paired_p_values(pairs, method)
    placed = [replace(row, tie_group=None, p_value_vs_above=None) for row in rows]
    group = None
    for position, index in enumerate(ranked):
        row = rows[index]
        p_value = p_values.get(pairs[position - 1]) if position else None
        if p_value is None or p_value < ALPHA:
            group = row.rank
        placed[index] = replace(row, tie_group=group, p_value_vs_above=p_value)
    return placed


def _pair(board: Board, above: BoardRow, below: BoardRow) -> tuple[int | None, int | None, str | None]:
    metric = next((name for name in board.columns if name in above.scores and name in below.scores), None)
    return above.result_id, below.result_id, metric
