"""What organizers do to submissions: hide, disqualify, restore, mark baselines, cancel, re-score.

Each function changes the submission and writes one audit event in the same
transaction, and needs a reason (the event says why, the team reads it where it
applies). A request that would change nothing is refused with
:class:`ModerationRefused` and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from leaderboard.audit.services import ActionRefused, record, require_reason
from leaderboard.boards.services import refresh_boards
from leaderboard.challenges.models import Phase
from leaderboard.judging.lifecycle import cancel_judge_run
from leaderboard.judging.models import JudgeRun, JudgeStatus

from . import lifecycle, scoring
from .files import ScoringFailed
from .models import Moderation, Result, Status, Submission

logger = logging.getLogger(__name__)

Actor = AbstractBaseUser | str


class ModerationRefused(ActionRefused):
    """The action does not apply to this submission in its present state."""


def _locked(submission: Submission | int) -> Submission:
    pk = submission.pk if isinstance(submission, Submission) else submission
    return Submission.objects.select_for_update().select_related("phase__challenge", "team").get(pk=pk)


# -- moderation ---------------------------------------------------------------------


def _set_moderation(
    actor: Actor, submission: Submission | int, moderation: str, reason: str, action: str
) -> Submission:
    reason = require_reason(reason)
    with transaction.atomic():
        locked = _locked(submission)
        if locked.moderation == moderation:
            raise ModerationRefused(
                _("#%(id)s is already %(moderation)s.")
                % {"id": locked.pk, "moderation": locked.get_moderation_display().lower()}
            )
        before = (locked.moderation, locked.moderation_reason)
        locked.moderation = moderation
        locked.moderation_reason = reason if moderation else ""
        locked.save(update_fields=["moderation", "moderation_reason", "updated_at"])
        record(
            actor,
            action,
            locked,
            reason,
            moderation=[before[0], locked.moderation],
            moderation_reason=[before[1], locked.moderation_reason],
        )
        refresh_boards(locked.phase_id, locked.language, team_id=locked.team_id)
    return locked


def hide(actor: Actor, submission: Submission | int, reason: str) -> Submission:
    """Take a submission off the boards; the team sees it hidden, with ``reason``."""
    return _set_moderation(actor, submission, Moderation.HIDDEN, reason, "submission.hide")


def disqualify(actor: Actor, submission: Submission | int, reason: str) -> Submission:
    """Disqualify a submission: off the boards, marked disqualified for the team, with ``reason``."""
    return _set_moderation(actor, submission, Moderation.DISQUALIFIED, reason, "submission.disqualify")


def restore(actor: Actor, submission: Submission | int, reason: str) -> Submission:
    """Undo a hide or a disqualification."""
    return _set_moderation(actor, submission, Moderation.NONE, reason, "submission.restore")


# -- baselines ------------------------------------------------------------------------


def mark_baseline(actor: Actor, submission: Submission | int, citation: str, reason: str) -> Submission:
    """Show a submission as a baseline (with where it comes from), never ranked as a team's entry."""
    citation = require_reason(citation, "citation")
    reason = require_reason(reason)
    with transaction.atomic():
        locked = _locked(submission)
        if locked.is_baseline and locked.baseline_citation == citation:
            raise ModerationRefused(_("#%(id)s is already a baseline with this citation.") % {"id": locked.pk})
        before = (locked.is_baseline, locked.baseline_citation)
        locked.is_baseline, locked.baseline_citation = True, citation[:500]
        locked.save(update_fields=["is_baseline", "baseline_citation", "updated_at"])
        record(
            actor,
            "submission.mark_baseline",
            locked,
            reason,
            is_baseline=[before[0], True],
            baseline_citation=[before[1], locked.baseline_citation],
        )
        refresh_boards(locked.phase_id, locked.language, team_id=locked.team_id)
    return locked


def unmark_baseline(actor: Actor, submission: Submission | int, reason: str) -> Submission:
    reason = require_reason(reason)
    with transaction.atomic():
        locked = _locked(submission)
        if not locked.is_baseline:
            raise ModerationRefused(_("#%(id)s is not a baseline.") % {"id": locked.pk})
        citation = locked.baseline_citation
        locked.is_baseline, locked.baseline_citation = False, ""
        locked.save(update_fields=["is_baseline", "baseline_citation", "updated_at"])
        record(
            actor,
            "submission.unmark_baseline",
            locked,
            reason,
            is_baseline=[True, False],
            baseline_citation=[citation, ""],
        )
        refresh_boards(locked.phase_id, locked.language, team_id=locked.team_id)
    return locked


# -- cancelling -------------------------------------------------------------------------

ACTIVE_JUDGE_STATUSES = (JudgeStatus.QUEUED, JudgeStatus.RUNNING, JudgeStatus.INCOMPLETE)


