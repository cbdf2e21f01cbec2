from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from leaderboard.challenges.models import Language
from leaderboard.submissions.models import Submission


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text=_("For notices about your submissions."))

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]


class CreateTeamForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Team name"))


class JoinTeamForm(forms.Form):
    join_code = forms.CharField(max_length=32, label=_("Join code"), help_text=_("Ask a member of the team for it."))


def url_field(label: str) -> forms.URLField:
    # "example.org" means https://example.org (Django 6's default, stated now).
    return forms.URLField(label=label, required=False, max_length=500, assume_scheme="https")


class SubmissionForm(forms.ModelForm):
    """The upload form. The file's contents are checked by the evaluation validator, not here."""

    predictions = forms.FileField(
        required=False,
        label=_("Predictions file"),
        help_text=_('JSON {"<clip_id>": "<narration>", ...} or JSON Lines {"clip_id": ..., "narration": ...}, UTF-8.'),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.jsonl,.ndjson,application/json"}),
    )
    paper_url = url_field(_("Paper URL"))
    code_url = url_field(_("Code URL"))

    class Meta:
        model = Submission
        fields = ["language", "predictions", "method_name", "method_description", "paper_url", "code_url", "is_public"]
        labels = {"is_public": _("Show on the public leaderboard"), "method_name": _("Method name")}
        widgets = {"language": forms.RadioSelect, "method_description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, languages: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [(code, label) for code, label in Language.choices if code in languages]
        if len(languages) == 1:
            self.fields["language"].initial = languages[0]


class SubmissionMethodForm(forms.ModelForm):
    """What a team may change after submitting."""

    paper_url = url_field(_("Paper URL"))
    code_url = url_field(_("Code URL"))

    class Meta:
        model = Submission
        fields = ["method_name", "method_description", "paper_url", "code_url", "is_public"]
        labels = {"is_public": _("Show on the public leaderboard")}
        widgets = {"method_description": forms.Textarea(attrs={"rows": 3})}
