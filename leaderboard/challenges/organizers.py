"""Who organizes a challenge: naming and removing organizers, each change in the audit log.

What organizers may do is decided in ``submissions.rules`` (``is_organizer``); this module
only writes who they are. Organizer rights are not part of a challenge's bundle: they are
accounts of this site, and a bundle reload leaves them as they are.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, Permission
from django.db import transaction

from leaderboard.audit.services import record

from .models import Challenge

#: ``submissions.rules.ORGANIZE_ALL`` without its app label, for ``Permission.objects``.
ORGANIZE_ALL_CODENAME = "organize_all"


def organizer_names(challenge: Challenge) -> list[str]:
    return sorted(challenge.organizers.values_list("username", flat=True))


def record_organizers_change(actor, challenge: Challenge, before: list[str], reason: str = "") -> bool:
    """One ``challenge.organizers`` event when the organizers differ from ``before`` (usernames, sorted).

    What the admin's change form and the command both record. Returns whether anything changed.
    """
    after = organizer_names(challenge)
    if after == before:
        return False
    record(
        actor,
        "challenge.organizers",
        challenge,
        reason,
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        organizers=after,
    )
    return True


@transaction.atomic
def set_organizer(actor, challenge: Challenge, user: AbstractBaseUser, *, organizer: bool, reason: str = "") -> bool:
    """Make ``user`` an organizer of ``challenge`` (or no longer one). Returns whether anything changed."""
    before = organizer_names(challenge)
    if organizer:
        challenge.organizers.add(user)
    else:
        challenge.organizers.remove(user)
    return record_organizers_change(actor, challenge, before, reason)


@transaction.atomic
def set_organizes_all(actor, user: AbstractBaseUser, *, organizer: bool, reason: str = "") -> bool:
    """Give ``user`` the site-wide organizer permission (or take it back). Returns whether anything changed.

    The event targets the user; a permission given through a group is not changed here.
    """
    permission = Permission.objects.get(content_type__app_label="challenges", codename=ORGANIZE_ALL_CODENAME)
    had = user.user_permissions.filter(pk=permission.pk).exists()
    if had == organizer:
        return False
    if organizer:
        user.user_permissions.add(permission)
    else:
        user.user_permissions.remove(permission)
    record(actor, "user.organize_all", user, reason, organize_all=[had, organizer])
    return True
