"""Challenges, participants and uploads in the service: what most service tests set up. Service layer
(imports Django's models: use once Django is set up, as pytest-django does before the conftests)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leaderboard.challenges.services import MOVIE101V2_BOARDS
from leaderboard.teams.models import Membership, Team

from .data import DEMO_PREDICTIONS, ROOT


def load_test_challenge(references: dict[str, dict[str, str]], *, slug="movie101v2", public=False) -> None:
    """A one-phase challenge (``test``, or ``val`` when ``public``) over ``references``, loaded as a bundle."""
    from leaderboard.challenges.bundles import validate_bundle
    from leaderboard.challenges.services import load_bundle

    phase = {
        "slug": "val" if public else "test",
        "title": "Validation" if public else "Test",
        "references_public": public,
        "starts_at": timezone.now() - timedelta(minutes=1),
        "references": {language: {"narrations": narrations} for language, narrations in references.items()},
        "boards": MOVIE101V2_BOARDS,
    }
    load_bundle(validate_bundle({"slug": slug, "title": slug.title(), "phases": [phase]}, base_dir=ROOT))


def make_participant(username: str, team_name: str | None = None, *, verified: bool = True):
    """A participant (in ``team_name``, created if missing), its email address verified unless ``verified`` is off."""
    from leaderboard.accounts.services import mark_verified

    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    if verified:
        mark_verified(user)
    if team_name:
        team, _ = Team.objects.get_or_create(name=team_name)
        Membership.objects.create(user=user, team=team)
    return user


def make_site_organizer(user):
    """``user`` with the site-wide organizer permission: every challenge, and the status page's workers.

    ``is_staff`` alone gives no organizer powers outside the admin (``submissions.rules``).
    """
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(content_type__app_label="challenges", codename="organize_all"))
    return forget_rights(user)


def make_challenge_organizer(user, challenge):
    """``user`` named an organizer of ``challenge`` (a ``Challenge`` or its slug), and of it alone."""
    from leaderboard.challenges.models import Challenge

    if isinstance(challenge, str):
        challenge = Challenge.objects.get(slug=challenge)
    challenge.organizers.add(user)
    return forget_rights(user)


def forget_rights(user):
    """``user`` without the permissions and organized challenges its object remembers (as a new request's would)."""
    for cached in ("_perm_cache", "_user_perm_cache", "_group_perm_cache", "_organized_challenge_ids"):
        user.__dict__.pop(cached, None)
    return user


def api_client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def demo_file(name: str) -> bytes:
    return (DEMO_PREDICTIONS / name).read_bytes()


def upload(client, phase, language: str, data: bytes, name="predictions.json", **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/challenges/{phase.challenge.slug}/phases/{phase.slug}/submissions/",
        {"language": language, "predictions": SimpleUploadedFile(name, data), **fields},
        format="multipart",
    )
