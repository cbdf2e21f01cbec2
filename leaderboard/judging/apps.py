from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JudgingConfig(AppConfig):
    name = "leaderboard.judging"
    verbose_name = _("LLM judge (L1, L2)")
