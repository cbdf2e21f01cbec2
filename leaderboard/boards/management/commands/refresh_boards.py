from django.core.management.base import BaseCommand, CommandError

from leaderboard.boards.services import refresh_boards
from leaderboard.challenges.models import Phase


class Command(BaseCommand):
    help = (
        "Rank the boards again and store their rows, for every phase or those of one challenge. "
        "Every write that moves a board already does this, and a board view whose stored rows are out of "
        "date ranks them first; run it after changing data by hand (SQL, shell) or to warm the boards "
        "after a migration. Safe to run any time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--challenge", metavar="SLUG", help="only this challenge's phases")
        parser.add_argument("--phase", metavar="SLUG", help="only this phase (with --challenge)")

    def handle(self, challenge: str | None, phase: str | None, **options):
        if phase and not challenge:
            raise CommandError("--phase needs --challenge: phase slugs are unique within a challenge only.")
        phases = Phase.objects.select_related("challenge").order_by("pk")
        if challenge:
            phases = phases.filter(challenge__slug=challenge)
        if phase:
            phases = phases.filter(slug=phase)
        if not phases.exists():
            raise CommandError("No phase matches.")
        for each in phases:
            refresh_boards(each)
            self.stdout.write(f"ranked the boards of {each}")
