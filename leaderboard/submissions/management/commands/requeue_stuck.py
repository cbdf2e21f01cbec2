from django.core.management.base import BaseCommand, CommandError

from leaderboard.audit.services import ActionRefused
from leaderboard.challenges.management.commands._audit_options import audit_actor
from leaderboard.judging.models import JudgeRun
from leaderboard.submissions.models import Submission
from leaderboard.submissions.requeue import requeue_stuck

COMMAND = "requeue_stuck"


class Command(BaseCommand):
    help = (
        "Queue again, now, chosen submissions or judge runs that are stuck: waiting (submitted, queued, an overdue "
        "automatic resume) or running on a worker that stopped (its lease lapsed). A worker takes each over and "
        "does the work once. Each is recorded in the audit log with --reason. One that a live worker holds is "
        "left as it is. `requeue_waiting` queues every stuck one past the sweep's bound instead."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--submission", type=int, nargs="+", metavar="ID")
        target.add_argument("--judge-run", type=int, nargs="+", metavar="ID")
        parser.add_argument("--reason", required=True, help="why: recorded in the audit log")
        parser.add_argument(
            "--actor", metavar="USERNAME", help=f"the organizer the audit log names (default: “command {COMMAND}”)"
        )

    def handle(self, submission=None, judge_run=None, reason="", actor=None, **options):
        actor = audit_actor(actor, command=COMMAND)
        model, ids = (Submission, submission) if submission else (JudgeRun, judge_run)
        found = {row.pk: row for row in model.objects.filter(pk__in=ids)}
        missing = sorted(set(ids) - set(found))
        if missing:
            raise CommandError(f"not found: {', '.join(map(str, missing))}")
        refused = 0
        for pk in ids:
            try:
                requeue_stuck(actor, found[pk], reason)
            except ActionRefused as refusal:
                self.stderr.write(str(refusal))
                refused += 1
            else:
                self.stdout.write(f"#{pk}: queued again")
        if refused:
            raise CommandError(f"{refused} left as they were")
