"""Build the site's .mo catalogs from locale/*/LC_MESSAGES/*.po (no GNU gettext needed)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from leaderboard.catalogs import compile_catalogs


class Command(BaseCommand):
    help = "Compile the translations (locale/*/LC_MESSAGES/*.po to .mo) that are missing or out of date."

    def handle(self, *args, **options) -> None:
        written = [path for locale_dir in settings.LOCALE_PATHS for path in compile_catalogs(Path(locale_dir))]
        for path in written:
            self.stdout.write(f"compiled {path.relative_to(settings.BASE_DIR)}")
        if not written and options["verbosity"] > 1:
            self.stdout.write("every catalog is up to date")
