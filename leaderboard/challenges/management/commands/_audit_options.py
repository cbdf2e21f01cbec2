"""``--reason`` and ``--actor`` for the commands that load bundles: what their audit events name."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError


def add_audit_arguments(parser, *, command: str, default_reason: str) -> None:
    parser.add_argument(
        "--reason", default="", help=f"why: recorded with each audited change (default: “{default_reason}”)"
    )
    parser.add_argument(
        "--actor", metavar="USERNAME", help=f"the organizer the audit log names (default: “command {command}”)"
    )


def audit_actor(username: str | None, *, command: str) -> AbstractBaseUser | str:
    """The user named by ``--actor``, else the command's label (``command load_challenge``)."""
    if not username:
        return f"command {command}"
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"no user {username!r}") from None
