from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from leaderboard.audit.actions import ReasonForm, confirm_with_reason
from leaderboard.audit.services import record
from leaderboard.submissions import moderation
from leaderboard.submissions.admin import RESCORE_EXPLANATION, report_rescore

from .models import AUDITED_PHASE_FIELDS, Board, Challenge, Language, Phase, ReferenceSet
from .services import record_phase_change


class PhaseInline(admin.TabularInline):
    """A summary; phases are edited on their own page, where every change is audited."""

    model = Phase
    extra = 0
    fields = ["slug", "title", "starts_at", "ends_at", "references_public", "board_visibility"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "created_at"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [PhaseInline]


class BoardInline(admin.TabularInline):
    model = Board
    extra = 0


class ReferenceSetInline(admin.TabularInline):
    model = ReferenceSet
    extra = 0
    # The narrations themselves are large; they are edited by re-importing.
    fields = ["language", "clip_count", "content_hash", "source", "updated_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class PhaseForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text=_(
            "Needed when dates, limits, visibility, freeze, approval or judge settings change; "
            "recorded in the audit log with the old and new values."
        ),
    )

    class Meta:
        model = Phase
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        audited_change = self.instance.pk and set(self.changed_data) & set(AUDITED_PHASE_FIELDS)
        if audited_change and not (cleaned.get("change_reason") or "").strip():
            self.add_error(
                "change_reason",
                _("Say why %(fields)s changed; the audit log keeps it.")
                % {"fields": ", ".join(sorted(audited_change))},
            )
        return cleaned


class RescorePhaseForm(ReasonForm):
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("All languages")), *Language.choices],
    )
    field_order = ["language", "reason"]


@admin.register(Phase)
class PhaseAdmin(admin.ModelAdmin):
    form = PhaseForm
    list_display = [
        "__str__",
        "title",
        "starts_at",
        "ends_at",
        "max_submissions_per_day",
        "max_submissions_total",
        "board_visibility",
        "frozen_at",
        "requires_approval",
    ]
    list_filter = ["challenge", "references_public", "requires_approval"]
    inlines = [ReferenceSetInline, BoardInline]
    actions = ["rescore_phase"]

    def save_model(self, request, obj, form, change):
        """Save, and record what changed among the audited fields (in the change form's transaction)."""
        if not change:
            super().save_model(request, obj, form, change)
            record(
                request.user,
                "phase.create",
                obj,
                form.cleaned_data.get("change_reason", "").strip(),
                **{name: getattr(obj, name) for name in AUDITED_PHASE_FIELDS},
            )
            return
        before = Phase.objects.get(pk=obj.pk)
        super().save_model(request, obj, form, change)
        changes = record_phase_change(request.user, before, obj, form.cleaned_data["change_reason"].strip())
        if changes:
            self.message_user(request, _("Recorded in the audit log: %s.") % ", ".join(sorted(changes)), messages.INFO)

    @admin.action(description=_("Re-score every finished submission of the phase"), permissions=["change"])
    def rescore_phase(self, request, queryset):
        def rescore(phases, data):
            for phase in phases:
                rescored = moderation.rescore_submissions(
                    request.user, phase, data["reason"], language=data["language"] or None
                )
                report_rescore(self, request, rescored)

        return confirm_with_reason(
            self,
            request,
            queryset,
            action="rescore_phase",
            title=_("Re-score phases"),
            apply_all=rescore,
            form_class=RescorePhaseForm,
            explanation=RESCORE_EXPLANATION,
        )
