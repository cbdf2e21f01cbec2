from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext, pgettext
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


#: The heading over the problems of a file the validator rejected (the page and its script show the same).
REJECTED_TITLE = _("The file was rejected. Nothing was stored and no limit was used. Fix these and upload again:")
NO_FILE = _("No file was chosen. Choose your JSON or JSON Lines file of narrations.")


#: The method tags (shown on the boards and filterable): yes, no, or not said.
YES_NO_UNSAID = [("unknown", _("Not said")), ("true", _("Yes")), ("false", _("No"))]
METHOD_TAG_WIDGETS = {
    "uses_character_info": forms.NullBooleanSelect(),
    "external_data": forms.NullBooleanSelect(),
}
METHOD_TAG_WIDGETS["uses_character_info"].choices = METHOD_TAG_WIDGETS["external_data"].choices = YES_NO_UNSAID
METHOD_TAG_LABELS = {
    "uses_character_info": _("Uses character information"),
    "external_data": _("External training data"),
    "model_size": _("Model size"),
}
METHOD_TAG_HELP = {
    "uses_character_info": _("The method uses the character names the benchmark gives. Shown on the boards."),
    "external_data": _("The method was trained on data other than the benchmark's. Shown on the boards."),
    "model_size": _('e.g. "7B"; shown on the boards.'),
}


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
    #: Shown once the validator refused the file for its language (``language_mismatch``); ticked, lifts that.
    confirm_language = forms.BooleanField(
        required=False,
        label=_("The file is in the language chosen above"),
        help_text=_("Its narrations look like the other language's; tick this only if they are not."),
    )

    class Meta:
        model = Submission
        fields = [
            "language",
            "predictions",
            "confirm_language",
            "method_name",
            "method_description",
            "paper_url",
            "code_url",
            "uses_character_info",
            "external_data",
            "model_size",
            "is_public",
        ]
        labels = {
            "is_public": _("Show on the public leaderboard"),
            "method_name": _("Method name"),
            **METHOD_TAG_LABELS,
        }
        help_texts = METHOD_TAG_HELP
        widgets = {
            "language": forms.RadioSelect,
            "method_description": forms.Textarea(attrs={"rows": 3}),
            **METHOD_TAG_WIDGETS,
        }

    def __init__(self, *args, languages: list[str], file_stopped: bool = False, **kwargs):
        """``file_stopped``: the upload handler dropped the file at the size cap (``leaderboard.uploads``), so
        a missing file is not "no file" here: the intake says "too large"."""
        super().__init__(*args, **kwargs)
        self.file_stopped = file_stopped
        language = self.fields["language"]
        language.choices = [(code, label) for code, label in Language.choices if code in languages]
        language.error_messages["required"] = _("Choose the language of the narrations.")
        if len(languages) == 1:
            language.initial = languages[0]

    def clean(self):
        cleaned = super().clean()
        # Every missing field at once: language and file alike, not the language first and the file next time.
        if not cleaned.get("predictions") and "predictions" not in self.errors and not self.file_stopped:
            self.add_error("predictions", forms.ValidationError(NO_FILE, code="required"))
        return cleaned

    def error_messages(self) -> list[str]:
        """Every error, each named by its field's label, as the page and its script list them."""
        return [
            # Translators: a field's label, then what is wrong with its value.
            gettext("%(field)s: %(message)s") % {"field": self.fields[name].label, "message": message}
            if name in self.fields
            else str(message)
            for name, messages in self.errors.items()
            for message in messages
        ]

    def error_title(self) -> str:
        """The heading over :meth:`error_messages`: what is missing, not "the file was rejected"."""
        missing = [
            str(self.fields[name].label)
            for name, errors in self.errors.as_data().items()
            if name in self.fields and any(error.code == "required" for error in errors)
        ]
        if missing:
            return gettext(
                "Missing: %(fields)s. Nothing was stored and no limit was used. Fill these in and upload again:"
            ) % {"fields": pgettext("list separator", ", ").join(missing)}
        return gettext("Some fields are invalid. Nothing was stored and no limit was used. Fix these and upload again:")


class SubmissionMethodForm(forms.ModelForm):
    """What a team may change after submitting."""

    paper_url = url_field(_("Paper URL"))
    code_url = url_field(_("Code URL"))

    class Meta:
        model = Submission
        fields = [
            "method_name",
            "method_description",
            "paper_url",
            "code_url",
            "uses_character_info",
            "external_data",
            "model_size",
            "is_public",
        ]
        labels = {"is_public": _("Show on the public leaderboard"), **METHOD_TAG_LABELS}
        help_texts = METHOD_TAG_HELP
        widgets = {"method_description": forms.Textarea(attrs={"rows": 3}), **METHOD_TAG_WIDGETS}
