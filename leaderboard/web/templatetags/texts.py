"""Organizers' texts and genre names in the page's language: ``{% load texts %}``.

``{{ phase|localized:"title" }}`` is ``challenges.texts.localized``: the Chinese text on a Chinese
page when the object has one, else the field. ``{{ genre|genre_name }}`` names a genre (its Chinese
key, as the release writes it) in the page's language (``challenges.genres.genre_name``).
"""

from __future__ import annotations

from django import template

from leaderboard.challenges.genres import genre_name as _genre_name
from leaderboard.challenges.texts import localized as _localized
from leaderboard.stored_texts import shown_text

register = template.Library()


@register.filter
def localized(obj, field: str) -> str:
    return _localized(obj, field)


@register.filter
def genre_name(name: str) -> str:
    return _genre_name(name)


@register.filter
def stored_text(text: str) -> str:
    """A failure or judge reason a worker stored in English, in the page's language (``leaderboard.stored_texts``)."""
    return shown_text(text)
