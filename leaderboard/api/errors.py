"""The API's errors: always JSON with ``detail`` and ``code``, as ``submissions.payloads`` writes them.

DRF answers its own exceptions in JSON, but Django's request parsing limits (a form field over
``DATA_UPLOAD_MAX_MEMORY_SIZE``, more fields than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``) raise Django
exceptions that DRF passes on, and Django answers them with an HTML 400 page. They are raised
while the view reads ``request.data``, inside DRF's exception handling: this handler answers them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        files = settings.SUBMISSION_MAX_BYTES / (1024 * 1024)
        return Response(
            {
                "detail": _(
                    "The request's form fields are larger than %(limit)s MB. Send the predictions "
                    "as the file field `predictions` (up to %(files)s MB); nothing was stored."
                )
                % {"limit": f"{limit:.1f}", "files": f"{files:.0f}"},
                "code": "request_too_large",
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Response(
            {
                "detail": _("The request has too many form fields or files: %(error)s Nothing was stored.")
                % {"error": exc},
                "code": "too_many_fields",
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    # DRF's own errors ({"detail": "..."}) get their code too, as every other error of the API has one.
    if response is not None and isinstance(response.data, dict) and set(response.data) == {"detail"}:
        code = getattr(response.data["detail"], "code", None)
        if code:
            response.data["code"] = code
    return response
