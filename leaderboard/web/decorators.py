"""View decorators of the site."""

from __future__ import annotations

from functools import wraps

from django.shortcuts import render

from leaderboard import throttling


def throttle_posts(scope: str):
    """Count each POST against the ``scope`` throttle per client address; over the rate, 429 and a page saying so.

    Reading the page (GET) is not counted; the form is not even read when the POST is refused.
    """

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                refused = throttling.hit(scope, throttling.client_ident(request))
                if refused is not None:
                    return throttled_page(request, refused)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def throttled_page(request, refused: throttling.Throttled, template="web/throttled.html", context=None):
    response = render(request, template, {"message": refused.message, **(context or {})}, status=429)
    response["Retry-After"] = str(refused.retry_after)
    return response
