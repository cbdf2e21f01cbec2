"""Who may do what. The site, the API and the commands all ask these functions.

Nothing here writes. ``services.submit`` calls :func:`submission_refusal`
again inside its transaction, with the team row locked, so the limit check
that counts is the one that cannot race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from leaderboard.challenges.models import Phase
from leaderboard.teams.models import Team
from leaderboard.teams.services import team_of

from .models import Submission


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    #: The HTTP status that fits: 401 sign in, 403 not allowed, 429 limit.
    http_status: int


@dataclass(frozen=True)
class Quota:
    used_today: int
    used_total: int
    per_day: int | None
    total: int | None
    resets_at: datetime

    @property
    def left_today(self) -> int | None:
        return None if self.per_day is None else max(0, self.per_day - self.used_today)

    @property
    def left_total(self) -> int | None:
        return None if self.total is None else max(0, self.total - self.used_total)


def day_start(at: datetime) -> datetime:
    """00:00 UTC of the day ``at`` falls in: the daily limit resets then."""
    return datetime.combine(at.astimezone(UTC).date(), time.min, tzinfo=UTC)


def quota(team: Team, phase: Phase, at: datetime | None = None) -> Quota:
    at = at or timezone.now()
    start = day_start(at)
    charged = Submission.objects.charged().filter(team=team, phase=phase)
    return Quota(
        used_today=charged.filter(created_at__gte=start).count(),
        used_total=charged.count(),
        per_day=phase.max_submissions_per_day,
        total=phase.max_submissions_total,
        resets_at=start + timedelta(days=1),
    )


def submission_refusal(
    user: AbstractBaseUser | AnonymousUser, phase: Phase, language: str | None = None, *, at: datetime | None = None
) -> Refusal | None:
    """Why ``user`` may not submit to ``phase`` now, or None if they may."""
    at = at or timezone.now()
    if not user.is_authenticated:
        return Refusal("not_authenticated", "Sign in to submit.", 401)
    if not user.is_active:
        return Refusal("inactive", "This account is disabled.", 403)
    team = team_of(user)
    if team is None:
        return Refusal("no_team", "Create or join a team before you submit.", 403)
    if at < phase.starts_at:
        return Refusal(
            "phase_not_open", f"The phase “{phase.title}” opens at {phase.starts_at:%Y-%m-%d %H:%M} UTC.", 403
        )
    if phase.ends_at is not None and at >= phase.ends_at:
        return Refusal(
            "phase_closed", f"The phase “{phase.title}” closed at {phase.ends_at:%Y-%m-%d %H:%M} UTC.", 403
        )
    if language is not None:
        languages = set(phase.reference_sets.values_list("language", flat=True))
        if language not in languages:
            offered = ", ".join(sorted(languages)) or "none yet"
            return Refusal("unknown_language", f"This phase scores {offered}, not {language!r}.", 400)
    usage = quota(team, phase, at)
    if usage.left_total == 0:
        return Refusal(
            "total_limit",
            f"Your team has used all {usage.total} submissions of this phase.",
            429,
        )
    if usage.left_today == 0:
        return Refusal(
            "daily_limit",
            f"Your team has used its {usage.per_day} submissions for today; "
            f"the limit resets at {usage.resets_at:%H:%M} UTC.",
            429,
        )
    return None


def can_view_submission(user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    team = team_of(user)
    return team is not None and team.pk == submission.team_id


def can_change_submission(user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    """Team members may change the method fields and the public flag, nothing else."""
    if not user.is_authenticated:
        return False
    team = team_of(user)
    return team is not None and team.pk == submission.team_id


def can_view_clip_scores(user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    """Per-clip scores on a hidden split would leak the references: never."""
    return submission.phase.references_public and can_view_submission(user, submission)


def can_view_board(user: AbstractBaseUser | AnonymousUser, phase: Phase) -> bool:
    return phase.boards_public() or is_organizer(user)


def is_organizer(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def can_view_judge_accounting(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Calls, tokens and failure details of judge runs: organizers only."""
    return is_organizer(user)
