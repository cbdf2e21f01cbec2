"""Upload a predictions file from the command line, as a team member.

The same path as the site and the API: ``intake.submit_upload``, so the
same validation, the same eligibility check (``rules.submission_refusal``)
and the same limits, counted under the team's row lock.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from leaderboard.challenges.models import Phase
from leaderboard.submissions import intake
from leaderboard.submissions.files import problem_text
from leaderboard.submissions.models import Submission

#: Exit statuses: 1 a bad argument, 2 the file was rejected, 3 the submission was refused.
EXIT_REJECTED = 2
EXIT_REFUSED = 3


class Command(BaseCommand):
    help = (
        "Submit a predictions file for a user, through the same checks as the site and the API: phase window, "
        "approval, ban, language, daily and total limits, then the file's validation. Prints the new "
        "submission's id; a refusal or a rejection prints why and exits non-zero (2 rejected, 3 refused)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="JSON {clip_id: narration} or JSON Lines, UTF-8")
        parser.add_argument("--user", required=True, metavar="USERNAME", help="the team member who submits")
        parser.add_argument("--phase", required=True, metavar="CHALLENGE/PHASE", help="e.g. movie101v2/val")
        parser.add_argument("--language", required=True, choices=("zh", "en"))
        parser.add_argument("--method-name", default="")
        parser.add_argument("--method-description", default="")
        parser.add_argument("--paper-url", default="")
        parser.add_argument("--code-url", default="")
        parser.add_argument("--public", action="store_true", help="show it on the public leaderboard")
        parser.add_argument(
            "--character-info",
            choices=["yes", "no"],
            help="method tag: the method uses the benchmark's character names (default: not said)",
        )
        parser.add_argument(
            "--external-data",
            choices=["yes", "no"],
            help="method tag: trained on data other than the benchmark's (default: not said)",
        )
        parser.add_argument("--model-size", default="", help='method tag: the model\'s size, e.g. "7B"')
        parser.add_argument(
            "--confirm-language",
            action="store_true",
            help="the file is in --language although its script looks like the other language's",
        )

    def handle(self, *, file, user, phase, language, public, confirm_language=False, **options):
        account = get_user_model().objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"No user named {user!r}.")
        challenge_slug, _, phase_slug = phase.partition("/")
        phase_obj = (
            Phase.objects.select_related("challenge").filter(challenge__slug=challenge_slug, slug=phase_slug).first()
        )
        if phase_obj is None:
            raise CommandError(f"No phase {phase!r}; give it as CHALLENGE/PHASE, e.g. movie101v2/val.")
        problems = []
        for name in ("method_name", "method_description", "paper_url", "code_url", "model_size"):
            # The model's own checks, as the site's form and the API's serializer apply them.
            try:
                Submission._meta.get_field(name).clean(options[name], None)
            except ValidationError as exc:
                problems.append(f"--{name.replace('_', '-')}: {' '.join(exc.messages)}")
        if problems:
            raise CommandError("\n".join(problems))
        path = Path(file)
        method = intake.MethodInfo(
            method_name=options["method_name"],
            method_description=options["method_description"],
            paper_url=options["paper_url"],
            code_url=options["code_url"],
            is_public=public,
            uses_character_info=_yes_no(options.get("character_info")),
            external_data=_yes_no(options.get("external_data")),
            model_size=options.get("model_size") or "",
        )
        try:
            with path.open("rb") as handle:
                submission = intake.submit_upload(
                    user=account,
                    phase=phase_obj,
                    language=language,
                    upload=File(handle, name=path.name),
                    oversized_bytes=None,
                    method=method,
                    confirm_language=confirm_language,
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from None
        except intake.SubmissionRefused as exc:
            raise CommandError(exc.refusal.message, returncode=EXIT_REFUSED) from None
        except intake.SubmissionRejected as exc:
            listing = "\n".join(f"  - {problem_text(problem)}" for problem in exc.problems)
            raise CommandError(
                f"The file was rejected. Nothing was stored and no limit was used:\n{listing}",
                returncode=EXIT_REJECTED,
            ) from None
        self.stdout.write(f"Submission {submission.pk} accepted ({submission.status}); it is queued for scoring.")
        return None


def _yes_no(value: str | None) -> bool | None:
    """``--character-info yes`` -> True, ``no`` -> False, not given -> None (not said)."""
    return None if value is None else value == "yes"
