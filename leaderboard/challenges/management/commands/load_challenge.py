from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leaderboard.challenges.bundles import BundleError, read_bundle
from leaderboard.challenges.services import load_bundle

from ._audit_options import add_audit_arguments, audit_actor

COMMAND = "load_challenge"


class Command(BaseCommand):
    help = (
        "Create or update a challenge from a YAML bundle (a .yaml file, or a folder holding challenge.yaml). "
        "The bundle is checked first and nothing is loaded if anything is wrong; every problem is listed with "
        "its YAML path. Loading again updates in place; pages, boards and baselines the bundle no longer lists "
        "are removed. Changes to a phase's dates, limits, visibility, freeze, approval or judge settings, and "
        "changed references, are recorded in the audit log with --reason and --actor."
    )

    def add_arguments(self, parser):
        parser.add_argument("bundle", type=Path, help="challenge.yaml, or the folder holding it")
        parser.add_argument("--dry-run", action="store_true", help="check and report what would change; save nothing")
        add_audit_arguments(parser, command=COMMAND, default_reason=f"{COMMAND} BUNDLE")

    def handle(self, bundle: Path, dry_run: bool = False, reason: str = "", actor: str | None = None, **options):
        audit_as = audit_actor(actor, command=COMMAND)
        try:
            spec = read_bundle(bundle)
            report = load_bundle(spec, dry_run=dry_run, actor=audit_as, reason=reason.strip() or f"{COMMAND} {bundle}")
        except BundleError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(exc.errors)} problem(s) in {bundle}; nothing was loaded") from exc
        if dry_run:
            self.stdout.write("dry run: nothing was saved; a load would do this:")
        for line in report.lines:
            self.stdout.write(line)
