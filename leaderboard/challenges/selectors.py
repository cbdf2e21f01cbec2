"""Reading challenges and phases. Nothing here writes."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from .models import JudgeSettings, Phase


def phase_or_404(challenge: str, phase: str) -> Phase:
    """The phase ``phase`` of the challenge ``challenge`` (both slugs), with its challenge and judge settings
    (the pages and the API read both); Http404 if none."""
    return get_object_or_404(
        Phase.objects.select_related("challenge", "judge_settings"), challenge__slug=challenge, slug=phase
    )


def judge_settings_of(phase: Phase) -> JudgeSettings:
    """The phase's judge settings: its stored row, or (none stored) an unsaved row of the defaults.

    The one way every reader (the judge, the export, the audit log, the admin) gets them, so a
    phase without a row behaves exactly like one holding the defaults: judge on, all from JUDGE_*.
    The unsaved row is cached on the phase; saving it stores the phase's first settings.
    """
    try:
        return phase.judge_settings
    except JudgeSettings.DoesNotExist:
        # Creating it through the relation caches it as phase.judge_settings for the next reader.
        return JudgeSettings(phase=phase)


def phase_languages(phase: Phase) -> list[str]:
    """The languages ``phase`` scores (those with references), Chinese first."""
    return sorted(phase.reference_sets.values_list("language", flat=True), key=lambda code: ("zh", "en").index(code))
