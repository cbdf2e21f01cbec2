"""Exceptions of the evaluation package."""


class EvaluationError(Exception):
    """Scoring could not run. The message is meant for the participant."""
