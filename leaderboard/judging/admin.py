from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _, ngettext

from . import services
from .models import JudgeAnswer, JudgeRun


@admin.register(JudgeRun)
class JudgeRunAdmin(admin.ModelAdmin):
    list_display = ["id", "submission", "status", "judged_clips", "total_clips", "failed_judgments", "calls",
                    "cache_hits", "retries", "model", "created_at"]
    list_filter = ["status", "submission__phase", "submission__language"]
    search_fields = ["submission__team__name", "signature"]
    # Everything moves through the judge's state machine; organizers act with the actions.
    readonly_fields = [field.name for field in JudgeRun._meta.fields]
    actions = ["resume_judging", "cancel_judging"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Resume judging (asks only the clips without an answer)"))
    def resume_judging(self, request, queryset):
        resumed = 0
        for run in queryset:
            if services.resume(run.pk):
                resumed += 1
                self.log_change(request, run, "Resumed judging")
        skipped = queryset.count() - resumed
        self.message_user(request, ngettext("%d run queued again.", "%d runs queued again.", resumed) % resumed)
        if skipped:
            self.message_user(request, _("%d runs were not incomplete, cancelled or unconfigured; left as they are.")
                              % skipped, messages.WARNING)

    @admin.action(description=_("Cancel judging"))
    def cancel_judging(self, request, queryset):
        cancelled = 0
        for run in queryset:
            if services.cancel(run.pk):
                cancelled += 1
                self.log_change(request, run, "Cancelled judging")
        self.message_user(request, ngettext("%d run cancelled.", "%d runs cancelled.", cancelled) % cancelled)


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
