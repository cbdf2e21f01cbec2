"""Movie101v2 narration evaluation: the scoring protocol the leaderboard runs.

This package has no Django in it. Participants run the same code offline
(``python -m evaluation``) and get exactly the server's numbers.
"""

__version__ = "1.1.0"

#: Names the scoring protocol. Bump it whenever a change could move a number:
#: normalization, tokenization, metric set or metric configuration.
PROTOCOL = "movie101v2-classic/1"

from .classic import LANGUAGES, score  # noqa: E402
from .predictions import Problem, ValidationReport, validate  # noqa: E402
from .result import ScoreResult  # noqa: E402

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
