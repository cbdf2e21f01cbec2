from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from leaderboard.audit.actions import ReasonForm, confirm_with_reason

from . import moderation, requeue
from .models import Result, Submission


class ResultInline(admin.TabularInline):
    model = Result
    extra = 0
    fields = [
        "created_at",
        "metrics",
        "clips",
        "missing_clips",
        "evaluation_version",
        "reference_hash",
        "duration_seconds",
    ]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class BaselineForm(ReasonForm):
    citation = forms.CharField(
        label=_("Citation"),
        max_length=500,
        help_text=_("Where the method comes from, e.g. “Yue et al., Movie101v2, 2024”. Shown on the boards."),
    )
    field_order = ["citation", "reason"]


RESCORE_EXPLANATION = _(
    "Each finished submission gets a new result beside its old ones; the boards switch to it once its L1 and L2 "
    "are judged (at once when the phase has no judge). Judge answers already cached cost no calls."
)


def report_rescore(modeladmin, request, rescored: moderation.RescoreRequest) -> None:
    """The admin messages of a re-score request."""
    ids = ", ".join(f"#{pk}" for pk in rescored.submission_ids) or "none"
    modeladmin.message_user(
        request,
        _("%(count)d submission(s) queued for re-scoring: %(ids)s.")
        % {"count": len(rescored.submission_ids), "ids": ids},
        messages.SUCCESS,
    )
    if rescored.skipped_ids:
        modeladmin.message_user(
            request,
            _("Not finished, so not re-scored: %s.") % ", ".join(f"#{pk}" for pk in rescored.skipped_ids),
            messages.WARNING,
        )
    if rescored.not_queued_ids:
        modeladmin.message_user(
            request,
            _("Could not be queued (is the broker up?): %s. Run the action again later.")
            % ", ".join(f"#{pk}" for pk in rescored.not_queued_ids),
            messages.ERROR,
        )


REQUEUE_EXPLANATION = _(
    "A waiting submission, or a running one whose worker stopped renewing its lease, is queued again now, without "
    "waiting for the sweep; a worker takes it over and scores it once. One a live worker holds is left as it is."
)


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "team",
        "phase",
        "language",
        "status",
        "moderation",
        "is_baseline",
        "is_public",
        "method_name",
        "created_at",
    ]
    list_filter = ["status", "moderation", "is_baseline", "phase", "language", "is_public"]
    search_fields = ["team__name", "method_name", "user__username"]
    # Organizers change a submission only through the actions, each with a reason in the audit log;
    # status moves only through the state machine.
    readonly_fields = [
        "phase",
        "team",
        "user",
        "language",
        "method_name",
        "method_description",
        "paper_url",
        "code_url",
        "is_public",
        "moderation",
        "moderation_reason",
        "is_baseline",
        "baseline_citation",
        "status",
        "error",
        "attempts",
        "lease_expires_at",
        "started_at",
        "finished_at",
        "current_result",
        "file_sha256",
        "file_size",
        "file_format",
        "original_filename",
        "predictions_file",
        "parsed_file",
        "created_at",
        "updated_at",
    ]
    inlines = [ResultInline]
    actions = [
        "rescore_selected",
        "requeue_stuck_selected",
        "cancel_selected",
        "hide_selected",
        "disqualify_selected",
        "restore_selected",
        "mark_baseline_selected",
        "unmark_baseline_selected",
    ]

    def has_add_permission(self, request):
        return False  # submissions arrive by upload

    def has_delete_permission(self, request, obj=None):
        return False  # hide or disqualify instead: the history stays

    def _confirm(self, request, queryset, action, title, apply, done, **options):
        return confirm_with_reason(
            self, request, queryset, action=action, title=title, apply=apply, done=done, **options
        )

    @admin.action(description=_("Re-score (new result beside the old ones)"), permissions=["change"])
    def rescore_selected(self, request, queryset):
        def rescore(selection, data):
            rescored = moderation.rescore_submissions(request.user, selection, data["reason"])
            report_rescore(self, request, rescored)

        return confirm_with_reason(
            self,
            request,
            queryset,
            action="rescore_selected",
            title=_("Re-score submissions"),
            apply_all=rescore,
            explanation=RESCORE_EXPLANATION,
        )

    @admin.action(description=_("Requeue stuck (waiting, or running on a worker that stopped)"), permissions=["change"])
    def requeue_stuck_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            "requeue_stuck_selected",
            _("Requeue stuck submissions"),
            lambda obj, data: requeue.requeue_stuck(request.user, obj, data["reason"]),
            _("{count} submission(s) queued again."),
            explanation=REQUEUE_EXPLANATION,
        )

    @admin.action(description=_("Cancel scoring (waiting or running)"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            "cancel_selected",
            _("Cancel submissions"),
            lambda obj, data: moderation.cancel_submission_by_organizer(request.user, obj, data["reason"]),
            _("{count} submission(s) cancelled."),
        )

    @admin.action(description=_("Hide from the boards"), permissions=["change"])
    def hide_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            "hide_selected",
            _("Hide submissions"),
            lambda obj, data: moderation.hide(request.user, obj, data["reason"]),
            _("{count} submission(s) hidden."),
            explanation=_("The team still sees its submission, marked hidden, with the reason."),
        )

    @admin.action(description=_("Disqualify"), permissions=["change"])
    def disqualify_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            "disqualify_selected",
            _("Disqualify submissions"),
            lambda obj, data: moderation.disqualify(request.user, obj, data["reason"]),
            _("{count} submission(s) disqualified."),
            explanation=_("The team sees its submission marked disqualified, with the reason."),
        )

    @admin.action(description=_("Restore (undo hide or disqualify)"), permissions=["change"])
    def restore_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            "restore_selected",
            _("Restore submissions"),
            lambda obj, data: moderation.restore(request.user, obj, data["reason"]),
            _("{count} submission(s) restored."),
        )

    @admin.action(description=_("Mark as baseline"), permissions=["change"])
    def mark_baseline_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            "mark_baseline_selected",
            _("Mark as baseline"),
            lambda obj, data: moderation.mark_baseline(request.user, obj, data["citation"], data["reason"]),
            _("{count} submission(s) marked as baselines."),
            form_class=BaselineForm,
            explanation=_("A baseline is shown marked, with its citation, and never ranked as a team's entry."),
        )

    @admin.action(description=_("Unmark baseline"), permissions=["change"])
    def unmark_baseline_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            "unmark_baseline_selected",
            _("Unmark baseline"),
            lambda obj, data: moderation.unmark_baseline(request.user, obj, data["reason"]),
            _("{count} submission(s) no longer baselines."),
        )
