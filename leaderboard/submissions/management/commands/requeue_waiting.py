from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.judging.services import enqueue_judging
from leaderboard.submissions.models import Status, Submission
from leaderboard.submissions.services import enqueue_scoring


class Command(BaseCommand):
    help = (
        "Queue again the submissions still waiting to be scored and the judge runs still waiting for the "
        "judge, e.g. after the broker was down, and incomplete judge runs whose automatic resume is overdue. "
        "Safe to run any time: each is done once however often it is queued."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=60, metavar="SECONDS",
                            help="only what has waited at least this long (default %(default)s)")

    def handle(self, older_than: int, **options):
        cutoff = timezone.now() - timedelta(seconds=older_than)
        waiting = Submission.objects.filter(status=Status.SUBMITTED, created_at__lte=cutoff).values_list(
            "pk", flat=True
        )
        queued = [pk for pk in waiting if enqueue_scoring(pk)]
        self.stdout.write(f"queued {len(queued)} waiting submission(s): {', '.join(map(str, queued)) or 'none'}")
        runs = JudgeRun.objects.filter(
            Q(status=JudgeStatus.QUEUED, updated_at__lte=cutoff)
            | Q(status=JudgeStatus.INCOMPLETE, resume_at__lte=cutoff)
        ).values_list("pk", flat=True)
        queued_runs = [pk for pk in runs if enqueue_judging(pk)]
        self.stdout.write(f"queued {len(queued_runs)} judge run(s): {', '.join(map(str, queued_runs)) or 'none'}")
