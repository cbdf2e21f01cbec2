"""Throttles: how many sign-ins, sign-ups and uploads a client may send in a period.

One counter per scope and client, shared by every entry point of the scope (the site's upload form and
the API's upload endpoint count together), kept in the ``throttles`` cache: Redis when ``REDIS_URL`` is
set, so every web process counts together; each process's memory otherwise. A fixed window per period,
counted with the cache's atomic ``incr``, so parallel requests cannot all slip through. Rates are
``settings.THROTTLE_RATES`` (``"N/second|minute|hour|day"``; empty turns a scope off).

A cache that does not answer lets the request through (and logs it): the throttles must not take the
site down with Redis.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.utils.translation import gettext_lazy, ngettext
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

CACHE_ALIAS = "throttles"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: What a refusal says, per scope and period: what was sent too often, from whom, and the rate.
REFUSALS = {
    ("login", 1): gettext_lazy("Too many sign-in attempts from your address: at most %(limit)d a second."),
    ("login", 60): gettext_lazy("Too many sign-in attempts from your address: at most %(limit)d a minute."),
    ("login", 3600): gettext_lazy("Too many sign-in attempts from your address: at most %(limit)d an hour."),
    ("login", 86400): gettext_lazy("Too many sign-in attempts from your address: at most %(limit)d a day."),
    ("signup", 1): gettext_lazy("Too many sign-ups from your address: at most %(limit)d a second."),
    ("signup", 60): gettext_lazy("Too many sign-ups from your address: at most %(limit)d a minute."),
    ("signup", 3600): gettext_lazy("Too many sign-ups from your address: at most %(limit)d an hour."),
    ("signup", 86400): gettext_lazy("Too many sign-ups from your address: at most %(limit)d a day."),
    ("upload", 1): gettext_lazy("Too many uploads from your account: at most %(limit)d a second."),
    ("upload", 60): gettext_lazy("Too many uploads from your account: at most %(limit)d a minute."),
    ("upload", 3600): gettext_lazy("Too many uploads from your account: at most %(limit)d an hour."),
    ("upload", 86400): gettext_lazy("Too many uploads from your account: at most %(limit)d a day."),
}


@dataclass(frozen=True)
class Throttled:
    scope: str
    limit: int
    period: int
    #: Seconds until the count starts again: the Retry-After header.
    retry_after: int

    @property
    def message(self) -> str:
        again = ngettext("Try again in %(seconds)d seconds.", "Try again in %(seconds)d seconds.", self.retry_after) % {
            "seconds": self.retry_after
        }
        # Two sentences: how many and how often, then when to try again.
        return f"{REFUSALS[self.scope, self.period] % {'limit': self.limit}} {again}"


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"10/minute"`` -> (10, 60); None when empty (no throttle)."""
    if not rate:
        return None
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[0]]


def hit(scope: str, ident: str) -> Throttled | None:
    """Count one request of ``ident`` in ``scope``; a :class:`Throttled` when it is over the rate, else None."""
    parsed = parse_rate(settings.THROTTLE_RATES.get(scope))
    if parsed is None:
        return None
    limit, period = parsed
    now = time.time()
    window = int(now // period)
    # Hashed: a client address may hold characters a cache key must not.
    key = f"throttle:{scope}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}:{window}"
    cache = caches[CACHE_ALIAS]
    try:
        cache.add(key, 0, timeout=period + 1)
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr: a new window
        cache.set(key, 1, timeout=period + 1)
        count = 1
    except Exception:  # the cache is down: let the request through rather than refuse everyone
        logger.warning("the throttle cache did not answer; %s not counted", scope, exc_info=True)
        return None
    if count <= limit:
        return None
    return Throttled(scope, limit, period, retry_after=max(1, math.ceil((window + 1) * period - now)))


def client_ident(request) -> str:
    """The client's address, as DRF's throttles take it (``X-Forwarded-For`` with ``NUM_PROXIES``)."""
    return BaseThrottle().get_ident(getattr(request, "_request", request))


def user_ident(user) -> str:
    return f"user:{user.pk}"


class UploadThrottle(BaseThrottle):
    """The API side of the ``upload`` scope: every POST of a signed-in user, accepted or not.

    Raises DRF's ``Throttled`` with this module's message (DRF's own would append a second
    "available in" sentence); ``wait`` is what DRF writes as Retry-After.
    """

    scope = "upload"

    def allow_request(self, request, view) -> bool:
        if request.method != "POST" or not request.user.is_authenticated:
            return True
        refusal = hit(self.scope, user_ident(request.user))
        if refusal is not None:
            error = exceptions.Throttled(detail=refusal.message, code="throttled")
            error.wait = refusal.retry_after
            raise error
        return True