def cancel_submission_by_organizer(actor: Actor, submission: Submission | int, reason: str) -> Submission:
    """Cancel a submission waiting for or in scoring, and any judge run of it still going.

    A worker scoring it drops its result (the state machine refuses ``finished``
    after ``cancelled``). Cancelled runs do not count against the team's limits.
    """
    reason = require_reason(reason)
    with transaction.atomic():
        locked = _locked(submission)
        previous_status = locked.status
        if not lifecycle.cancel_submission(locked.pk):
            raise ModerationRefused(
                _("#%(id)s is %(status)s: only a submission waiting for or in scoring can be cancelled.")
                % {"id": locked.pk, "status": locked.get_status_display().lower()}
            )
        cancelled_runs = [
            run_id
            for run_id in JudgeRun.objects.filter(submission=locked, status__in=ACTIVE_JUDGE_STATUSES).values_list(
                "pk", flat=True
            )
            if cancel_judge_run(run_id)
        ]
        locked.refresh_from_db()
        record(
            actor,
            "submission.cancel",
            locked,
            reason,
            status=[previous_status, locked.status],
            cancelled_judge_runs=cancelled_runs,
        )
    return locked


# -- re-scoring ---------------------------------------------------------------------------


@dataclass
class RescoreRequest:
    """What a re-score request did: which submissions it covers, and what became of them."""

    submission_ids: list[int] = field(default_factory=list)
    #: Selected but not finished: nothing to re-score.
    skipped_ids: list[int] = field(default_factory=list)
    events: list = field(default_factory=list)
    #: Queued mode: ids the broker refused (they can be re-scored again later).
    not_queued_ids: list[int] = field(default_factory=list)
    #: In-process mode: submission id -> the new result, or the reason it failed.
    new_results: dict[int, Result] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)


def rescore_submissions(
    actor: Actor,
    target: Phase | Iterable[Submission | int],
    reason: str,
    *,
    language: str | None = None,
    in_process: bool = False,
) -> RescoreRequest:
    """Score finished submissions again: a whole phase (optionally one language), or the ones given.

    Each gets a new result beside its old ones (``scoring.rescore``); the
    boards switch to it once its judge stage is done. A phase gets one audit
    event, a list of submissions one event each. Queued by default (on commit);
    ``in_process`` computes here, for the ``rescore --here`` command.
    """
    reason = require_reason(reason)
    request = RescoreRequest()
    if isinstance(target, Phase):
        finished = Submission.objects.filter(phase=target, status=Status.FINISHED)
        if language:
            finished = finished.filter(language=language)
        selected = list(finished.order_by("pk"))
    else:
        ids = [item.pk if isinstance(item, Submission) else int(item) for item in target]
        everything = list(Submission.objects.filter(pk__in=ids).order_by("pk"))
        selected = [submission for submission in everything if submission.status == Status.FINISHED]
        request.skipped_ids = [submission.pk for submission in everything if submission.status != Status.FINISHED]
    request.submission_ids = [submission.pk for submission in selected]
    mode = "in_process" if in_process else "queued"

    with transaction.atomic():
        # The audit event names the request: each submission's new result is keyed by it,
        # so a re-score message delivered twice adds one result, not two.
        request_keys: dict[int, str] = {}
        if isinstance(target, Phase):
            event = record(
                actor,
                "phase.rescore",
                target,
                reason,
                mode=mode,
                language=language or "all",
                submissions=request.submission_ids,
                previous_results={submission.pk: submission.current_result_id for submission in selected},
            )
            request.events.append(event)
            request_keys = {pk: f"audit-{event.pk}" for pk in request.submission_ids}
        else:
            for submission in selected:
                event = record(
                    actor,
                    "submission.rescore",
                    submission,
                    reason,
                    mode=mode,
                    previous_result=submission.current_result_id,
                )
                request.events.append(event)
                request_keys[submission.pk] = f"audit-{event.pk}"
        if not in_process:
            for pk in request.submission_ids:
                transaction.on_commit(partial(_queue_rescore, request, pk, request_keys[pk]))

    if in_process:
        for pk in request.submission_ids:
            try:
                result = scoring.rescore(pk, request_keys[pk])
            except ScoringFailed as failure:
                request.failures[pk] = failure.reason
                continue
            if result is None:
                request.failures[pk] = "no longer finished"
            else:
                request.new_results[pk] = result
    return request


def _queue_rescore(request: RescoreRequest, submission_id: int, request_key: str) -> None:
    if not scoring.enqueue_rescore(submission_id, request_key):
        request.not_queued_ids.append(submission_id)


def record_rescore_failure(submission_id: int, request_key: str, why: str) -> None:
    """A queued re-score that could not run: the organizers find it in the audit log, with the reason."""
    submission = Submission.objects.filter(pk=submission_id).first()
    if submission is not None:
        record("worker", "submission.rescore_failed", submission, why, request=request_key)
