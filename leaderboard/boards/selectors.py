"""Reading the boards: the stored rows a viewer may see, and the board a URL names.

A board view reads the rows ``services.refresh_boards`` stored; it ranks nothing. The one write
here is the self-healing one: stored rows whose inputs changed without a write that refreshed
them (a judge setting in the environment, a phase edited in place) are ranked again first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext

from evaluation.intervals import BOOTSTRAP_VERSION
from evaluation.versions import PROTOCOL, __version__
from leaderboard.challenges.models import Phase, ReferenceSet
from leaderboard.challenges.selectors import phase_languages
from leaderboard.submissions import rules

from . import services
from .disclosure import disclosed_rows, rounds_for
from .intervals import method_of
from .judges import BoardJudge, board_judge
from .models import Board, BoardEntry, BoardMoment, BoardSnapshot
from .rows import BoardRow, rows_of_entries


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


@dataclass(frozen=True)
class BoardState:
    """What a board's rows stand on for one viewer, read before any row: enough for its validators.

    ``snapshot`` is up to date (ranked again first if its inputs had changed), so a response whose
    validators (``boards.conditional``) match the client's can be answered without reading a row.
    """

    snapshot: BoardSnapshot | None
    boards: list[Board]
    as_of: datetime | None
    frozen_at: datetime | None
    with_moderated: bool
    moderated_team_id: int | None
    judge: BoardJudge
    #: Whether the viewer sees the scores rounded (``disclosure.rounds_for``).
    rounded: bool


def board_state(phase: Phase, language: str, *, viewer=None, at: datetime | None = None) -> BoardState:
    """The state of ``phase``'s boards in ``language`` as ``viewer`` sees them (see :func:`board_view`)."""
    viewer = viewer or AnonymousUser()
    as_of = rules.board_as_of(viewer, phase, at)
    with_moderated = rules.can_view_moderated_entries(viewer, phase)
    moderated_team_id = None if with_moderated else rules.moderated_entries_team(viewer)
    judge = board_judge(phase, language, as_of=as_of)
    boards = list(Board.objects.filter(phase=phase))
    return BoardState(
        snapshot=current_snapshot(phase, language, as_of=as_of, judge=judge, boards=boards),
        boards=boards,
        as_of=as_of,
        frozen_at=phase.frozen_at if phase.is_frozen(at) else None,
        with_moderated=with_moderated,
        moderated_team_id=moderated_team_id,
        judge=judge,
        rounded=rounds_for(viewer, phase),
    )


def board_view(
    phase: Phase,
    language: str,
    board: Board,
    *,
    viewer=None,
    at: datetime | None = None,
    state: BoardState | None = None,
) -> BoardView:
    """The board ``viewer`` sees: organizers the live one with every entry marked, the public the
    frozen one after the freeze date, without hidden, disqualified or banned teams' entries; a
    team's member also sees the team's own such entries, marked with the reason, without a rank.

    Who may see the board at all is ``rules.can_view_board``: ask it first (``visible_board``).
    ``state``: the :func:`board_state` of the same viewer, already read (its validators were checked).
    """
    viewer = viewer or AnonymousUser()
    state = state or board_state(phase, language, viewer=viewer, at=at)
    moderated_team_id = state.moderated_team_id
    rows = [
        row
        for row in _entry_rows(board, language, state.as_of)
        if not row.moderation or state.with_moderated or (row.team_id is not None and row.team_id == moderated_team_id)
    ]
    # On a hidden phase, everyone but its organizers sees the scores rounded to the boards' precision.
    rows = disclosed_rows(rows, phase, viewer)
    return BoardView(
        rows=rows,
        as_of=state.as_of,
        frozen_at=state.frozen_at,
        with_moderated=state.with_moderated,
        moderated_team_id=moderated_team_id,
        judge=state.judge,
    )


