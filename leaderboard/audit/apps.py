from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "leaderboard.audit"
    verbose_name = "Audit log"
