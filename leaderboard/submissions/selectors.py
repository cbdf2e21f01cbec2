"""Reading submissions and boards. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from evaluation.judge import JudgeIdentity
from evaluation.metrics import STAGE_METRICS
from leaderboard.challenges.models import Baseline, Board, Phase
from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.judging.services import judge_setup
from leaderboard.teams.services import team_of

from . import rules
from .models import Result, Status, Submission
from .ranking import Entry, place_unranked, rank_entries


@dataclass(frozen=True)
class BoardRow:
    #: None for a row shown without a rank: a baseline, or (organizers only) an entry kept off the public board.
    rank: int | None
    team: str
    method_name: str
    #: None for an external baseline (``challenges.Baseline``).
    submission_id: int | None
    submitted_at: datetime | None
    scores: dict[str, float]
    paper_url: str
    code_url: str
    missing_clips: int
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
    #: Organizers (every entry) and the entry's own team: why the public does not see this entry
    #: ("hidden", "disqualified", "banned") and the reason.
    moderation: str = ""
    moderation_reason: str = ""


@dataclass(frozen=True)
class BoardView:
    """A board as one viewer sees it: its rows, and which moment they show."""

    rows: list[BoardRow]
    #: The moment the rows stand at (the freeze date), or None for the live board.
    as_of: datetime | None
    #: The phase's freeze date once it has passed, whoever looks.
    frozen_at: datetime | None
    #: Whether the rows include every entry the public does not see (organizers).
    with_moderated: bool
    #: The viewer's team, whose own moderated entries the rows include, marked (a signed-in participant).
    moderated_team_id: int | None = None
    #: The judge whose stage numbers the rows rank: the one in effect at ``as_of``.
    judge: BoardJudge | None = None


#: ``BoardRow.other_judge``: the entry was judged with a configuration other than the board's.
OTHER_CONFIGURATION = "other_configuration"
#: ``BoardRow.other_judge``: an external baseline's stage numbers, as its source reported them.
REPORTED_BY_SOURCE = "reported_by_source"


@dataclass(frozen=True)
class BoardJudge:
    """Which judge produced a board's stage numbers, or why there is none."""

    model: str = ""
    temperature: float = 0.0
    signature: str = ""
    stages: dict = field(default_factory=dict)
    #: Set when there is no judge.
    reason: str = ""
    #: Whether this is the phase's judge now (False: a frozen board judged by an earlier configuration).
    current: bool = True


def board_judge(phase: Phase, language: str, *, as_of: datetime | None = None) -> BoardJudge:
    """The judge of the phase's boards in ``language``: the phase's configuration now, or at ``as_of``.

    At ``as_of`` (a frozen board) it is the judge of the latest judge run of the
    phase and language that had completed by then; the current configuration
    when none had.
    """
    setup = judge_setup(phase, language)
    current = setup.identity
    if as_of is not None:
        run = (
            JudgeRun.objects.filter(
                submission__phase=phase,
                submission__language=language,
                status=JudgeStatus.COMPLETE,
                finished_at__lte=as_of,
            )
            .exclude(signature="")
            .only("judge", "signature")
            .order_by("-finished_at", "-pk")
            .first()
        )
        if run is not None:
            identity = run.identity  # without the endpoint, which is not published
            return BoardJudge(
                model=identity.model,
                temperature=identity.temperature,
                signature=run.signature,
                stages=identity.stages,
                current=current is not None and current.signature == run.signature,
            )
    if current is None:
        return BoardJudge(reason=setup.reason)
    return BoardJudge(
        model=current.model,
        temperature=current.temperature,
        signature=current.signature,
        stages=current.stages,
    )


def board_view(phase: Phase, language: str, board: Board, *, viewer=None, at: datetime | None = None) -> BoardView:
    """The board ``viewer`` sees: organizers the live one with every entry marked, the public the
    frozen one after the freeze date, without hidden, disqualified or banned teams' entries; a
    team's member also sees the team's own such entries, marked with the reason, without a rank.

    Who may see the board at all is ``rules.can_view_board``: ask it first.
    """
    viewer = viewer or AnonymousUser()
    as_of = rules.board_as_of(viewer, phase, at)
    with_moderated = rules.can_view_moderated_entries(viewer)
    moderated_team_id = None if with_moderated else rules.moderated_entries_team(viewer)
    judge = board_judge(phase, language, as_of=as_of)
    return BoardView(
        rows=board_rows(
            phase,
            language,
            board,
            as_of=as_of,
            with_moderated=with_moderated,
            moderated_team_id=moderated_team_id,
            judge=judge,
        ),
        as_of=as_of,
        frozen_at=phase.frozen_at if phase.is_frozen(at) else None,
        with_moderated=with_moderated,
        moderated_team_id=moderated_team_id,
        judge=judge,
    )


