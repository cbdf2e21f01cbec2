from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from leaderboard.audit.services import ReasonRequired
from leaderboard.challenges.models import Phase
from leaderboard.submissions.models import Submission
from leaderboard.submissions.moderation import rescore_submissions

COMMAND_ACTOR = "command rescore"


class Command(BaseCommand):
    help = (
        "Score finished submissions again (after fixing references, or with a new evaluation or judge version). "
        "Each gets a new result beside its old ones; the boards switch to it once its L1 and L2 are judged. "
        "Judge answers already cached cost no calls. The request is recorded in the audit log with --reason."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--submission", type=int, nargs="+", metavar="ID")
        target.add_argument("--phase", metavar="CHALLENGE/PHASE", help="every finished submission of a phase")
        parser.add_argument("--language", choices=("zh", "en"), help="with --phase: only this language")
        parser.add_argument("--reason", required=True, help="why: recorded in the audit log")
        parser.add_argument(
            "--actor", metavar="USERNAME", help=f"the organizer the audit log names (default: “{COMMAND_ACTOR}”)"
        )
        parser.add_argument(
            "--here", action="store_true", help="compute the classic metrics in this process instead of queueing them"
        )

    def handle(self, submission=None, phase=None, language=None, reason="", actor=None, here=False, **options):
        if actor:
            try:
                actor = get_user_model().objects.get_by_natural_key(actor)
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user {actor!r}") from None
        else:
            actor = COMMAND_ACTOR
        if submission:
            found = Submission.objects.filter(pk__in=submission)
            missing = set(submission) - set(found.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"not found: {', '.join(map(str, sorted(missing)))}")
            target = found
        else:
            challenge_slug, _, phase_slug = phase.partition("/")
            target = Phase.objects.filter(challenge__slug=challenge_slug, slug=phase_slug).first()
            if target is None:
                raise CommandError(f"no phase {phase!r} (give CHALLENGE/PHASE)")
        try:
            rescored = rescore_submissions(actor, target, reason, language=language, in_process=here)
        except ReasonRequired as exc:
            raise CommandError(str(exc)) from None
        if rescored.skipped_ids:
            self.stderr.write(f"not finished, left as they are: {', '.join(map(str, rescored.skipped_ids))}")
        for pk in rescored.submission_ids:
            if here:
                if pk in rescored.failures:
                    self.stderr.write(f"#{pk}: {rescored.failures[pk]}")
                    continue
                result = rescored.new_results[pk]
                self.stdout.write(f"#{pk}: new result {result.pk}, judge {result.judge_run.get_status_display()}")
            elif pk in rescored.not_queued_ids:
                self.stderr.write(f"#{pk}: could not queue (is the broker up?)")
            else:
                self.stdout.write(f"#{pk}: queued")
        events = ", ".join(str(event.pk) for event in rescored.events) or "none"
        self.stdout.write(f"{len(rescored.submission_ids)} submission(s); audit event(s) {events}")
