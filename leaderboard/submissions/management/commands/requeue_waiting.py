from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from leaderboard.submissions.requeue import requeue_waiting

COMMAND_ACTOR = "command requeue_waiting"


class Command(BaseCommand):
    help = (
        "Queue again the submissions still waiting to be scored and the judge runs still waiting for the "
        "judge, e.g. after the broker was down, and incomplete judge runs whose automatic resume is overdue. "
        "Safe to run any time: each is done once however often it is queued. Celery beat runs the same "
        "sweep every SWEEP_INTERVAL seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.SWEEP_WAITING_AFTER,
            metavar="SECONDS",
            help="only what has waited at least this long (default %(default)s)",
        )

    def handle(self, older_than: int, **options):
        # An operator asking for it gets it even while the queues hold other messages, unlike the sweep.
        done = requeue_waiting(timedelta(seconds=older_than), COMMAND_ACTOR)
        self.stdout.write(
            f"queued {len(done.submissions)} waiting submission(s): {', '.join(map(str, done.submissions)) or 'none'}"
        )
        self.stdout.write(
            f"queued {len(done.judge_runs)} judge run(s): {', '.join(map(str, done.judge_runs)) or 'none'}"
        )
