"""The stored board rows against a ranking from scratch. Service layer."""

from __future__ import annotations


def stale_boards() -> list[str]:
    """Every stored board whose rows differ from ranking the database as it is now, described.

    Only snapshots whose inputs are current count: one out of date in a way a board view
    notices (a judge setting, a phase edited in place) is ranked again by that view, so it
    is not stale. A difference here is a write that moved a board without refreshing it.
    """
    from leaderboard.boards.judges import board_judge
    from leaderboard.boards.models import Board, BoardEntry, BoardMoment, BoardSnapshot
    from leaderboard.boards.rows import rank_boards, row_from_entry
    from leaderboard.boards.services import inputs_fingerprint

    problems = []
    for snapshot in BoardSnapshot.objects.select_related("phase").order_by("pk"):
        phase, language, moment = snapshot.phase, snapshot.language, snapshot.moment
        as_of = phase.frozen_at if moment == BoardMoment.FROZEN else None
        judge = board_judge(phase, language, as_of=as_of)
        boards = list(Board.objects.filter(phase=phase))
        if snapshot.inputs != inputs_fingerprint(phase, moment, boards, judge.signature):
            continue
        ranked = rank_boards(phase, language, boards, as_of=as_of, judge_signature=judge.signature)
        for board in boards:
            stored = [
                row_from_entry(entry)
                for entry in BoardEntry.objects.filter(board=board, language=language, moment=moment).order_by(
                    "position"
                )
            ]
            if stored != ranked[board.pk]:
                problems.append(f"{board} {language} {moment}: stored {stored!r}, ranked now {ranked[board.pk]!r}")
    return problems
