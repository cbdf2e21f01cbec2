"""Storing the boards' rows: ranked once per write, read by every view.

Call :func:`refresh_boards` inside the transaction of any write that can move a board:

* a result stored, promoted (re-score) or given its stage scores (the judge finished);
* a submission's visibility or method changed, moderated, flagged as a baseline;
* a team banned, unbanned or renamed;
* a phase's boards, baselines, references or settings reloaded or edited.

The rows then change exactly when the write commits. What a board view can check for free
(``inputs_fingerprint``) also heals itself: a view that finds it out of date ranks again first.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leaderboard.challenges.models import Phase
from leaderboard.challenges.selectors import phase_languages

from . import public_cache
from .intervals import method_key, method_of
from .judges import board_judge
from .models import Board, BoardEntry, BoardMoment, BoardSnapshot
from .rows import entry_from_row, rank_boards, rerank_team, row_from_entry

logger = logging.getLogger(__name__)


def refresh_boards(phase: Phase | int, language: str | None = None, *, team_id: int | None = None) -> None:
    """Rank the boards of ``phase`` (in ``language``, or in each it scores) again and store their rows.

    ``team_id``: the write touched that team's entries only (a result, a moderation, a ban): the
    other rows stand as stored and only the team's entries are read again (``rows.rerank_team``),
    unless the stored rows are out of date, when everything is ranked from the database.
    Rankings of one phase take turns on its row, so the later one reads what the earlier
    one's write committed and the stored rows never go back to an older state.
    """
    phase_id = phase.pk if isinstance(phase, Phase) else phase
    with transaction.atomic():
        # Anonymous visitors' kept responses (public_cache) are not served again once this commits.
        public_cache.boards_changed()
        locked = Phase.objects.select_for_update().get(pk=phase_id)
        boards = list(Board.objects.filter(phase=locked))
        languages = [language] if language else phase_languages(locked)
        for code in languages:
            _store_moment(locked, code, boards, BoardMoment.LIVE, as_of=None, team_id=team_id)
            if locked.frozen_at is not None:
                _store_moment(locked, code, boards, BoardMoment.FROZEN, as_of=locked.frozen_at, team_id=team_id)
            else:
                _forget_moment(locked, code, BoardMoment.FROZEN)


def refresh_if_out_of_date(phase: Phase, language: str, moment: str, judge_signature: str) -> None:
    """Rank ``phase``'s boards in ``language`` again unless the rows stored for ``moment`` are up to date.

    Asked again under the phase's lock: of many views that found the rows out of date at once,
    the first ranks and the others find its rows.
    """
    with transaction.atomic():
        locked = Phase.objects.select_for_update().get(pk=phase.pk)
        snapshot = BoardSnapshot.objects.filter(phase=locked, language=language, moment=moment).first()
        boards = list(Board.objects.filter(phase=locked))
        if snapshot is None or snapshot.inputs != inputs_fingerprint(locked, moment, boards, judge_signature):
            refresh_boards(locked, language)


def refresh_boards_of_phases(phase_ids: Iterable[int], *, team_id: int | None = None) -> None:
    """:func:`refresh_boards` for several phases (a team's), in a fixed order so two writers cannot deadlock."""
    for phase_id in sorted(set(phase_ids)):
        refresh_boards(phase_id, team_id=team_id)


def inputs_fingerprint(phase: Phase, moment: str, boards: Iterable[Board], judge_signature: str) -> str:
    """What a board's stored rows depend on that is on the phase, its boards and its judge."""
    inputs = {
        "moment": moment,
        "frozen_at": phase.frozen_at.isoformat() if phase.frozen_at and moment == BoardMoment.FROZEN else None,
        "best_per_team": not phase.show_all_entries,
        "boards": sorted([board.pk, board.columns] for board in boards),
        "judge": judge_signature,
        # The tie groups' resampling (its unit is the phase's choice).
        "bootstrap": method_key(method_of(phase)),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _store_moment(
    phase: Phase, language: str, boards: list[Board], moment: str, *, as_of: datetime | None, team_id: int | None
) -> None:
    judge = board_judge(phase, language, as_of=as_of)
    inputs = inputs_fingerprint(phase, moment, boards, judge.signature)
    stored = BoardEntry.objects.filter(board__phase=phase, language=language, moment=moment)
    snapshot = BoardSnapshot.objects.filter(phase=phase, language=language, moment=moment).first()
    incremental = team_id is not None and snapshot is not None and snapshot.inputs == inputs
    if incremental:
        rows_by_board: dict[int, list] = {board.pk: [] for board in boards}
        for entry in stored.order_by("board_id", "position"):
            rows_by_board.setdefault(entry.board_id, []).append(row_from_entry(entry))
        rows = rerank_team(
            phase, language, boards, rows_by_board, team_id=team_id, as_of=as_of, judge_signature=judge.signature
        )
    else:
        rows = rank_boards(phase, language, boards, as_of=as_of, judge_signature=judge.signature)
    stored.delete()
    BoardEntry.objects.bulk_create(
        entry_from_row(row, board_id=board_id, language=language, moment=moment, position=position)
        for board_id, board_rows in rows.items()
        for position, row in enumerate(board_rows)
    )
    BoardSnapshot.objects.update_or_create(
        phase=phase, language=language, moment=moment, defaults={"inputs": inputs, "ranked_at": timezone.now()}
    )
    logger.info(
        "boards of %s %s (%s) ranked%s: %s rows",
        phase,
        language,
        moment,
        f" again for team {team_id}" if incremental else "",
        sum(len(board_rows) for board_rows in rows.values()),
    )


def _forget_moment(phase: Phase, language: str, moment: str) -> None:
    BoardEntry.objects.filter(board__phase=phase, language=language, moment=moment).delete()
    BoardSnapshot.objects.filter(phase=phase, language=language, moment=moment).delete()
