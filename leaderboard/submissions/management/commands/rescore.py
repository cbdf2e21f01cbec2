from django.core.management.base import BaseCommand, CommandError

from leaderboard.submissions.models import Status, Submission
from leaderboard.submissions.services import ScoringFailed, enqueue_rescore, rescore


class Command(BaseCommand):
    help = (
        "Score finished submissions again (after fixing references, or with a new evaluation or judge version). "
        "Each gets a new result beside its old ones; the boards switch to it once its L1 and L2 are judged. "
        "Judge answers already cached cost no calls."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--submission", type=int, nargs="+", metavar="ID")
        target.add_argument("--phase", metavar="CHALLENGE/PHASE", help="every finished submission of a phase")
        parser.add_argument("--language", choices=("zh", "en"), help="with --phase: only this language")
        parser.add_argument("--here", action="store_true",
                            help="compute the classic metrics in this process instead of queueing them")

    def handle(self, submission=None, phase=None, language=None, here=False, **options):
        submissions = Submission.objects.filter(status=Status.FINISHED)
        if submission:
            submissions = submissions.filter(pk__in=submission)
            missing = set(submission) - set(submissions.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"not finished or not found: {', '.join(map(str, sorted(missing)))}")
        else:
            challenge_slug, _, phase_slug = phase.partition("/")
            submissions = submissions.filter(phase__challenge__slug=challenge_slug, phase__slug=phase_slug)
            if language:
                submissions = submissions.filter(language=language)
        ids = list(submissions.order_by("pk").values_list("pk", flat=True))
        for pk in ids:
            if here:
                try:
                    result = rescore(pk)
                except ScoringFailed as failure:
                    self.stderr.write(f"#{pk}: {failure.reason}")
                    continue
                self.stdout.write(f"#{pk}: new result {result.pk}, judge {result.judge_run.get_status_display()}")
            elif enqueue_rescore(pk):
                self.stdout.write(f"#{pk}: queued")
            else:
                self.stderr.write(f"#{pk}: could not queue (is the broker up?)")
        self.stdout.write(f"{len(ids)} submission(s)")
