from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evaluation.errors import EvaluationError
from leaderboard.challenges.services import movie101v2_spec, upsert_challenge


class Command(BaseCommand):
    help = (
        "Create or update the Movie101v2 challenge from an annotation folder (splits.json, narration/): "
        "phase val with public references, phase test with hidden ones, zh and en, boards l1 and l2. "
        "Running it again changes only what differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="a Movie101v2 folder, e.g. ../shared/movie101v2")
        parser.add_argument("--challenge", default="movie101v2", help="challenge slug (default: %(default)s)")

    def handle(self, path: Path, challenge: str, **options):
        try:
            spec = movie101v2_spec(str(path.resolve()), slug=challenge)
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        for line in upsert_challenge(spec).lines:
            self.stdout.write(line)
