from django.contrib import admin

from .models import Result, Submission


class ResultInline(admin.TabularInline):
    model = Result
    extra = 0
    fields = ["created_at", "metrics", "clips", "missing_clips", "evaluation_version", "reference_hash",
              "duration_seconds"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "phase", "language", "status", "is_public", "method_name", "created_at"]
    list_filter = ["status", "phase", "language", "is_public"]
    search_fields = ["team__name", "method_name", "user__username"]
    # Status moves only through the state machine in services, never by hand.
    readonly_fields = ["status", "error", "attempts", "lease_expires_at", "started_at", "finished_at",
                       "current_result", "file_sha256", "file_size", "file_format", "original_filename",
                       "predictions_file", "created_at", "updated_at"]
    raw_id_fields = ["team", "user", "phase"]
    inlines = [ResultInline]
