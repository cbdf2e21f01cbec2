"""Email to participants when their scores are final or a run failed, and organizers' digests.

Emails are sent by Celery tasks (``workers.tasks.notify_submission``,
``workers.tasks.send_digests``), queued by name (``leaderboard.queueing``) after the commit that changed a
submission. Sending is idempotent: a :class:`SentNotification` row, unique per
submission and outcome, is written in the same transaction as the send, so a
redelivered task finds it and sends nothing.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from evaluation.metrics import CLASSIC_METRICS, STAGE_METRICS, metric_info
from leaderboard import queueing
from leaderboard.accounts.selectors import language_of
from leaderboard.boards.disclosure import disclosed_scores
from leaderboard.challenges.texts import localized
from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.judging.setup import translated_reason
from leaderboard.submissions import rules
from leaderboard.submissions.models import Status, Submission

from .models import EmailPreference, NotificationKind, SentNotification

logger = logging.getLogger(__name__)

#: The first digest an organizer gets covers this much.
FIRST_DIGEST_SPAN = timedelta(days=1)


class Sent:
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    #: The scores are not final yet (the judge is still at work) or the submission is not in that state.
    NOT_READY = "not_ready"
    OPTED_OUT = "opted_out"
    NO_ADDRESS = "no_address"


# -- preferences ------------------------------------------------------------------


def preferences_of(user) -> EmailPreference:
    """The user's email preferences; the defaults when they never changed them (not saved)."""
    try:
        return EmailPreference.objects.get(user=user)
    except EmailPreference.DoesNotExist:
        return EmailPreference(user=user)


def update_preferences(user, *, on_result: bool, digest: bool) -> EmailPreference:
    """Save what the user chose. Only organizers (``rules.organizes_any``) can have the digest."""
    preference, _ = EmailPreference.objects.update_or_create(
        user=user, defaults={"on_result": on_result, "digest": digest and rules.organizes_any(user)}
    )
    return preference


# -- result emails ------------------------------------------------------------------


