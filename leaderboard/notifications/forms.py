from django import forms
from django.utils.translation import gettext_lazy as _


class EmailPreferenceForm(forms.Form):
    on_result = forms.BooleanField(required=False, label=_("Email me when a submission of mine is scored or fails"))
    digest = forms.BooleanField(required=False, label=_("Organizers: email me a digest of new submissions"))

    def __init__(self, *args, organizer: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not organizer:
            del self.fields["digest"]
