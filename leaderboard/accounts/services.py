"""Email verification: the link a sign-up sends, following it, and asking for it again.

The link carries the account's id and a token from :data:`verification_tokens`, Django's password-reset
token scheme (an HMAC of the account's state and a timestamp, with the site's secret): it expires after
``PASSWORD_RESET_TIMEOUT`` (3 days by default) and works once, since verifying changes the state it
signs; it is bound to the address it was sent to. ``rules.submission_refusal`` asks :func:`is_verified`.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import get_language, gettext, override

from .models import EmailVerification
from .selectors import chosen_language

logger = logging.getLogger(__name__)

#: A new link is sent at most this often (the site's button; the sign-up sends the first).
RESEND_INTERVAL = timedelta(minutes=1)


class VerificationTokens(PasswordResetTokenGenerator):
    key_salt = "leaderboard.accounts.services.VerificationTokens"

    def _make_hash_value(self, user, timestamp: int) -> str:
        # Verified (or a new address) changes the hash: the link works once, for the address it went to.
        verified_at = EmailVerification.objects.filter(user=user).values_list("verified_at", flat=True).first()
        stamp = "" if verified_at is None else verified_at.replace(microsecond=0, tzinfo=None)
        return f"{user.pk}{user.email}{stamp}{user.is_active}{timestamp}"


verification_tokens = VerificationTokens()


class VerificationError(Exception):
    """A link could not be sent (or not now); the message says why, for the user."""


def is_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_authenticated:
        return False
    return EmailVerification.objects.filter(user=user, verified_at__isnull=False).exists()


def mark_verified(user: AbstractBaseUser) -> EmailVerification:
    """Verified now (a followed link, or an account an operator vouches for: the demo's, ``issue_token``'s)."""
    verification, _ = EmailVerification.objects.get_or_create(user=user)
    if verification.verified_at is None:
        verification.verified_at = timezone.now()
        verification.email = user.email
        verification.save(update_fields=["verified_at", "email"])
    return verification


def start_verification(user: AbstractBaseUser) -> bool:
    """A new account (the sign-up): unverified, and the link sent. Returns whether the email went out."""
    EmailVerification.objects.get_or_create(user=user)
    try:
        send_link(user)
    except VerificationError:
        return False
    return True


def verification_path(user: AbstractBaseUser) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("web:verify-email", args=[uid, verification_tokens.make_token(user)])


def send_link(user: AbstractBaseUser, *, at=None) -> None:
    """Email the verification link to ``user``'s address. :class:`VerificationError` if it cannot, or not yet."""
    at = at or timezone.now()
    if not user.email:
        raise VerificationError(gettext("Your account has no email address; ask the organizers to add one."))
    with transaction.atomic():
        verification, _ = EmailVerification.objects.select_for_update().get_or_create(user=user)
        if verification.verified_at is not None:
            raise VerificationError(gettext("Your email address is already verified."))
        if verification.last_sent_at is not None and at - verification.last_sent_at < RESEND_INTERVAL:
            raise VerificationError(
                gettext("A link was sent less than a minute ago: wait for it, or try again in a minute.")
            )
        verification.last_sent_at, verification.email = at, user.email
        verification.save(update_fields=["last_sent_at", "email"])
    link = settings.SITE_URL.rstrip("/") + verification_path(user)
    # In the account's language; a new account has chosen none yet: the language it signed up in.
    with override(chosen_language(user) or get_language() or settings.LANGUAGE_CODE):
        body = render_to_string("email/verify_email.txt", {"user": user, "link": link, "days": _timeout_days()})
        subject = gettext("Verify your email address for the Movie101v2 leaderboard")
    message = EmailMessage(subject=subject, body=body, to=[user.email])
    try:
        message.send()
    except (smtplib.SMTPException, OSError):
        logger.exception("could not send the verification email of user %s", user.pk)
        EmailVerification.objects.filter(user=user).update(last_sent_at=None)
        raise VerificationError(gettext("The email could not be sent; try again later.")) from None
    logger.info("sent the verification email of user %s", user.pk)


def verify(uidb64: str, token: str) -> AbstractBaseUser | None:
    """The account a followed link verifies (now verified), or None for a wrong, used or expired link."""
    try:
        user = get_user_model().objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, OverflowError, get_user_model().DoesNotExist):
        return None
    if not user.is_active or not verification_tokens.check_token(user, token):
        return None
    mark_verified(user)
    return user


def _timeout_days() -> int:
    return max(1, round(settings.PASSWORD_RESET_TIMEOUT / 86400))


def remember_language(user: AbstractBaseUser, language: str) -> None:
    """Store the account's choice of language (the site's switch); ``language`` is one of LANGUAGES."""
    from .models import LanguagePreference

    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"{language!r} is not one of the site's languages")
    LanguagePreference.objects.update_or_create(user=user, defaults={"language": language})
    user._chosen_language = language
