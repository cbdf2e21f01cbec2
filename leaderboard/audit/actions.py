"""Admin actions that ask for a reason on an intermediate page, then call a service per object.

An action built with :func:`confirm_with_reason` first shows
``admin/confirm_action.html`` (the selected objects and a form asking why),
and, once that form is posted back valid, applies the service to each object.
The services write the audit events; an object the service refuses is left
as it is and named in the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from .services import ActionRefused

#: How many selected objects the confirmation page lists by name.
LISTED_OBJECTS = 50


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("Recorded in the audit log; where the action concerns a team, the team reads it."),
    )


def confirm_with_reason(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: models.QuerySet,
    *,
    action: str,
    title: str,
    apply: Callable[[models.Model, dict[str, Any]], Any] | None = None,
    done: str = "",
    apply_all: Callable[[models.QuerySet, dict[str, Any]], Any] | None = None,
    form_class: type[forms.Form] = ReasonForm,
    explanation: str = "",
):
    """Ask for the reason, then ``apply(obj, cleaned_data)`` to each object of ``queryset``.

    ``done`` is the message for what happened, with ``{count}``. An action
    acting on the selection as a whole passes ``apply_all(queryset,
    cleaned_data)`` instead, and reports itself. Returns the confirmation
    page, or None (back to the change list) once applied.
    """
    form = form_class(request.POST if request.POST.get("post") == "yes" else None)
    if form.is_bound and form.is_valid() and apply_all is not None:
        apply_all(queryset, form.cleaned_data)
        return None
    if form.is_bound and form.is_valid():
        applied, refused = 0, []
        for obj in queryset:
            try:
                apply(obj, form.cleaned_data)
            except ActionRefused as refusal:
                refused.append(str(refusal))
            else:
                applied += 1
        if applied:
            modeladmin.message_user(request, done.format(count=applied), messages.SUCCESS)
        for message in refused:
            modeladmin.message_user(request, _("Left as it was: %s") % message, messages.WARNING)
        return None

    objects = list(queryset[: LISTED_OBJECTS + 1])
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "explanation": explanation,
        "opts": opts,
        "app_label": opts.app_label,
        "objects": objects[:LISTED_OBJECTS],
        "more_count": max(0, queryset.count() - LISTED_OBJECTS),
        "selected_ids": list(queryset.values_list("pk", flat=True)),
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "form": form,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/confirm_action.html", context)
