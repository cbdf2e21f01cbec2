from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "leaderboard.notifications"
    verbose_name = "Email notifications"
