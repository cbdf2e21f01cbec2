"""Taking a submission in: reading the upload, the rules, validation, storing it and queueing its scoring.

Also what a team may change afterwards (the method's description and the public flag). Scoring
is ``scoring``'s; this module hands a stored submission over through :func:`scoring.enqueue_scoring`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from evaluation.predictions import Problem, file_too_large, no_file
from leaderboard.boards.services import refresh_boards
from leaderboard.challenges.models import Phase
from leaderboard.teams.models import Team
from leaderboard.teams.services import team_of

from . import rules
from .duplicates import near_duplicate_refusal
from .files import delete_files, store_files, validate_predictions
from .models import Submission
from .scoring import enqueue_scoring

logger = logging.getLogger(__name__)


class SubmissionRefused(Exception):
    """The user may not submit here now (not signed in, phase closed, limit...)."""

    def __init__(self, refusal: rules.Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


class SubmissionRejected(Exception):
    """The file is not a valid predictions file. Nothing was stored or charged."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class MethodInfo:
    method_name: str = ""
    method_description: str = ""
    paper_url: str = ""
    code_url: str = ""
    is_public: bool = False
    #: The method tags: None when the team does not say.
    uses_character_info: bool | None = None
    external_data: bool | None = None
    model_size: str = ""

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> MethodInfo:
        """From a form's cleaned data or a serializer's validated data."""
        return cls(
            **{
                name: fields.get(name) or ""
                for name in ("method_name", "method_description", "paper_url", "code_url", "model_size")
            },
            is_public=bool(fields.get("is_public", False)),
            uses_character_info=fields.get("uses_character_info"),
            external_data=fields.get("external_data"),
        )


def read_upload(upload: UploadedFile | None, *, oversized_bytes: int | None = None) -> bytes:
    """The uploaded bytes, or a rejection if there are none or too many.

    ``oversized_bytes`` is how far the upload handler read before the cap
    stopped it (see ``leaderboard.uploads``).
    """
    limit = settings.SUBMISSION_MAX_BYTES
    if oversized_bytes is not None:
        raise SubmissionRejected([file_too_large(oversized_bytes, limit)])
    if upload is None:
        raise SubmissionRejected([no_file()])
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise SubmissionRejected([file_too_large(len(data), limit)])
    return data


def submit(
    *,
    user,
    phase: Phase,
    language: str,
    data: bytes,
    filename: str = "",
    method: MethodInfo = MethodInfo(),
    confirm_language: bool = False,
) -> Submission:
    """Validate a predictions file and, if it is good, store it and queue its scoring.

    A refused or rejected upload creates nothing and uses none of the limits. ``confirm_language``:
    the team says the file is in ``language`` although its script looks like the other one.
    """
    refuse_unless_eligible(user, phase, language)  # the early answer, before the file is validated
    return _accept(
        user=user,
        phase=phase,
        language=language,
        data=data,
        filename=filename,
        method=method,
        confirm_language=confirm_language,
    )


def refuse_unless_eligible(user, phase: Phase, language: str) -> None:
    """Raise :class:`SubmissionRefused` if ``rules.submission_refusal`` refuses ``user`` here now.

    An upload asks it twice, through here: early (a cheap answer, before the file is read and
    validated) and again with the team's row locked (the check that counts, see :func:`_accept`).
    """
    refusal = rules.submission_refusal(user, phase, language)
    if refusal is not None:
        raise SubmissionRefused(refusal)


