"""Forming and joining teams; organizers' approvals and bans."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leaderboard.audit.services import ActionRefused, record, require_reason
from leaderboard.boards.services import refresh_boards_of_phases
from leaderboard.challenges.texts import localized
from leaderboard.submissions.models import Submission

from .models import ApprovalStatus, Membership, PhaseApproval, Team, new_join_code


class TeamError(ActionRefused):
    """A team action was refused; the message says why."""


def team_of(user: AbstractBaseUser) -> Team | None:
    if not user.is_authenticated:
        return None
    membership = Membership.objects.select_related("team").filter(user=user).first()
    return membership.team if membership else None


def refuse_after_submitting(user: AbstractBaseUser, team: Team | None = None) -> None:
    """A user who has submitted with a team cannot create or join another one (``team``: the one joined).

    Otherwise each new team would bring fresh limits and fresh comparisons for the near-duplicate check
    (docs/reliability.md, "Hidden scores"). Any submission counts, to any phase; organizers can still move
    a member in the admin.
    """
    earlier = Submission.objects.filter(user=user).select_related("team").order_by("-created_at")
    if team is not None:
        earlier = earlier.exclude(team=team)
    submitted = earlier.first()
    if submitted is not None:
        raise TeamError(
            _(
                "You have submitted with the team “%(team)s”: once you have submitted, you cannot "
                "create or join another team. Ask the organizers if you need to move."
            )
            % {"team": submitted.team.name}
        )


def create_team(user: AbstractBaseUser, name: str) -> Team:
    name = " ".join(name.split())
    if not name:
        raise TeamError(_("A team needs a name."))
    if team_of(user) is not None:
        raise TeamError(_("You are already in a team."))
    refuse_after_submitting(user)
    if Team.objects.filter(name__iexact=name).exists():
        raise TeamError(_("The name “%(name)s” is taken.") % {"name": name})
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, created_by=user)
            Membership.objects.create(team=team, user=user)
    except IntegrityError:
        raise TeamError(_("That name was just taken, or you joined a team meanwhile.")) from None
    return team


def join_team(user: AbstractBaseUser, join_code: str) -> Team:
    if team_of(user) is not None:
        raise TeamError(_("You are already in a team."))
    team = Team.objects.filter(join_code=join_code.strip()).first()
    if team is None:
        raise TeamError(_("No team has that join code. Ask a member for it."))
    refuse_after_submitting(user, team)
    try:
        with transaction.atomic():
            Membership.objects.create(team=team, user=user)
    except IntegrityError:
        raise TeamError(_("You joined a team meanwhile.")) from None
    return team


# -- leaving, removing, the join code -------------------------------------------------
#
# Who has submitted with a team stays in it (``refuse_after_submitting``): leaving would not open a way
# around that rule (another team stays closed to them), but it would strand them without a team, able only
# to rejoin. So a member who has submitted with the team can neither leave nor be removed; the organizers
# move people in the admin. Each change is audited, as the organizers' team actions are.


def is_owner(user: AbstractBaseUser, team: Team) -> bool:
    """The team's owner: who created it (or to whom it passed when they left)."""
    return user.is_authenticated and team.created_by_id == user.pk


def _refuse_if_submitted(user: AbstractBaseUser, team: Team, *, you: bool) -> None:
    if Submission.objects.filter(user=user, team=team).exists():
        if you:
            message = _(
                "You have submitted with “%(team)s”, and a member who has submitted cannot join or create another "
                "team, so cannot leave this one either. Ask the organizers if someone needs to move."
            )
        else:
            message = _(
                "%(member)s has submitted with “%(team)s”, and a member who has submitted cannot join or create "
                "another team, so cannot leave this one either. Ask the organizers if someone needs to move."
            )
        raise TeamError(message % {"member": user.get_username(), "team": team.name})


def _locked_team_of(user: AbstractBaseUser) -> Team:
    membership = Membership.objects.filter(user=user).first() if user.is_authenticated else None
    if membership is None:
        raise TeamError(_("You are not in a team."))
    return Team.objects.select_for_update().get(pk=membership.team_id)


def leave_team(user: AbstractBaseUser) -> Team:
    """The user leaves their team. An owner who leaves hands the team to its longest-standing member;
    the last member to leave a team with no submission and no approval request removes it (its name is free)."""
    with transaction.atomic():
        team = _locked_team_of(user)
        _refuse_if_submitted(user, team, you=True)
        Membership.objects.filter(team=team, user=user).delete()
        details = {"member": user.get_username()}
        if team.created_by_id == user.pk:
            heir = team.memberships.select_related("user").order_by("joined_at", "pk").first()
            team.created_by = heir.user if heir else None
            team.save(update_fields=["created_by"])
            details["owner"] = [user.get_username(), heir.user.get_username() if heir else None]
        record(user, "team.leave", team, "", **details)
        if not (team.memberships.exists() or team.submissions.exists() or team.phase_approvals.exists()):
            record(user, "team.delete", team, "the last member left", name=team.name)
            team.delete()
    return team


def remove_member(actor: AbstractBaseUser, member_id: int) -> AbstractBaseUser:
    """The team's owner removes another member (who may join again unless the join code is replaced)."""
    with transaction.atomic():
        team = _locked_team_of(actor)
        if not is_owner(actor, team):
            raise TeamError(_("Only the team's owner (who created it) can remove a member."))
        membership = team.memberships.select_related("user").filter(user_id=member_id).first()
        if membership is None:
            raise TeamError(_("That person is not a member of your team."))
        if membership.user_id == actor.pk:
            raise TeamError(_("You cannot remove yourself: leave the team instead."))
        _refuse_if_submitted(membership.user, team, you=False)
        membership.delete()
        record(actor, "team.remove_member", team, "", member=membership.user.get_username())
    return membership.user


