"""Celery glue: the app and its tasks. The work itself lives in leaderboard services."""

# First: it sizes the scorer's caches before anything imports the scorer (see warmth.py).
from . import warmth  # noqa: F401
from .celery import app

__all__ = ["app"]
