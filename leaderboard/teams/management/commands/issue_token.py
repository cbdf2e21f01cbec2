from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from leaderboard import tokens
from leaderboard.accounts.services import mark_verified
from leaderboard.teams.models import Membership, Team


class Command(BaseCommand):
    help = (
        "Create USERNAME (and, with --team, the team and the membership) if missing, "
        "and print the user's API token as the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--team", help="team to create or join")
        parser.add_argument("--email", default="")

    @transaction.atomic
    def handle(self, username, team=None, email="", **options):
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        if created:
            user.set_unusable_password()
            user.save()
            self.stderr.write(f"created user {username} (no password: it signs in with the token only)")
        mark_verified(user)  # the operator who runs this vouches for the account: it may submit
        if team:
            membership = Membership.objects.select_related("team").filter(user=user).first()
            if membership is not None and membership.team.name != team:
                raise CommandError(f"{username} is already in team {membership.team.name!r}")
            if membership is None:
                team_obj, team_created = Team.objects.get_or_create(name=team, defaults={"created_by": user})
                Membership.objects.create(team=team_obj, user=user)
                self.stderr.write(f"{'created team' if team_created else 'joined team'} {team}")
        self.stdout.write(tokens.current_token(user).key)  # a fresh one in place of an expired one
