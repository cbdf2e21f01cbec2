"""The language switch on every page, and the translations the pages' scripts use."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog

from leaderboard.accounts.middleware import set_language_cookie
from leaderboard.accounts.services import remember_language


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    """Switch to ``language`` and go back to ``next``: for this browser (a cookie) and, signed in, the account."""
    language = request.POST.get("language", "")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("web:challenge-list")
    response = HttpResponseRedirect(target)
    if language not in dict(settings.LANGUAGES):
        return response  # a stale or forged form: nothing to switch to
    translation.activate(language)
    set_language_cookie(response, language)
    if request.user.is_authenticated:
        remember_language(request.user, language)
    return response


#: The catalog of the strings in static/js (domain djangojs), as a script file: the pages allow no inline
#: code. Its language is the request's, which may come from a cookie, so no shared cache keeps it.
javascript_catalog = JavaScriptCatalog.as_view(domain="djangojs")
