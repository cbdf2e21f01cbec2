"""Reading challenges and phases. Nothing here writes."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from .models import Phase


def phase_or_404(challenge: str, phase: str) -> Phase:
    """The phase ``phase`` of the challenge ``challenge`` (both slugs), with its challenge; Http404 if none."""
    return get_object_or_404(Phase.objects.select_related("challenge"), challenge__slug=challenge, slug=phase)