def board_rows(
    phase: Phase,
    language: str,
    board: Board,
    *,
    as_of: datetime | None = None,
    with_moderated: bool = False,
    moderated_team_id: int | None = None,
    judge: BoardJudge | None = None,
) -> list[BoardRow]:
    """The rows of one board: a phase, a language and a stage, ranked by ``ranking.rank_entries``.

    * ``as_of``: the board as it stood then: entries submitted by then, each
      with the result current then, its stage scores only if the judge had
      finished by then. None: the live board.
    * Hidden and disqualified entries and banned teams' entries are left out,
      or with ``with_moderated`` (organizers) shown marked and without a rank;
      ``moderated_team_id`` shows that one team's (its members') that way.
    * Baselines (flagged submissions and the phase's external baselines) are
      placed by score, marked, without a rank and never counted as a team.
    * Stage scores count only when the board's judge (``board_judge``, the one
      in effect at ``as_of``) produced them; an entry judged otherwise keeps
      them, flagged, out of the ranking. An external baseline's stage scores
      come from its source's judge: flagged the same way.
    """
    judge_signature = (judge or board_judge(phase, language, as_of=as_of)).signature
    submissions = Submission.objects.filter(
        Q(is_public=True) | Q(is_baseline=True),
        phase=phase,
        language=language,
        status=Status.FINISHED,
        current_result__isnull=False,
    )
    if as_of is None:
        submissions = submissions.select_related("current_result").only(
            *_ROW_FIELDS,
            "current_result__metrics",
            "current_result__missing_clips",
            "current_result__judge",
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

    ranked_entries, unranked_entries = [], []
    for submission in submissions:
        if submission.pk not in results:
            continue
        result, scores = results[submission.pk]
        other_judge = {}
        result_judge = JudgeIdentity.from_dict(result.judge)
        if result_judge.signature != judge_signature:
            other_judge = _other_judge_scores(scores, board)
        moderation, reason = _moderation(submission)
        if moderation and not (with_moderated or submission.team_id == moderated_team_id):
            continue
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
                missing_clips=result.missing_clips,
                judge_model=result_judge.model,
                other_judge_scores=other_judge,
                other_judge=OTHER_CONFIGURATION if other_judge else "",
                baseline=submission.is_baseline,
                citation=submission.baseline_citation if submission.is_baseline else "",
                moderation=moderation,
                moderation_reason=reason,
            ),
        )
        (unranked_entries if moderation or submission.is_baseline else ranked_entries).append(entry)
    for baseline in Baseline.objects.filter(phase=phase, language=language):
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

    ranked = rank_entries(ranked_entries, board.columns, best_per_team=not phase.show_all_entries)
    return [
        replace(
            placed.entry.payload,
            rank=placed.rank,
            scores={name: placed.entry.scores[name] for name in board.columns if name in placed.entry.scores},
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
    "created_at",
    "moderation",
    "moderation_reason",
    "is_baseline",
    "baseline_citation",
)


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


def team_submissions(user) -> QuerySet[Submission]:
    """The submissions a participant may see: their team's, newest first."""
    team = team_of(user)
    if team is None:
        return Submission.objects.none()
    return Submission.objects.filter(team=team).with_details()


def phase_languages(phase: Phase) -> list[str]:
    return sorted(phase.reference_sets.values_list("language", flat=True), key=lambda code: ("zh", "en").index(code))


def visible_board(user, phase: Phase, language: str, stage: str) -> Board:
    """The board ``stage`` of ``phase`` in ``language``, as the site and the API serve it.

    Http404 when the board does not exist, the phase does not score ``language``, or ``user`` may not
    see the phase's boards (``rules.can_view_board``): a hidden board is not confirmed to exist.
    """
    board = get_object_or_404(Board, phase=phase, key=stage)
    if language not in phase_languages(phase) or not rules.can_view_board(user, phase):
        raise Http404
    return board
