from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from leaderboard.submissions.models import Status, Submission
from leaderboard.submissions.services import enqueue_scoring


class Command(BaseCommand):
    help = (
        "Queue again the submissions still waiting to be scored, e.g. after the broker was down when they "
        "were uploaded. Safe to run any time: a submission is scored once however often it is queued."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=60, metavar="SECONDS",
                            help="only submissions waiting at least this long (default %(default)s)")

    def handle(self, older_than: int, **options):
        waiting = Submission.objects.filter(
            status=Status.SUBMITTED, created_at__lte=timezone.now() - timedelta(seconds=older_than)
        ).values_list("pk", flat=True)
        queued = [pk for pk in waiting if enqueue_scoring(pk)]
        self.stdout.write(f"queued {len(queued)} waiting submission(s): {', '.join(map(str, queued)) or 'none'}")
