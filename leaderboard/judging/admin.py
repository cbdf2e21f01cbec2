from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from leaderboard.audit.actions import confirm_with_reason
from leaderboard.submissions import requeue

from . import lifecycle
from .models import JudgeAnswer, JudgeRun


@admin.register(JudgeRun)
class JudgeRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "submission",
        "status",
        "judged_clips",
        "total_clips",
        "failed_judgments",
        "calls",
        "cache_hits",
        "retries",
        "model",
        "created_at",
    ]
    list_filter = ["status", "submission__phase", "submission__language"]
    search_fields = ["submission__team__name", "signature"]
    # Everything moves through the judge's state machine; organizers act with the actions.
    readonly_fields = [field.name for field in JudgeRun._meta.fields]
    actions = ["resume_judging", "requeue_stuck", "cancel_judging"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Resume judging (asks only the clips without an answer)"), permissions=["change"])
    def resume_judging(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="resume_judging",
            title=_("Resume judging"),
            apply=lambda run, data: lifecycle.resume_by_organizer(request.user, run, data["reason"]),
            done=_("{count} judge run(s) queued again."),
        )

    @admin.action(description=_("Requeue stuck (queued, or running on a worker that stopped)"), permissions=["change"])
    def requeue_stuck(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="requeue_stuck",
            title=_("Requeue stuck judge runs"),
            apply=lambda run, data: requeue.requeue_stuck(request.user, run, data["reason"]),
            done=_("{count} judge run(s) queued again."),
            explanation=_(
                "A queued run, or a running one whose worker stopped renewing its lease, is queued again now; "
                "a worker takes it over and asks only what the cache lacks. One a live worker holds is left as it is."
            ),
        )

    @admin.action(description=_("Cancel judging"), permissions=["change"])
    def cancel_judging(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="cancel_judging",
            title=_("Cancel judging"),
            apply=lambda run, data: lifecycle.cancel_by_organizer(request.user, run, data["reason"]),
            done=_("{count} judge run(s) cancelled."),
        )


@admin.register(JudgeAnswer)
class JudgeAnswerAdmin(admin.ModelAdmin):
    """The cache, for inspecting what the judge said. Read-only: an answer is never edited."""

    list_display = ["key", "stage", "model", "parser", "scores", "created_at"]
    list_filter = ["stage", "model", "parser"]
    search_fields = ["key"]
    readonly_fields = [field.name for field in JudgeAnswer._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
