"""Which judge a board's stage numbers come from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from leaderboard.challenges.models import Phase
from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.judging.setup import judge_setup, translated_reason


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
        return BoardJudge(reason=translated_reason(setup.reason))
    return BoardJudge(
        model=current.model,
        temperature=current.temperature,
        signature=current.signature,
        stages=current.stages,
    )
