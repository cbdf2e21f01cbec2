from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "leaderboard.web"
    label = "web"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
