"""Intervals and breakdowns for results written before they were kept (``manage.py fill_intervals``).

A result without per-clip statistics is scored again from its stored file against its phase's
references, only to get them: its numbers must come out as stored (the same references, the same
protocol), or it is left alone and named, since only a re-score may change a result's numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction

from leaderboard.boards.breakdowns import breakdown_out_of_date, result_breakdown
from leaderboard.boards.intervals import compute_result_intervals, method_of, stored_stats
from leaderboard.boards.services import refresh_boards

from .files import ScoringFailed
from .models import Result
from .scoring import compute_classic

logger = logging.getLogger(__name__)

#: Two numbers of one result agree when they differ by less than this (they are the same computation).
SAME_NUMBER = 1e-9


@dataclass
class BackfillReport:
    filled: list[int] = field(default_factory=list)
    #: Results whose statistics had to be made by scoring their file again.
    rescored: list[int] = field(default_factory=list)
    #: result id -> why it was left without intervals.
    skipped: dict[int, str] = field(default_factory=dict)
    #: Results that already had intervals made the phase's way.
    current: int = 0
    #: Results given their per-movie and per-genre breakdown (missing, or naming movies otherwise than the
    #: movie metadata now does).
    breakdowns: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"{len(self.filled)} results given intervals ({len(self.rescored)} of them scored again for their "
            f"per-clip statistics); {self.current} already had them; {len(self.skipped)} skipped",
            f"{len(self.breakdowns)} results given their per-movie and per-genre breakdown",
        ]
        lines += [f"result {result_id}: {reason}" for result_id, reason in sorted(self.skipped.items())]
        return lines


def fill_intervals(results: Iterable[Result] | None = None, *, again: bool = False) -> BackfillReport:
    """Give every result (or ``results``) its intervals the way its phase makes them now, and its
    per-movie and per-genre breakdown where it is missing or out of date (``breakdowns.breakdown_out_of_date``).

    ``again``: compute both even for results that have them (after a change of the bootstrap). The
    boards of every phase touched are ranked again, so their rows carry the new intervals and ties.
    """
    report = BackfillReport()
    queryset = results if results is not None else Result.objects.all()
    phases = set()
    for result in queryset.select_related("submission__phase").order_by("pk"):
        phase = result.submission.phase
        method = method_of(phase)
        intervals_due = again or (result.intervals or {}).get("method") != method.to_dict()
        breakdown_due = again or breakdown_out_of_date(result.breakdown)
        if not intervals_due:
            report.current += 1
        if not intervals_due and not breakdown_due:
            continue
        if result.clip_stats is None:
            reason = _make_stats(result)
            if reason:
                report.skipped[result.pk] = reason
                continue
            report.rescored.append(result.pk)
        changes = {"clip_stats": result.clip_stats}
        if intervals_due:
            result.intervals = changes["intervals"] = compute_result_intervals(result, method)
            report.filled.append(result.pk)
            phases.add(phase.pk)
        if breakdown_due:
            result.breakdown = changes["breakdown"] = result_breakdown(result.clip_stats, result.per_clip)
            report.breakdowns.append(result.pk)
        with transaction.atomic():
            Result.objects.filter(pk=result.pk).update(**changes)
    for phase_id in sorted(phases):
        refresh_boards(phase_id)
    return report


def _make_stats(result: Result) -> str:
    """Score ``result``'s file again for its statistics; a reason when its numbers would not be the same."""
    submission = result.submission
    try:
        scored = compute_classic(submission)
    except ScoringFailed as failure:
        return f"its file could not be scored again: {failure.reason}"
    if scored.reference_hash != result.reference_hash:
        return "the phase's references changed since it was scored: re-score it (manage.py rescore)"
    if scored.versions.get("protocol") != result.protocol:
        return f"scored with protocol {result.protocol}, not {scored.versions.get('protocol')}: re-score it"
    differing = [
        name
        for name, value in scored.metrics.items()
        if name in result.metrics and abs(value - result.metrics[name]) > SAME_NUMBER
    ]
    if differing:
        return f"scoring its file again gives other {', '.join(differing)}: re-score it"
    result.clip_stats = stored_stats(scored.stats)
    return ""
