"""The Content-Security-Policy header of every response (Django 5.2 has none of its own)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """``settings.CONTENT_SECURITY_POLICY`` on every response that has no policy of its own.

    The site's pages keep to it: scripts and styles from files only (static/js, static/css), no
    inline code or event handlers, so an injected ``<script>`` or ``onerror=`` does not run even
    if escaping ever failed. A view that needs another policy sets it (:func:`content_security_policy`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = settings.CONTENT_SECURITY_POLICY
        return response


def content_security_policy(policy: str):
    """A view's own policy, in place of the site's."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response[HEADER] = policy
            return response

        return wrapped

    return decorate