def enqueue_on_commit(submission_id: int, kind: str) -> None:
    """Queue the result email once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(enqueue_notification, submission_id, kind))


def enqueue_notification(submission_id: int, kind: str) -> bool:
    """Queue the email task. A broker outage costs the email, never the scoring."""
    return queueing.send(
        queueing.NOTIFY_SUBMISSION,
        submission_id,
        kind,
        log=logger,
        unsent=f"could not queue the {kind} email of submission {submission_id}",
    )


def scores_are_final(submission: Submission) -> bool:
    """Finished, and the judge of the current result is not queued or running (none, complete, incomplete)."""
    if submission.status != Status.FINISHED or submission.current_result_id is None:
        return False
    pending = JudgeRun.objects.filter(
        result_id=submission.current_result_id, status__in=(JudgeStatus.QUEUED, JudgeStatus.RUNNING)
    )
    return not pending.exists()


def notify_submission(submission_id: int, kind: str) -> str:
    """Email the submitting user the outcome of a submission, once per outcome."""
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    submission = (
        Submission.objects.select_related("phase__challenge", "user", "current_result").filter(pk=submission_id).first()
    )
    if submission is None:
        return Sent.NOT_READY
    if kind == NotificationKind.FINISHED and not scores_are_final(submission):
        return Sent.NOT_READY
    if kind == NotificationKind.FAILED and submission.status != Status.FAILED:
        return Sent.NOT_READY
    user = submission.user
    if not preferences_of(user).on_result:
        return Sent.OPTED_OUT
    if not user.email:
        return Sent.NO_ADDRESS
    message = result_email(submission, kind)
    with transaction.atomic():
        try:
            with transaction.atomic():
                SentNotification.objects.create(submission=submission, kind=kind, recipient=user.email)
        except IntegrityError:
            return Sent.ALREADY_SENT
        # A failed send rolls the marker back, so the task's retry sends it.
        message.send()
    logger.info("sent the %s email of submission %s", kind, submission_id)
    return Sent.SENT


@dataclass(frozen=True)
class ScoreLine:
    label: str
    value: str


def _score_lines(metrics: dict, names) -> list[ScoreLine]:
    return [
        ScoreLine(metric_info(name).label, f"{metrics[name]:.{metric_info(name).precision}f}")
        for name in names
        if metrics.get(name) is not None
    ]


def _judge_note(submission: Submission) -> str:
    """Why L1/L2 are missing, in the words the team sees on the submission page (never the judge's output)."""
    run = JudgeRun.objects.filter(result_id=submission.current_result_id).only("reason", "status").first()
    if run is None:
        return ""
    return translated_reason(run.reason)


def site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _subject(text: str) -> str:
    # Header injection: a title with a newline must not end the subject.
    return " ".join(text.split())


def email_language(user) -> str:
    """The language an email to ``user`` is written in: the one the account chose, else the site's."""
    return language_of(user)


def result_email(submission: Submission, kind: str) -> EmailMessage:
    """The email of a submission's outcome, in its submitter's language."""
    with translation.override(email_language(submission.user)):
        return _result_email(submission, kind)


def _result_email(submission: Submission, kind: str) -> EmailMessage:
    phase = submission.phase
    context = {
        "submission": submission,
        "phase": phase,
        "challenge": phase.challenge,
        "user": submission.user,
        "link": site_link(reverse("web:submission-detail", args=[submission.pk])),
        "preferences_link": site_link(reverse("web:email-preferences")),
    }
    if kind == NotificationKind.FINISHED:
        # The recipient's view: on a hidden phase, rounded to the boards' precision (but for its organizers).
        metrics = disclosed_scores(submission.current_result.metrics, phase, submission.user)
        stage = _score_lines(metrics, STAGE_METRICS)
        context |= {
            "classic": _score_lines(metrics, CLASSIC_METRICS),
            "stage": stage,
            "judge_note": "" if stage else _judge_note(submission),
        }
        subject = gettext("%(challenge)s: submission #%(id)s is scored") % {
            "challenge": localized(phase.challenge, "title"),
            "id": submission.pk,
        }
    else:
        subject = gettext("%(challenge)s: submission #%(id)s failed") % {
            "challenge": localized(phase.challenge, "title"),
            "id": submission.pk,
        }
    body = render_to_string(f"email/submission_{kind}.txt", context)
    return EmailMessage(_subject(subject), body, settings.DEFAULT_FROM_EMAIL, [submission.user.email])


# -- digests ------------------------------------------------------------------------


def digest_recipients():
    """Who asked for the digest and has an address; ``send_digest`` skips those who organize nothing now."""
    return EmailPreference.objects.filter(digest=True, user__is_active=True).exclude(user__email="")


def send_digests(now: datetime | None = None) -> int:
    """Send every opted-in organizer the submissions created since their last digest. Returns emails sent."""
    now = now or timezone.now()
    sent = 0
    for preference_id in digest_recipients().values_list("pk", flat=True):
        try:
            if send_digest(preference_id, now=now):
                sent += 1
        except (OSError, smtplib.SMTPException):
            # This organizer's digest is rolled back and goes out with the next run;
            # the others are not held up by one refused address.
            logger.exception("could not send the digest of preference %s; it will be sent with the next", preference_id)
    return sent


def send_digest(preference_id: int, *, now: datetime) -> bool:
    """One organizer's digest: the new submissions of the challenges they organize (``rules``).

    Two runs at once (beat and cron) send it once: the row is locked.
    """
    with transaction.atomic():
        preference = (
            EmailPreference.objects.select_for_update(skip_locked=True)
            .select_related("user")
            .filter(pk=preference_id, digest=True)
            .first()
        )
        if preference is None or not preference.user.email or not rules.organizes_any(preference.user):
            return False
        since = preference.last_digest_at or now - FIRST_DIGEST_SPAN
        if since >= now:
            return False
        submissions = list(
            Submission.objects.filter(
                created_at__gt=since,
                created_at__lte=now,
                phase__challenge__in=rules.challenges_organized_by(preference.user),
            )
            .select_related("phase__challenge", "team")
            .order_by("created_at", "pk")
        )
        preference.last_digest_at = now
        preference.save(update_fields=["last_digest_at"])
        if not submissions:
            return False
        # Each organizer's digest in their own language.
        with translation.override(email_language(preference.user)):
            body = render_to_string(
                "email/digest.txt",
                {
                    "user": preference.user,
                    "submissions": submissions,
                    "since": since,
                    "now": now,
                    "admin_link": site_link(reverse("admin:submissions_submission_changelist")),
                    "status_link": site_link(reverse("web:status")),
                    "preferences_link": site_link(reverse("web:email-preferences")),
                },
            )
            subject = ngettext(
                "Movie101v2 leaderboard: %(count)d new submission(s)",
                "Movie101v2 leaderboard: %(count)d new submission(s)",
                len(submissions),
            ) % {"count": len(submissions)}
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [preference.user.email]).send()
    logger.info("sent a digest of %s submissions to user %s", len(submissions), preference.user_id)
    return True


def organizers_without_address() -> list[str]:
    """Organizers who asked for the digest but have no email address (for the command's output)."""
    users = get_user_model().objects.filter(email_preference__digest=True, is_active=True, email="")
    return [user.get_username() for user in users if rules.organizes_any(user)]