def _accept(
    *,
    user,
    phase: Phase,
    language: str,
    data: bytes,
    filename: str,
    method: MethodInfo,
    confirm_language: bool = False,
) -> Submission:
    """Validate, then store and queue under the team's row lock, re-checking the rules there."""
    # The one validation of the file: what it finds is stored beside it, and scoring reads that.
    report = validate_predictions(phase, language, data, filename, confirm_language=confirm_language)
    if not report.ok:
        raise SubmissionRejected(report.problems)

    submission = None
    try:
        with transaction.atomic():
            # Lock the team row: the uploads of one team queue here, one at a
            # time. The holder counts, creates and commits before the next one
            # counts, so the re-check below sees every earlier submission of the
            # team (READ COMMITTED: a statement after the lock sees what the
            # previous holder committed) and a daily or total limit holds however
            # many uploads race. It also re-reads a ban or an approval decided
            # meanwhile.
            team = Team.objects.select_for_update().get(pk=team_of(user).pk)
            refuse_unless_eligible(user, phase, language)
            # Nearly the same file as an earlier one of the team: a pair of totals that rebuilds hidden clip scores.
            refusal = near_duplicate_refusal(team, phase, language, report.predictions, report.reference_clips)
            if refusal is not None:
                raise SubmissionRefused(refusal)
            submission = Submission(
                phase=phase,
                team=team,
                user=user,
                language=language,
                original_filename=(filename or "")[:255],
                file_size=len(data),
                file_sha256=hashlib.sha256(data).hexdigest(),
                file_format=report.format or "",
                method_name=method.method_name,
                method_description=method.method_description,
                paper_url=method.paper_url,
                code_url=method.code_url,
                is_public=method.is_public,
                uses_character_info=method.uses_character_info,
                external_data=method.external_data,
                model_size=method.model_size,
            )
            store_files(submission, data, report.predictions)
            submission.save()
            transaction.on_commit(partial(enqueue_scoring, submission.pk))
    except BaseException:
        # The row is rolled back; its files, written outside the transaction, must go too.
        if submission is not None:
            delete_files(submission)
        raise
    logger.info("submission %s accepted: %s %s %s bytes", submission.pk, phase, language, len(data))
    return submission


def submit_upload(
    *,
    user,
    phase: Phase,
    language: str,
    upload: UploadedFile | None,
    oversized_bytes: int | None,
    method: MethodInfo,
    confirm_language: bool = False,
) -> Submission:
    """:func:`submit` for an uploaded file: what the site, the API and the ``submit`` command call.

    The early answer comes first, so a refused user hears why even without a file (or with one too large).
    """
    refuse_unless_eligible(user, phase, language)
    data = read_upload(upload, oversized_bytes=oversized_bytes)
    return _accept(
        user=user,
        phase=phase,
        language=language,
        data=data,
        filename=upload.name if upload else "",
        method=method,
        confirm_language=confirm_language,
    )


# -- changes after the upload ------------------------------------------------------


class ChangeRefused(Exception):
    """The team may not make this change to its submission now (the public flag after the freeze)."""

    def __init__(self, refusal: rules.Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


def update_method(submission: Submission, method: MethodInfo, *, at: datetime | None = None) -> Submission:
    """What a team may change after submitting: the description, the method tags and the public flag.

    A change of the public flag that ``rules.public_flag_refusal`` forbids
    (the phase is frozen) raises :class:`ChangeRefused` and changes nothing.
    Who may change the submission at all is ``rules.can_change_submission``: ask it first.
    """
    with transaction.atomic():
        # Compare with the stored flag, not ``submission``'s: a bound ModelForm has already set the new one on it.
        stored = Submission.objects.select_for_update(of=("self",)).select_related("phase").get(pk=submission.pk)
        if method.is_public != stored.is_public:
            refusal = rules.public_flag_refusal(stored, at)
            if refusal is not None:
                raise ChangeRefused(refusal)
        Submission.objects.filter(pk=submission.pk).update(
            method_name=method.method_name,
            method_description=method.method_description,
            paper_url=method.paper_url,
            code_url=method.code_url,
            is_public=method.is_public,
            uses_character_info=method.uses_character_info,
            external_data=method.external_data,
            model_size=method.model_size,
            updated_at=timezone.now(),
        )
        refresh_boards(stored.phase_id, stored.language, team_id=stored.team_id)
    submission.refresh_from_db()
    return submission
