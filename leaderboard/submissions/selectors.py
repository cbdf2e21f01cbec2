"""Reading submissions. Nothing here writes."""

from __future__ import annotations

from django.db.models import QuerySet

from leaderboard.teams.services import team_of

from .models import Submission


def team_submissions(user) -> QuerySet[Submission]:
    """The submissions a participant may see: their team's, newest first."""
    team = team_of(user)
    if team is None:
        return Submission.objects.none()
    return Submission.objects.filter(team=team).with_details()
