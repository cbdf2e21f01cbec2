"""Who may do what. The site, the API and the commands all ask these functions.

Nothing here writes. ``intake.submit`` calls :func:`submission_refusal`
again inside its transaction, with the team row locked, so the limit check
that counts is the one that cannot race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leaderboard.accounts.services import is_verified
from leaderboard.challenges.models import Challenge, Phase
from leaderboard.challenges.texts import localized
from leaderboard.teams.models import ApprovalStatus, PhaseApproval, Team
from leaderboard.teams.services import team_of

from .models import Moderation, Status, Submission


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

    @property
    def summary(self) -> str:
        """ "3 submissions left today, resets at 00:00 UTC; 97 left in total", as the submit page says it."""
        if self.left_today is None:
            today = _("no daily limit")
        else:
            today = ngettext(
                "%(count)d submission left today, resets at %(time)s UTC",
                "%(count)d submissions left today, resets at %(time)s UTC",
                self.left_today,
            ) % {"count": self.left_today, "time": f"{self.resets_at:%H:%M}"}
        if self.left_total is None:
            total = _("no total limit")
        else:
            total = ngettext("%(count)d left in total", "%(count)d left in total", self.left_total) % {
                "count": self.left_total
            }
        # Translators: the two halves of the quota's summary: what is left today; what is left in total.
        return _("%(today)s; %(total)s") % {"today": today, "total": total}


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
    """Why ``user`` may not submit to ``phase`` now, or None if they may.

    The one eligibility check of the site, the API and the ``submit`` command,
    in this order: account (signed in, active, email verified), team, ban, phase window, approval, language,
    limits. ``language=None`` skips the language check (a page before the
    form is filled in).
    """
    at = at or timezone.now()
    if not user.is_authenticated:
        return Refusal("not_authenticated", _("Sign in to submit."), 401)
    if not user.is_active:
        return Refusal("inactive", _("This account is disabled."), 403)
    if not is_verified(user):
        # Verified addresses make each extra account cost a mailbox (docs/reliability.md, "Hidden scores").
        if user.email:
            message = _(
                "Verify your email address (%(email)s) before you submit: follow the link we sent you, or ask for "
                "a new one with “Send the link again” on the site's submit page."
            ) % {"email": user.email}
        else:
            message = _(
                "Verify your email address before you submit: follow the link we sent you, or ask for a new "
                "one with “Send the link again” on the site's submit page."
            )
        return Refusal("email_unverified", message, 403)
    team = team_of(user)
    if team is None:
        return Refusal("no_team", _("Create or join a team before you submit."), 403)
    if team.banned:
        reason = team.ban_reason.strip() or _("no reason was given")
        return Refusal("team_banned", _("Your team is banned from submitting: %(reason)s") % {"reason": reason}, 403)
    refusal = window_refusal(phase, at)
    if refusal is not None:
        return refusal
    refusal = approval_refusal(team, phase)
    if refusal is not None:
        return refusal
    if language is not None:
        languages = set(phase.reference_sets.values_list("language", flat=True))
        if language not in languages:
            if languages:
                message = _("This phase scores %(offered)s, not %(language)s.") % {
                    "offered": ", ".join(sorted(languages)),
                    "language": repr(language),
                }
            else:
                message = _("This phase scores none yet, not %(language)s.") % {"language": repr(language)}
            return Refusal("unknown_language", message, 400)
    return limit_refusal(quota(team, phase, at))


def window_refusal(phase: Phase, at: datetime | None = None) -> Refusal | None:
    """Why ``phase`` takes no submission at ``at``: before or after its window (``Phase.state_at``), or None."""
    state = phase.state_at(at)
    if state == "upcoming":
        return Refusal(
            "phase_not_open",
            _("The phase “%(phase)s” opens at %(time)s UTC.")
            % {"phase": localized(phase, "title"), "time": f"{phase.starts_at:%Y-%m-%d %H:%M}"},
            403,
        )
    if state == "closed":
        return Refusal(
            "phase_closed",
            _("The phase “%(phase)s” closed at %(time)s UTC.")
            % {"phase": localized(phase, "title"), "time": f"{phase.ends_at:%Y-%m-%d %H:%M}"},
            403,
        )
    return None


def approval_refusal(team: Team, phase: Phase) -> Refusal | None:
    """On a phase that requires approval: why ``team`` may not enter it yet, or None."""
    if not phase.requires_approval:
        return None
    approval = PhaseApproval.objects.filter(team=team, phase=phase).only("status", "note").first()
    if approval is None:
        return Refusal(
            "approval_required",
            _("The phase “%(phase)s” is open to approved teams only: request approval for your team first.")
            % {"phase": localized(phase, "title")},
            403,
        )
    if approval.status == ApprovalStatus.PENDING:
        return Refusal(
            "approval_pending",
            _("Your team's request to enter “%(phase)s” is waiting for approval by the organizers.")
            % {"phase": localized(phase, "title")},
            403,
        )
    if approval.status == ApprovalStatus.REJECTED:
        note = approval.note.strip() or _("no reason was given")
        return Refusal(
            "approval_rejected",
            _("The organizers did not approve your team for “%(phase)s”: %(note)s")
            % {"phase": localized(phase, "title"), "note": note},
            403,
        )
    return None


def limit_refusal(usage: Quota) -> Refusal | None:
    if usage.left_total == 0:
        return Refusal(
            "total_limit",
            ngettext(
                "Your team has used all %(count)d submissions of this phase.",
                "Your team has used all %(count)d submissions of this phase.",
                usage.total,
            )
            % {"count": usage.total},
            429,
        )
    if usage.left_today == 0:
        return Refusal(
            "daily_limit",
            ngettext(
                "Your team has used its %(count)d submissions for today; the limit resets at %(time)s UTC.",
                "Your team has used its %(count)d submissions for today; the limit resets at %(time)s UTC.",
                usage.per_day,
            )
            % {"count": usage.per_day, "time": f"{usage.resets_at:%H:%M}"},
            429,
        )
    return None


def can_view_submission(user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    """Its team, and the organizers of its challenge."""
    if not user.is_authenticated:
        return False
    if is_organizer(user, submission.phase):
        return True
    team = team_of(user)
    return team is not None and team.pk == submission.team_id


def can_change_submission(user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    """Team members may change the method fields and the public flag, nothing else.

    The public flag has one more rule: :func:`public_flag_refusal`.
    """
    if not user.is_authenticated:
        return False
    team = team_of(user)
    return team is not None and team.pk == submission.team_id


def public_flag_refusal(submission: Submission, at: datetime | None = None) -> Refusal | None:
    """Why the team may no longer change the public flag of ``submission``, or None if it may.

    Once its phase is frozen, the frozen public board is made of the public
    entries submitted by the freeze date: their flag is fixed, either way, so
    the team cannot add to or take from that board. Entries submitted after
    the freeze (not on the frozen board) keep a free flag; the method fields
    stay editable. ``intake.update_method`` asks this for the site and the API.
    """
    phase = submission.phase
    if not phase.is_frozen(at) or submission.created_at > phase.frozen_at:
        return None
    return Refusal(
        "board_frozen",
        _(
            "The board of this phase is frozen since %(time)s UTC; "
            "the public flag of entries submitted before the freeze is fixed."
        )
        % {"time": f"{phase.frozen_at:%Y-%m-%d %H:%M}"},
        403,
    )


def can_view_clip_scores(user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    """Per-clip scores on a hidden split would leak the references: never."""
    return submission.phase.references_public and can_view_submission(user, submission)


def is_public_entry(user: AbstractBaseUser | AnonymousUser, submission: Submission, at: datetime | None = None) -> bool:
    """Whether ``user`` finds ``submission`` on the public boards: public or a baseline, finished, not moderated,
    its team not banned, the phase's boards public to them, and submitted by the freeze date on a frozen phase."""
    if submission.status != Status.FINISHED or submission.moderation != Moderation.NONE:
        return False
    if not (submission.is_public or submission.is_baseline):
        return False
    if submission.team.banned and not submission.is_baseline:
        return False
    if not can_view_board(user, submission.phase, at):
        return False
    as_of = board_as_of(user, submission.phase, at)
    return as_of is None or submission.created_at <= as_of


