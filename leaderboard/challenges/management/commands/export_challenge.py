import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leaderboard.challenges.bundles import BUNDLE_FILE
from leaderboard.challenges.models import Challenge
from leaderboard.challenges.services import export_files, export_to_storage


class Command(BaseCommand):
    help = (
        "Write a challenge back as a YAML bundle that load_challenge reads. References are left out unless "
        "--with-references is given (then they are JSON files beside challenge.yaml); without them, each "
        "reference entry keeps its source and hash, so loading the bundle keeps the stored references. "
        "API keys are never in the database, so never in a bundle: only the variable naming them. "
        "--to-storage writes the files to the service's private file storage (S3 when configured) under "
        "exports/<slug>/<UTC time>/ and prints their names."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the challenge's slug")
        target = parser.add_mutually_exclusive_group()
        target.add_argument(
            "-o",
            "--output",
            type=Path,
            help="a .yaml file, or a folder to write challenge.yaml in (default: standard output)",
        )
        target.add_argument(
            "--to-storage",
            action="store_true",
            help="write to the file storage under exports/<slug>/<UTC time>/ (S3 when configured)",
        )
        parser.add_argument(
            "--with-references",
            action="store_true",
            help="write the reference narrations too (hidden test references included: keep them safe)",
        )

    def handle(
        self, slug: str, output: Path | None, to_storage: bool = False, with_references: bool = False, **options
    ):
        challenge = Challenge.objects.filter(slug=slug).first()
        if challenge is None:
            raise CommandError(f"no challenge {slug!r}")
        if to_storage:
            for name in export_to_storage(challenge, with_references=with_references):
                self.stdout.write(name)
            return
        if with_references and output is None:
            raise CommandError("--with-references writes files beside the bundle: give -o FOLDER or --to-storage")
        files = export_files(challenge, with_references=with_references)
        text = files.pop(BUNDLE_FILE)
        if output is None:
            self.stdout.write(text, ending="")
            return
        file = output if output.suffix in (".yaml", ".yml") else output / BUNDLE_FILE
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        self.stderr.write(f"wrote {file}")
        for name, content in files.items():
            path = file.parent / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            self.stderr.write(f"wrote {path} ({len(json.loads(content)):,} clips)")
