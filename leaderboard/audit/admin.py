from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, read-only: events are written by the services, never by hand."""

    list_display = ["created_at", "actor_label", "action", "target_type", "target_label", "reason"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "target_label", "target_id", "reason"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
