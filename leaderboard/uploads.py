"""Upload handling that never stores more than the size cap.

Django spools uploads to memory or to a temporary file as they stream in.
This handler counts the bytes and, past ``SUBMISSION_MAX_BYTES``, drops the
file (Django then reads and discards the rest of it) and records on the
request how far it got, so the view can say "too large" instead of
"no file".
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler


class SizeCappedUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.SUBMISSION_MAX_BYTES:
            oversized = getattr(self.request, "oversized_uploads", {})
            oversized[self.field_name] = self.received
            self.request.oversized_uploads = oversized
            self.file.close()
            raise SkipFile()
        return super().receive_data_chunk(raw_data, start)


def oversized_upload(request, field_name: str) -> int | None:
    """Bytes received before the cap stopped ``field_name``, if it did."""
    # DRF wraps the Django request; the handler saw the Django one.
    django_request = getattr(request, "_request", request)
    return getattr(django_request, "oversized_uploads", {}).get(field_name)
