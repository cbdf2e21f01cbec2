"""What the OpenAPI schema says the API answers besides success: every error status a view can give.

Every error of the API is JSON ``{detail, code}`` (``errors.py``; ``errors`` lists the problems of a
rejected file or form). ``error_responses`` builds the schema's entries for a view's errors, with the
common reasons below; a view adds its own reasons to a status. The schema is checked against the
running API by ``tests/service/test_api_schema.py`` (schemathesis).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(required=False),
        "errors": serializers.ListField(child=serializers.DictField(), required=False),
    },
)

#: Why any view may answer each status, before the view's own reasons.
COMMON_REASONS = {
    400: "invalid query parameters or fields (code invalid_query, invalid_fields, too_many_fields)",
    401: "no credentials where an account is required, or a token that is unknown, malformed or expired "
    "(code token_expired), on any endpoint",
    403: "not allowed",
    404: "no such object (or one you may not see), or an unknown URL under /api/",
    406: "the Accept header allows no JSON",
    413: "form fields over the request size limit (code request_too_large); nothing was stored",
    415: "a request body in a media type the endpoint does not read",
    429: "too many requests (code throttled, with Retry-After)",
}

#: The statuses of every read: a rejected token, a refused Accept header.
READ = (401, 406)
#: And of every view with objects in its path.
READ_OBJECT = (*READ, 404)
#: A session-authenticated write without its CSRF token is refused (403) by DRF.
CSRF = "a session-authenticated request without its CSRF token"


def error_responses(*statuses: int, **reasons: str) -> dict[int, OpenApiResponse]:
    """The schema's entries for ``statuses``; ``reasons`` (``e403="..."``) say why this view answers one of them."""
    responses = {}
    for status in sorted(set(statuses) | {int(key[1:]) for key in reasons}):
        reason = reasons.get(f"e{status}") or COMMON_REASONS[status]
        responses[status] = OpenApiResponse(ErrorSerializer, description=reason)
    return responses


class JudgeTemplatesExtension(OpenApiSerializerExtension):
    """``JudgeTemplatesSerializer`` (``?format=templates``) is the templates object, not a serializer's fields."""

    target_class = "leaderboard.api.serializers.JudgeTemplatesSerializer"

    def map_serializer(self, auto_schema, direction):
        from .serializers import JUDGE_TEMPLATES_SCHEMA

        return JUDGE_TEMPLATES_SCHEMA


class SubmissionUpdateExtension(OpenApiSerializerExtension):
    """A PATCH of a submission names at least one field: an empty body answers 400."""

    target_class = "leaderboard.api.serializers.SubmissionUpdateSerializer"

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "minProperties": 1} if direction == "request" else schema
