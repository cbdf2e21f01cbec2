from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from leaderboard.audit.actions import ReasonForm, confirm_with_reason
from leaderboard.challenges.models import Phase

from . import services
from .models import Membership, PhaseApproval, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "banned", "created_by", "created_at"]
    list_filter = ["banned"]
    search_fields = ["name", "memberships__user__username"]
    # A ban changes only through the actions, with a reason in the audit log.
    readonly_fields = ["join_code", "created_at", "banned", "ban_reason"]
    inlines = [MembershipInline]
    actions = ["ban_selected", "unban_selected", "approve_for_phase"]

    def save_model(self, request, obj, form, change):
        # The admin saves in one transaction: the boards change with the name.
        super().save_model(request, obj, form, change)
        if change and "name" in form.changed_data:
            services.refresh_team_boards(obj)

    @admin.action(description=_("Ban (no more submissions, entries leave the boards)"), permissions=["change"])
    def ban_selected(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="ban_selected",
            title=_("Ban teams"),
            apply=lambda team, data: services.ban(request.user, team, data["reason"]),
            done=_("{count} team(s) banned."),
            explanation=_("The team reads the reason when it tries to submit."),
        )

    @admin.action(description=_("Approve for a phase (without waiting for a request)"), permissions=["change"])
    def approve_for_phase(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="approve_for_phase",
            title=_("Approve teams for a phase"),
            form_class=PhaseNoteForm,
            apply=lambda team, data: services.approve_for_phase(request.user, team, data["phase"], data["reason"]),
            done=_("{count} team(s) approved."),
        )

    @admin.action(description=_("Lift the ban"), permissions=["change"])
    def unban_selected(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="unban_selected",
            title=_("Lift bans"),
            apply=lambda team, data: services.unban(request.user, team, data["reason"]),
            done=_("{count} team(s) no longer banned."),
        )


class NoteForm(ReasonForm):
    reason = forms.CharField(
        label=_("Note to the team"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("Shown to the team with the decision, and recorded in the audit log."),
    )


class PhaseNoteForm(NoteForm):
    phase = forms.ModelChoiceField(
        queryset=Phase.objects.filter(requires_approval=True).select_related("challenge"),
        label=_("Phase"),
        help_text=_("Only phases that require approval are listed."),
    )
    field_order = ["phase", "reason"]


@admin.register(PhaseApproval)
class PhaseApprovalAdmin(admin.ModelAdmin):
    list_display = ["team", "phase", "status", "requested_at", "decided_by", "decided_at", "note"]
    list_filter = ["status", "phase"]
    search_fields = ["team__name", "note"]
    # Teams ask (site or API); organizers decide with the actions, each audited.
    readonly_fields = ["team", "phase", "status", "note", "requested_at", "decided_by", "decided_at"]
    actions = ["approve_selected", "reject_selected"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Approve"), permissions=["change"])
    def approve_selected(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset.select_related("team", "phase"),
            action="approve_selected",
            title=_("Approve teams"),
            form_class=NoteForm,
            apply=lambda approval, data: services.approve(request.user, approval, data["reason"]),
            done=_("{count} team(s) approved."),
        )

    @admin.action(description=_("Reject"), permissions=["change"])
    def reject_selected(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset.select_related("team", "phase"),
            action="reject_selected",
            title=_("Reject teams"),
            form_class=NoteForm,
            apply=lambda approval, data: services.reject(request.user, approval, data["reason"]),
            done=_("{count} team(s) rejected."),
        )
