"""A submission's predictions file: validated on upload, read back and checked again to be scored.

Classic scoring (``services``) and the judge (``judging.services``) both read the stored file here,
so this module depends on neither of them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.conf import settings

import evaluation
from leaderboard.challenges.models import Phase, ReferenceSet

from .models import Submission

logger = logging.getLogger(__name__)

#: Every reason a run failed through no fault of the team says so.
NOT_CHARGED = "This run does not count against your team's limits."
FILE_MISSING = f"The uploaded file could not be read back from storage. {NOT_CHARGED} Please submit it again."


class ScoringFailed(Exception):
    """A scoring run cannot produce numbers; ``reason`` is for the team."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def validate_predictions(
    phase: Phase,
    language: str,
    data: bytes,
    filename: str = "",
    *,
    references: Mapping[str, str] | None = None,
    enforce_caps: bool = True,
) -> evaluation.ValidationReport:
    """The server's validation: the evaluation package's, with the phase's settings.

    ``enforce_caps=False`` skips the size caps, for a file that passed them on upload.
    """
    if references is None:
        references = ReferenceSet.objects.get(phase=phase, language=language).narrations
    return evaluation.validate(
        data,
        references,
        filename=filename,
        allow_partial=phase.allow_partial,
        max_file_bytes=settings.SUBMISSION_MAX_BYTES if enforce_caps else None,
        max_narration_chars=settings.NARRATION_MAX_CHARS if enforce_caps else None,
        split_name=f"the {phase.title} references ({language})",
    )


def read_predictions(submission: Submission, references: Mapping[str, str]) -> dict[str, str]:
    """The stored file's narrations, checked against ``references`` as on upload (the caps excepted)."""
    try:
        with submission.predictions_file.open("rb") as handle:
            data = handle.read()
    except OSError:
        logger.exception("submission %s: cannot read %s", submission.pk, submission.predictions_file.name)
        raise ScoringFailed(FILE_MISSING) from None
    # The file passed the caps on upload: caps lowered since then must not fail it now.
    report = validate_predictions(
        submission.phase,
        submission.language,
        data,
        submission.original_filename,
        references=references,
        enforce_caps=False,
    )
    if not report.ok:
        # Only possible when the references changed after the upload.
        listing = " ".join(problem.message for problem in report.problems)
        raise ScoringFailed(
            "The phase's references changed after your upload, and the file no longer matches them: "
            f"{listing} {NOT_CHARGED}"
        )
    return report.predictions
