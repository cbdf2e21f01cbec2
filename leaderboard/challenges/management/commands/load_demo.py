from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from leaderboard import tokens
from leaderboard.accounts.services import mark_verified
from leaderboard.challenges.bundles import read_bundle
from leaderboard.challenges.services import load_bundle
from leaderboard.teams.models import Membership, Team

DEMO_BUNDLE = settings.BASE_DIR / "demo" / "bundle" / "demo.yaml"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - a public demo login on a laptop


class Command(BaseCommand):
    help = (
        "Load the demo challenge (the bundle demo/bundle/demo.yaml, over the project's own invented demo data "
        "in demo/data), and a demo participant with a team and an API token."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-user", action="store_true", help="do not create the demo participant")

    @transaction.atomic
    def handle(self, no_user: bool = False, **options):
        for line in load_bundle(read_bundle(DEMO_BUNDLE), actor="command load_demo", reason="load_demo").lines:
            self.stdout.write(line)
        if no_user:
            return
        # An address, so the demo's result emails show on the worker's console.
        user, created = get_user_model().objects.get_or_create(
            username=DEMO_USER, defaults={"email": "demo@example.org"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        mark_verified(user)  # the demo's account submits at once: nobody reads its mail
        team, _ = Team.objects.get_or_create(name="Demo team", defaults={"created_by": user})
        Membership.objects.get_or_create(user=user, defaults={"team": team})
        token = tokens.current_token(user)
        self.stdout.write(f"demo login: {DEMO_USER} / {DEMO_PASSWORD} (team “{team.name}”)")
        self.stdout.write(f"demo API token: {token.key}")