def can_view_breakdown(
    user: AbstractBaseUser | AnonymousUser, submission: Submission, at: datetime | None = None
) -> bool:
    """A submission's per-movie and per-genre scores (``boards.breakdowns``): its team and the phase's
    organizers always; anyone else only for an entry they find on the public boards (:func:`is_public_entry`),
    and only on a phase with public references (its per-clip scores are no secret) or whose organizers
    publish them (``Phase.public_movie_breakdown``).

    On a hidden phase the numbers are rounded like the boards' for everyone but organizers
    (``boards.disclosure``); per-clip scores stay :func:`can_view_clip_scores`'s.
    """
    if can_view_submission(user, submission):
        return True
    phase = submission.phase
    return (phase.references_public or phase.public_movie_breakdown) and is_public_entry(user, submission, at)


def can_view_board(user: AbstractBaseUser | AnonymousUser, phase: Phase, at: datetime | None = None) -> bool:
    """Whether ``user`` may see the rows of ``phase``'s boards (pages, API, links): its organizers always."""
    return phase.boards_public(at) or is_organizer(user, phase)


def board_as_of(user: AbstractBaseUser | AnonymousUser, phase: Phase, at: datetime | None = None) -> datetime | None:
    """The moment the boards ``user`` sees stand at: the freeze date for the public, None (live) for its organizers."""
    if not phase.is_frozen(at) or is_organizer(user, phase):
        return None
    return phase.frozen_at


