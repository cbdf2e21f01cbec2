"""An email backend for tests: Django's in-memory outbox, with a mail server that refuses some addresses."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.locmem import EmailBackend as MemoryBackend

REFUSED_DOMAIN = "@refused.example"


class RefusingBackend(MemoryBackend):
    """Refuses a message to any ``…@refused.example`` the way an SMTP server refuses a recipient."""

    def send_messages(self, messages):
        for message in messages:
            refused = [address for address in message.recipients() if address.endswith(REFUSED_DOMAIN)]
            if refused:
                raise smtplib.SMTPRecipientsRefused({address: (550, b"no such user") for address in refused})
        return super().send_messages(messages)
