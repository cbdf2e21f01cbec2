from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import EmailVerification


@admin.register(EmailVerification)
class EmailVerificationAdmin(admin.ModelAdmin):
    """Accounts created here are not verified until they follow a link, or an administrator marks them."""

    list_display = ["user", "email", "verified_at", "last_sent_at"]
    list_filter = [("verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "email"]
    raw_id_fields = ["user"]
    actions = ["mark_verified"]

    @admin.action(description=_("Mark verified (they may submit)"), permissions=["change"])
    def mark_verified(self, request, queryset):
        updated = queryset.filter(verified_at__isnull=True).update(verified_at=timezone.now())
        self.message_user(request, _("%(count)d marked verified.") % {"count": updated})