def can_view_moderated_entries(user: AbstractBaseUser | AnonymousUser, phase: Phase) -> bool:
    """Every hidden, disqualified and banned team's entry of ``phase``, marked, on the boards: its organizers only."""
    return is_organizer(user, phase)


def moderated_entries_team(user: AbstractBaseUser | AnonymousUser) -> int | None:
    """The team whose own hidden, disqualified or banned entries ``user`` sees on the boards, marked with
    the reason and without a rank: their own team, for a signed-in member; None for visitors and the teamless.

    Other teams' moderated entries stay off the boards for them (:func:`can_view_moderated_entries`).
    """
    if not user.is_authenticated:
        return None
    team = team_of(user)
    return team.pk if team is not None else None


# -- organizers ----------------------------------------------------------------------------------
#
# Organizer powers outside the admin come from here alone, for the site, the API, the emails and the
# commands: the organizers of a challenge (``Challenge.organizers``) on that challenge, and on every
# challenge whoever holds ORGANIZE_ALL (a user or group permission; superusers hold every permission).
# ``is_staff`` only opens the admin, where Django's model permissions decide what a user sees: alone
# it gives nothing here. A request's user object keeps what it organizes (ORGANIZED_CACHE), as Django
# keeps its permissions (``_perm_cache``): one query per request however often the rules are asked.

#: The permission of site-wide organizers (challenges.models.Challenge.Meta.permissions).
ORGANIZE_ALL = "challenges.organize_all"
ORGANIZED_CACHE = "_organized_challenge_ids"


def organizes_all(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Organizer of every challenge, present and future, and of the service itself (the status page's workers)."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(ORGANIZE_ALL))


def organized_challenge_ids(user: AbstractBaseUser | AnonymousUser) -> frozenset[int]:
    """The challenges ``user`` is named an organizer of (not those ORGANIZE_ALL gives)."""
    if not (user.is_authenticated and user.is_active):
        return frozenset()
    cached = getattr(user, ORGANIZED_CACHE, None)
    if cached is None:
        cached = frozenset(user.organized_challenges.values_list("pk", flat=True))
        setattr(user, ORGANIZED_CACHE, cached)
    return cached


def is_organizer(user: AbstractBaseUser | AnonymousUser, of: Challenge | Phase | None = None) -> bool:
    """Whether ``user`` has organizer powers on the challenge ``of`` (a challenge or one of its phases).

    ``of=None`` asks for powers over the whole service (what no single challenge owns, such as the
    workers): only site-wide organizers have them.
    """
    if organizes_all(user):
        return True
    if of is None:
        return False
    challenge_id = of.challenge_id if isinstance(of, Phase) else of.pk
    return challenge_id in organized_challenge_ids(user)


def organizes_any(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Organizer of at least one challenge, or of all: who may ask for the digest of new submissions."""
    return organizes_all(user) or bool(organized_challenge_ids(user))


def challenges_organized_by(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Challenge]:
    """Every challenge ``user`` has organizer powers on (all of them for site-wide organizers)."""
    if organizes_all(user):
        return Challenge.objects.all()
    return Challenge.objects.filter(pk__in=organized_challenge_ids(user))


def can_view_judge_accounting(user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    """Calls, tokens, endpoint and failure details of a submission's judge runs: its challenge's organizers."""
    return is_organizer(user, submission.phase)


def can_view_operations(user: AbstractBaseUser | AnonymousUser) -> bool:
    """The status page's details: workers, and what runs and waits across every challenge. Site-wide organizers."""
    return is_organizer(user)
