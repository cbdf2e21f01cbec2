"""Organizer helpers for Django's real admin: a staff user, a logged-in client, an action posted with its
confirmation, the messages shown, and a change page's form posted back unchanged. Service layer."""

from __future__ import annotations

from django import forms
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from leaderboard.submissions import intake
from leaderboard.submissions.models import Submission

from .service import demo_file

CHANGELISTS = {
    "submission": "/admin/submissions/submission/",
    "team": "/admin/teams/team/",
    "approval": "/admin/teams/phaseapproval/",
    "phase": "/admin/challenges/phase/",
}


def make_organizer(username="olga", models=("submission", "team", "phaseapproval", "phase")) -> object:
    """A staff user with the change permission of ``models`` (and no more): not a superuser."""
    user = get_user_model().objects.create_user(username=username, password="pw", is_staff=True)
    for model in models:
        user.user_permissions.add(
            *Permission.objects.filter(content_type__model=model, codename__in=[f"change_{model}", f"view_{model}"])
        )
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_action(client: Client, changelist: str, action: str, objects, **confirmation):
    """Choose ``action`` for ``objects`` on the change list, then post the confirmation page's form."""
    selected = [str(obj.pk) for obj in objects]
    page = client.post(changelist, {"action": action, ACTION_CHECKBOX_NAME: selected, "index": "0"})
    assert page.status_code == 200, page
    assert 'name="post" value="yes"' in page.content.decode()
    return client.post(
        changelist, {"action": action, ACTION_CHECKBOX_NAME: selected, "post": "yes", **confirmation}, follow=True
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def uploaded(user, phase, language="en") -> Submission:
    """A submission waiting to be scored (nothing consumes the queue in these tests)."""
    return intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=demo_file(f"val-{language}.json"),
        filename="p.json",
        method=intake.MethodInfo(method_name="m", is_public=True),
    )


def change_form_data(response) -> dict:
    """What the admin change page would post back unchanged: the form and its inlines' formsets."""
    data = {}

    def add(form):
        for field in form:
            value = field.value()
            widget = field.field.widget
            if field.field.show_hidden_initial and value is not None:
                # A field with a callable default carries its initial value in a hidden input too.
                data[field.html_initial_name] = value
            if isinstance(widget, forms.MultiWidget):
                for index, part in enumerate(widget.decompress(value)):
                    data[f"{field.html_name}_{index}"] = "" if part is None else str(part)
            elif isinstance(widget, forms.CheckboxInput):
                if value:
                    data[field.html_name] = "on"
            elif value is not None:
                data[field.html_name] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data
