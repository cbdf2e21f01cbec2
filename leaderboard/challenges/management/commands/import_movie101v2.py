from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evaluation.errors import EvaluationError
from leaderboard.challenges.bundle_export import dump_bundle
from leaderboard.challenges.bundles import BUNDLE_FILE, BundleError, validate_bundle
from leaderboard.challenges.services import load_bundle, movie101v2_bundle

from ._audit_options import add_audit_arguments, audit_actor

COMMAND = "import_movie101v2"


class Command(BaseCommand):
    help = (
        "Create or update the Movie101v2 challenge from an annotation folder (splits.json, narration/): "
        "phase val with public references, phase test with hidden ones, zh and en, boards l1 and l2. "
        "A preset: it builds a challenge bundle and loads it as load_challenge does, except that dates, limits "
        "and judge settings are set when a phase is created and left as organizers changed them afterwards. "
        "Running it again changes only what differs, recorded in the audit log as load_challenge does. "
        "--write-bundle writes the bundle out to edit and load."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="a Movie101v2 folder, e.g. ../shared/movie101v2")
        parser.add_argument("--challenge", default="movie101v2", help="challenge slug (default: %(default)s)")
        parser.add_argument(
            "--write-bundle",
            type=Path,
            metavar="DIR",
            help="also write the bundle to DIR/challenge.yaml (the references stay in the data folder)",
        )
        parser.add_argument("--no-load", action="store_true", help="with --write-bundle: only write it")
        add_audit_arguments(parser, command=COMMAND, default_reason=f"{COMMAND} PATH")

    def handle(
        self,
        path: Path,
        challenge: str,
        write_bundle: Path | None = None,
        no_load: bool = False,
        reason: str = "",
        actor: str | None = None,
        **options,
    ):
        audit_as = audit_actor(actor, command=COMMAND)
        root = path.resolve()
        try:
            bundle = movie101v2_bundle(str(root), slug=challenge)
            spec = validate_bundle(bundle, base_dir=root)
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        except BundleError as exc:
            raise CommandError("\n".join(exc.errors)) from exc
        if write_bundle is not None:
            write_bundle.mkdir(parents=True, exist_ok=True)
            (write_bundle / BUNDLE_FILE).write_text(dump_bundle(bundle), encoding="utf-8")
            self.stdout.write(f"bundle written to {write_bundle / BUNDLE_FILE}")
        if no_load:
            return
        try:
            report = load_bundle(
                spec, keep_organizer_edits=True, actor=audit_as, reason=reason.strip() or f"{COMMAND} {path}"
            )
        except BundleError as exc:
            raise CommandError("\n".join(exc.errors)) from exc
        for line in report.lines:
            self.stdout.write(line)