def rotate_join_code(actor: AbstractBaseUser) -> Team:
    """The team's owner replaces the join code: the old one no longer lets anyone join."""
    with transaction.atomic():
        team = _locked_team_of(actor)
        if not is_owner(actor, team):
            raise TeamError(_("Only the team's owner (who created it) can replace the join code."))
        team.join_code = new_join_code()
        team.save(update_fields=["join_code"])
        record(actor, "team.rotate_code", team, "")  # never the code itself: the log is read by organizers
    return team


# -- approval for a phase ----------------------------------------------------------


def approval_for(user: AbstractBaseUser, phase) -> PhaseApproval | None:
    """The user's team's request for ``phase``, if it made one."""
    team = team_of(user)
    if team is None:
        return None
    return PhaseApproval.objects.filter(team=team, phase=phase).first()


def request_approval(user: AbstractBaseUser, phase) -> PhaseApproval:
    """Ask the organizers to let the user's team into a phase that requires approval.

    Asking again while the request waits, or once approved, changes nothing; a
    rejected team may ask again (it waits for a new decision).
    """
    team = team_of(user)
    if team is None:
        raise TeamError(_("Create or join a team before you ask for approval."))
    if team.banned:
        if team.ban_reason:
            raise TeamError(_("Your team is banned: %(reason)s") % {"reason": team.ban_reason})
        raise TeamError(_("Your team is banned."))
    if not phase.requires_approval:
        raise TeamError(
            _("The phase “%(phase)s” is open to every team; no approval is needed.")
            % {"phase": localized(phase, "title")}
        )
    with transaction.atomic():
        approval, created = PhaseApproval.objects.select_for_update().get_or_create(team=team, phase=phase)
        if created:
            record(user, "approval.request", approval, "", team=team.name, phase=str(phase))
        elif approval.status == ApprovalStatus.REJECTED:
            previous_note = approval.note
            approval.status, approval.decided_at, approval.decided_by = ApprovalStatus.PENDING, None, None
            approval.save(update_fields=["status", "decided_at", "decided_by"])
            record(
                user,
                "approval.request",
                approval,
                "",
                team=team.name,
                phase=str(phase),
                status=[ApprovalStatus.REJECTED, ApprovalStatus.PENDING],
                previous_note=previous_note,
            )
    return approval


def _decide(actor: AbstractBaseUser, approval: PhaseApproval, status: str, note: str, action: str) -> PhaseApproval:
    note = require_reason(note, "note")
    with transaction.atomic():
        locked = PhaseApproval.objects.select_for_update().select_related("team", "phase").get(pk=approval.pk)
        if locked.status == status:
            raise TeamError(
                _("%(team)s is already %(status)s for %(phase)s.")
                % {"team": locked.team, "status": locked.get_status_display().lower(), "phase": locked.phase}
            )
        before = locked.status
        locked.status, locked.note = status, note
        locked.decided_by, locked.decided_at = actor, timezone.now()
        locked.save(update_fields=["status", "note", "decided_by", "decided_at"])
        record(actor, action, locked, note, team=locked.team.name, phase=str(locked.phase), status=[before, status])
    return locked


def approve(actor: AbstractBaseUser, approval: PhaseApproval, note: str) -> PhaseApproval:
    """Let the team submit to the phase. ``note`` is shown to the team."""
    return _decide(actor, approval, ApprovalStatus.APPROVED, note, "approval.approve")


def approve_for_phase(actor: AbstractBaseUser, team: Team, phase, note: str) -> PhaseApproval:
    """Approve a team for a phase whether or not it has asked (an organizer inviting a team)."""
    note = require_reason(note, "note")
    with transaction.atomic():
        approval, created = PhaseApproval.objects.get_or_create(team=team, phase=phase)
        if created:
            record(actor, "approval.create", approval, note, team=team.name, phase=str(phase))
    return approve(actor, approval, note)


def reject(actor: AbstractBaseUser, approval: PhaseApproval, note: str) -> PhaseApproval:
    """Refuse the team for the phase. ``note`` says why, to the team."""
    return _decide(actor, approval, ApprovalStatus.REJECTED, note, "approval.reject")


# -- bans ------------------------------------------------------------------------------


def _set_ban(actor: AbstractBaseUser, team: Team, banned: bool, reason: str, action: str) -> Team:
    reason = require_reason(reason)
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        if locked.banned == banned:
            message = _("%(team)s is already banned.") if banned else _("%(team)s is already not banned.")
            raise TeamError(message % {"team": locked})
        previous_reason = locked.ban_reason
        locked.banned, locked.ban_reason = banned, reason if banned else ""
        locked.save(update_fields=["banned", "ban_reason"])
        record(
            actor, action, locked, reason, banned=[not banned, banned], ban_reason=[previous_reason, locked.ban_reason]
        )
        refresh_team_boards(locked)
    return locked


def refresh_team_boards(team: Team) -> None:
    """Rank again the boards the team's entries are on (its name or ban changed), in that write's transaction."""
    refresh_boards_of_phases(team.submissions.values_list("phase_id", flat=True).distinct(), team_id=team.pk)


def ban(actor: AbstractBaseUser, team: Team, reason: str) -> Team:
    """The team can no longer submit and its entries leave the boards; ``reason`` is shown to it."""
    return _set_ban(actor, team, True, reason, "team.ban")


def unban(actor: AbstractBaseUser, team: Team, reason: str) -> Team:
    return _set_ban(actor, team, False, reason, "team.unban")
