from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.utils.translation import gettext_lazy as _

from leaderboard.audit.actions import ReasonForm, confirm_with_reason
from leaderboard.audit.services import record
from leaderboard.boards.models import Board
from leaderboard.boards.services import refresh_boards
from leaderboard.submissions import moderation
from leaderboard.submissions.admin import RESCORE_EXPLANATION, report_rescore

from .models import AUDITED_PHASE_FIELDS, Challenge, JudgeSettings, Language, Movie, Phase, ReferenceSet
from .organizers import organizer_names, record_organizers_change
from .services import audited_phase_values, judge_audit_name, record_phase_change


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
    filter_horizontal = ["organizers"]

    def save_model(self, request, obj, form, change):
        # The organizers as stored, for save_related to compare once the form's many-to-many is saved.
        form.organizers_before = organizer_names(obj) if change else []
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        """Save the organizers, then record who was named or removed (in the change form's transaction)."""
        super().save_related(request, form, formsets, change)
        if record_organizers_change(request.user, form.instance, form.organizers_before):
            self.message_user(request, _("Recorded in the audit log: the organizers."), messages.INFO)


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


def _reason_needed(changed: set[str]) -> str:
    return _("Say why %(fields)s changed; the audit log keeps it.") % {"fields": ", ".join(sorted(changed))}


class JudgeSettingsFormSet(forms.BaseInlineFormSet):
    """A change to a phase's judge settings needs the change form's reason, as its audited fields do."""

    def clean(self):
        super().clean()
        changed = {judge_audit_name(name) for form in self.forms if form.has_changed() for name in form.changed_data}
        # The reason is the phase form's field; the formset sees the same POST.
        if changed and self.instance.pk and not (self.data.get("change_reason") or "").strip():
            raise forms.ValidationError(_reason_needed(changed))


class JudgeSettingsInline(admin.StackedInline):
    """The phase's judge. Left as it is, a phase without settings stores none and keeps the defaults."""

    model = JudgeSettings
    formset = JudgeSettingsFormSet
    extra = 1
    # Emptying the fields is how settings go back to the JUDGE_* defaults, audited like any change.
    can_delete = False

    # The settings are part of the phase: who may see or change the phase may see or change them.
    def _phase_permission(self, request, action: str) -> bool:
        opts = self.parent_model._meta
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")

    def has_view_permission(self, request, obj=None):
        return self._phase_permission(request, "view") or self._phase_permission(request, "change")

    def has_change_permission(self, request, obj=None):
        return self._phase_permission(request, "change")

    def has_add_permission(self, request, obj):
        return self._phase_permission(request, "change" if obj is not None else "add")


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
            self.add_error("change_reason", _reason_needed(audited_change))
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
    inlines = [JudgeSettingsInline, ReferenceSetInline, BoardInline]
    actions = ["rescore_phase"]

    def save_model(self, request, obj, form, change):
        # The audited values as stored, for save_related to compare once the judge settings are saved too.
        form.audited_before = audited_phase_values(Phase.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        """Save the inlines, then record what changed among the audited values (in the change form's transaction)."""
        super().save_related(request, form, formsets, change)
        phase = Phase.objects.get(pk=form.instance.pk)  # as stored now, judge settings included
        refresh_boards(phase)  # its boards, their columns or its freeze may have changed
        reason = form.cleaned_data.get("change_reason", "").strip()
        if not change:
            record(request.user, "phase.create", phase, reason, **audited_phase_values(phase))
            return
        changes = record_phase_change(request.user, form.audited_before, phase, reason)
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


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    """The release's movie metadata, as the bundle loader read it: names the breakdowns' rows."""

    list_display = ["movie_id", "title", "year", "genres"]
    search_fields = ["movie_id", "title"]
    readonly_fields = ["movie_id", "title", "year", "genres"]

    def has_add_permission(self, request):
        return False  # filled by load_challenge, import_movie101v2 and load_demo from the metadata files
