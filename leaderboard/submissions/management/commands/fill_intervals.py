from django.core.management.base import BaseCommand

from leaderboard.submissions.backfill import fill_intervals
from leaderboard.submissions.models import Result


class Command(BaseCommand):
    help = (
        "Give results written before intervals were kept their 95% bootstrap intervals (and the boards their "
        "tie groups), and their per-movie and per-genre breakdowns. A result without per-clip statistics is "
        "scored again from its stored file for them; its numbers must come out as stored, or it is named and "
        "left for a re-score. Safe to run again: results "
        "that have intervals made the phase's way are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--phase", metavar="CHALLENGE/PHASE", help="only the results of this phase, e.g. movie101v2/test"
        )
        parser.add_argument(
            "--again", action="store_true", help="compute them even where they exist (after a bootstrap change)"
        )

    def handle(self, phase: str | None = None, again: bool = False, **options):
        results = Result.objects.all()
        if phase:
            challenge_slug, _, phase_slug = phase.partition("/")
            results = results.filter(
                submission__phase__challenge__slug=challenge_slug, submission__phase__slug=phase_slug
            )
        for line in fill_intervals(results, again=again).lines():
            self.stdout.write(line)
