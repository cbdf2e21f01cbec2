"""The JSON bodies of a refused or rejected upload: the API's, and the site's upload page (``static/js/submit.js``).

One shape for both: ``detail`` (a sentence), ``code`` and, for a rejection, ``errors`` (every problem).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext

from evaluation.predictions import Problem

from .files import problem_text
from .rules import Refusal


def refusal_payload(refusal: Refusal) -> dict[str, Any]:
    """Why the user may not submit (or change) here now; answer it with ``refusal.http_status``."""
    return {"detail": refusal.message, "code": refusal.code}


def rejection_payload(problems: Iterable[Problem]) -> dict[str, Any]:
    """A predictions file that did not pass validation, every problem listed; answer it with 400.

    Each problem's ``message`` is in the active language (:func:`files.problem_text`).
    """
    return {
        "detail": gettext("The predictions file was rejected. Nothing was stored and no limit was used."),
        "code": "invalid_predictions",
        "errors": [problem_dict(problem) for problem in problems],
    }


def problem_dict(problem: Problem) -> dict[str, Any]:
    """``problem.to_dict()``, its message in the active language."""
    return problem.to_dict() | {"message": problem_text(problem)}


def field_errors_payload(errors: Mapping[str, Iterable[Any]]) -> dict[str, Any]:
    """Invalid form fields, ``{field: [message, ...]}`` as a form or a serializer gives them; answer it with 400."""
    return {
        "detail": gettext("Some fields are invalid. Nothing was stored and no limit was used."),
        "code": "invalid_fields",
        "errors": [
            {"code": "invalid_field", "field": field, "message": str(message)}
            for field, messages in errors.items()
            for message in messages
        ],
    }