def current_snapshot(
    phase: Phase,
    language: str,
    *,
    as_of: datetime | None,
    judge: BoardJudge | None = None,
    boards: list[Board] | None = None,
) -> BoardSnapshot | None:
    """The snapshot of the rows stored for ``as_of`` (None: live), ranked again first if out of date."""
    moment = BoardMoment.FROZEN if as_of is not None else BoardMoment.LIVE
    judge = judge or board_judge(phase, language, as_of=as_of)
    boards = boards if boards is not None else list(Board.objects.filter(phase=phase))
    snapshots = BoardSnapshot.objects.filter(phase=phase, language=language, moment=moment)
    snapshot = snapshots.first()
    if snapshot is None or snapshot.inputs != services.inputs_fingerprint(phase, moment, boards, judge.signature):
        services.refresh_if_out_of_date(phase, language, moment, judge.signature)
        snapshot = snapshots.first()
    return snapshot


def stored_rows(
    phase: Phase, language: str, board: Board, *, as_of: datetime | None, judge: BoardJudge | None = None
) -> list[BoardRow]:
    """Every stored row of ``board`` at ``as_of`` (None: live), moderated ones included, in board order."""
    current_snapshot(phase, language, as_of=as_of, judge=judge)
    return _entry_rows(board, language, as_of)


def _entry_rows(board: Board, language: str, as_of: datetime | None) -> list[BoardRow]:
    moment = BoardMoment.FROZEN if as_of is not None else BoardMoment.LIVE
    return rows_of_entries(
        BoardEntry.objects.filter(board=board, language=language, moment=moment).order_by("position")
    )


def visible_board(user, phase: Phase, language: str, stage: str) -> Board:
    """The board ``stage`` of ``phase`` in ``language``, as the site and the API serve it.

    Http404 when the board does not exist, the phase does not score ``language``, or ``user`` may not
    see the phase's boards (``rules.can_view_board``): a hidden board is not confirmed to exist.
    """
    board = get_object_or_404(Board, phase=phase, key=stage)
    if language not in phase_languages(phase) or not rules.can_view_board(user, phase):
        raise Http404
    return board


def board_versions(phase: Phase, language: str) -> dict[str, str]:
    """What a board's numbers come from: the scorer, the classic protocol, the bootstrap and the references."""
    references = ReferenceSet.objects.filter(phase=phase, language=language).values_list("content_hash", flat=True)
    return {
        "evaluation": __version__,
        "protocol": PROTOCOL,
        "bootstrap": BOOTSTRAP_VERSION,
        "references": next(iter(references), ""),
    }


__all__ = [
    "BoardState",
    "BoardView",
    "board_state",
    "board_versions",
    "board_view",
    "current_snapshot",
    "method_of",
    "stored_rows",
    "visible_board",
]


#: The board filters on the method tags: query parameter -> ``BoardRow`` field. Values: ``yes`` or ``no``.
TAG_FILTERS = {"character_info": "uses_character_info", "external_data": "external_data"}
TAG_FILTER_VALUES = {"yes": True, "no": False}


class InvalidTagFilter(ValueError):
    """A board filter with a value other than ``yes`` or ``no``."""


def tag_filters(query, *, allow_empty: bool = False) -> dict[str, bool]:
    """The method-tag filters asked in ``query`` (a QueryDict): ``BoardRow`` field -> the value rows must have.

    An absent parameter asks nothing (an empty one too with ``allow_empty``: the page's "any"); any other
    value but ``yes`` or ``no`` raises :class:`InvalidTagFilter`.
    """
    filters = {}
    for parameter, field_name in TAG_FILTERS.items():
        value = query.get(parameter)
        if value is None or (value == "" and allow_empty):
            continue
        if value not in TAG_FILTER_VALUES:
            raise InvalidTagFilter(
                gettext("?%(parameter)s= takes yes or no, not %(value)s.")
                % {"parameter": parameter, "value": repr(value[:40])}
            )
        filters[field_name] = TAG_FILTER_VALUES[value]
    return filters


def filtered_rows(rows: list[BoardRow], filters: dict[str, bool]) -> list[BoardRow]:
    """The rows whose method tags are those ``filters`` asks (a tag not said matches neither yes nor no).

    The rows keep their ranks and tie groups: those of the whole board, not renumbered.
    """
    return [row for row in rows if all(getattr(row, name) is value for name, value in filters.items())]
