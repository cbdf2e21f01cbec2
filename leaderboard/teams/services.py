"""Forming and joining teams."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from .models import Membership, Team


class TeamError(Exception):
    """A team action was refused; the message says why."""


def team_of(user: AbstractBaseUser) -> Team | None:
    if not user.is_authenticated:
        return None
    membership = Membership.objects.select_related("team").filter(user=user).first()
    return membership.team if membership else None


def create_team(user: AbstractBaseUser, name: str) -> Team:
    name = " ".join(name.split())
    if not name:
        raise TeamError("A team needs a name.")
    if team_of(user) is not None:
        raise TeamError("You are already in a team.")
    if Team.objects.filter(name__iexact=name).exists():
        raise TeamError(f"The name “{name}” is taken.")
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, created_by=user)
            Membership.objects.create(team=team, user=user)
    except IntegrityError:
        raise TeamError("That name was just taken, or you joined a team meanwhile.") from None
    return team


def join_team(user: AbstractBaseUser, join_code: str) -> Team:
    if team_of(user) is not None:
        raise TeamError("You are already in a team.")
    team = Team.objects.filter(join_code=join_code.strip()).first()
    if team is None:
        raise TeamError("No team has that join code. Ask a member for it.")
    try:
        with transaction.atomic():
            Membership.objects.create(team=team, user=user)
    except IntegrityError:
        raise TeamError("You joined a team meanwhile.") from None
    return team
