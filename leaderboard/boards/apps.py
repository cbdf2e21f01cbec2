from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BoardsConfig(AppConfig):
    name = "leaderboard.boards"
    label = "boards"
    verbose_name = _("Boards")

    def ready(self):
        from . import public_cache

        public_cache.connect_signals()
