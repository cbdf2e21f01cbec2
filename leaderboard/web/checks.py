"""System checks of the site's own files."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Warning, register

from leaderboard.catalogs import stale_catalogs


@register()
def translations_compiled(app_configs, **kwargs):
    """A page in Chinese with English in it is the sign of a catalog that was never compiled: say so at start."""
    stale = [po for locale_dir in settings.LOCALE_PATHS for po in stale_catalogs(Path(locale_dir))]
    return [
        Warning(
            f"{po.relative_to(settings.BASE_DIR)} has no compiled .mo, or a stale one: its pages show English.",
            hint="Run: python manage.py compile_translations",
            id="web.W001",
        )
        for po in stale
    ]
