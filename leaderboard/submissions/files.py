"""A submission's predictions file: validated once on upload, stored twice, read back to be scored.

Storage keeps the participant's file as uploaded, their record, and beside it its parsed form: the
narrations the validator read (clip id -> narration) as compact UTF-8 JSON. Classic scoring
(``scoring``) and the judge (``judging``) both read the parsed form here, with one ``json.loads``;
only what can have changed since the upload, the phase's references, is checked again. This module
depends on neither of its readers.

The validator's problems are English templates and their parameters: :func:`problem_text` says one
in the active language, wherever the site, the API or a command shows it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext, gettext_noop

import evaluation
from evaluation.predictions import Problem, check_clip_ids, parse_narration_file
from evaluation.wording import Phrase, Translate
from leaderboard.challenges.models import Phase, ReferenceSet

from .models import Submission

logger = logging.getLogger(__name__)

#: Every reason a run failed through no fault of the team says so.
NOT_CHARGED = "This run does not count against your team's limits."
# Stored in English when a run fails; shown translated (leaderboard.stored_texts).
FILE_MISSING = gettext_noop(
    "The uploaded file could not be read back from storage. This run does not count against your team's limits. "
    "Please submit it again."
)


class ScoringFailed(Exception):
    """A scoring run cannot produce numbers; ``reason`` is for the team."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def validate_predictions(
    phase: Phase, language: str, data: bytes, filename: str = "", *, confirm_language: bool = False
) -> evaluation.ValidationReport:
    """The server's validation of an upload: the evaluation package's, with the phase's settings.

    The file must look like ``language`` (``language_mismatch``) unless the upload confirms it,
    ``confirm_language``: a choice of each upload, not a setting of the phase, so not one of
    :func:`validation_options`.
    """
    references = ReferenceSet.objects.get(phase=phase, language=language).narrations
    options = validation_options(phase, language) | {"split_name": _split_name(phase, language)}
    return evaluation.validate(
        data, references, filename=filename, language=language, confirm_language=confirm_language, **options
    )


def validation_options(phase: Phase, language: str) -> dict:
    """What the upload's validator gets besides the file and the clips: the same online and, through the
    clips endpoint of the API, for a participant validating offline (whose messages are English: so is
    ``split_name`` here; the server's own validation names the split in the user's language)."""
    return {
        "allow_partial": phase.allow_partial,
        "max_file_bytes": settings.SUBMISSION_MAX_BYTES,
        "max_narration_chars": settings.NARRATION_MAX_CHARS,
        "split_name": str(_split_name(phase, language)),
    }


def problem_text(problem: Problem, translate: Translate | None = None) -> str:
    """``problem``'s message in the active language: what the site, the API and the commands show.

    Its English template and every word among its parameters go through ``translate`` (Django's
    ``gettext`` unless another is given); a problem without a template, a template not in the
    catalog, or a translation that does not fit its template (a field renamed) stays English.
    """
    return problem.render(gettext if translate is None else translate)


def store_files(submission: Submission, data: bytes, predictions: Mapping[str, str]) -> None:
    """Write an upload and its parsed form (the validator's ``predictions``) to storage, on ``submission``'s fields.

    The submission itself is not saved. Whatever fails after this began, a write here or the caller's
    save, :func:`delete_files` removes what was written.
    """
    submission.predictions_file.save("predictions.json", ContentFile(data), save=False)
    _write_parsed_form(submission, predictions)


def delete_files(submission: Submission) -> None:
    """Delete what :func:`store_files` wrote; a file not written is skipped."""
    submission.predictions_file.delete(save=False)
    submission.parsed_file.delete(save=False)


def read_predictions(submission: Submission, references: Mapping[str, str]) -> dict[str, str]:
    """The narrations read from the upload, checked against the phase's current ``references``.

    The format was validated on upload; the references may have been reloaded since, so the clip
    ids are compared again (with the phase's ``allow_partial``).
    """
    if submission.parsed_file:
        predictions = json.loads(_read(submission, submission.parsed_file))
    else:
        predictions = _parse_stored_upload(submission)
    problems = check_clip_ids(
        predictions,
        references,
        allow_partial=submission.phase.allow_partial,
        split_name=_split_name(submission.phase, submission.language),
    )
    if problems:
        raise ScoringFailed(
            "The phase's references changed after your upload, and the file no longer matches them: "
            f"{_listing(problems)} {NOT_CHARGED}"
        )
    return predictions


def read_parsed(submission: Submission) -> dict[str, str]:
    """The narrations read from ``submission``'s upload, as stored (no check against the references).

    What the near-duplicate check (``duplicates``) compares. An upload stored before its parsed form
    was kept is parsed here without keeping the form: the caller's transaction may roll back, which would
    leave the file written and the row not pointing at it (scoring keeps it, at the upload's first read).
    ``ScoringFailed`` if the file cannot be read.
    """
    if submission.parsed_file:
        return json.loads(_read(submission, submission.parsed_file))
    return _parse_stored_upload(submission, keep=False)


def _split_name(phase: Phase, language: str) -> Phrase:
    # Translators: the reference narrations of a phase, {phase} its title and {language} zh or en.
    return Phrase(gettext_noop("the {phase} references ({language})"), {"phase": phase.title, "language": language})


def _listing(problems: list[Problem]) -> str:
    return " ".join(problem_text(problem) for problem in problems)


def _write_parsed_form(submission: Submission, predictions: Mapping[str, str]) -> None:
    # Compact UTF-8 JSON. The validator accepts only text UTF-8 can encode (no lone surrogate), so this is strict.
    text = json.dumps(predictions, ensure_ascii=False, separators=(",", ":"))
    submission.parsed_file.save("parsed.json", ContentFile(text.encode("utf-8")), save=False)


def _read(submission: Submission, file: FieldFile) -> bytes:
    try:
        with file.open("rb") as handle:
            return handle.read()
    except OSError:
        logger.exception("submission %s: cannot read %s", submission.pk, file.name)
        raise ScoringFailed(FILE_MISSING) from None


def _parse_stored_upload(submission: Submission, *, keep: bool = True) -> dict[str, str]:
    """Parse an upload stored before its parsed form was kept, and (``keep``) keep that form now, for the next read."""
    # The caps are not applied again: caps lowered since the upload must not fail a file that passed them.
    parsed = parse_narration_file(
        _read(submission, submission.predictions_file), filename=submission.original_filename, max_narration_chars=None
    )
    if parsed.problems:
        # Only possible if the parser has become stricter since the upload.
        raise ScoringFailed(
            f"Your file can no longer be read as it was on upload: {_listing(parsed.problems)} {NOT_CHARGED}"
        )
    if keep:
        _keep_parsed_form(submission, parsed.narrations)
    return parsed.narrations


def _keep_parsed_form(submission: Submission, predictions: dict[str, str]) -> None:
    try:
        _write_parsed_form(submission, predictions)
    except Exception:
        # It only spares the next read a parse: this run goes on without it.
        logger.exception("submission %s: could not store the parsed form of its upload", submission.pk)
        return
    name = submission.parsed_file.name
    try:
        # Classic scoring and a re-score or the judge may parse the same old upload at once: the first form kept stays.
        kept = Submission.objects.filter(pk=submission.pk, parsed_file="").update(parsed_file=name)
    except BaseException:
        submission.parsed_file.delete(save=False)
        raise
    # Storage never reuses a name in use, but two writers racing past its check could share one: that one stays.
    if not kept and not Submission.objects.filter(pk=submission.pk, parsed_file=name).exists():
        submission.parsed_file.delete(save=False)
