"""Celery glue: the app and its tasks. The work itself lives in leaderboard services."""

from .celery import app

__all__ = ["app"]
