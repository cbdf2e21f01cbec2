"""Movie101v2 narration evaluation: the scoring protocol the leaderboard runs.

This package has no Django in it. Participants run the same code offline
(``python -m evaluation``) and get exactly the server's numbers.
"""

from .classic import LANGUAGES, score
from .predictions import Problem, ValidationReport, validate
from .result import ScoreResult
from .versions import PROTOCOL, __version__

__all__ = [
    "LANGUAGES",
    "PROTOCOL",
    "Problem",
    "ScoreResult",
    "ValidationReport",
    "__version__",
    "score",
    "validate",
]
