from django.contrib import admin

from .models import Board, Challenge, Phase, ReferenceSet


class PhaseInline(admin.TabularInline):
    model = Phase
    extra = 0
    fields = ["slug", "title", "starts_at", "ends_at", "references_public", "board_visibility"]
    show_change_link = True


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


@admin.register(Phase)
class PhaseAdmin(admin.ModelAdmin):
    list_display = ["__str__", "title", "starts_at", "ends_at", "references_public", "board_visibility"]
    list_filter = ["challenge", "references_public"]
    inlines = [ReferenceSetInline, BoardInline]
