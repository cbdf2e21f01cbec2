from django.apps import AppConfig


class JudgingConfig(AppConfig):
    name = "leaderboard.judging"
    verbose_name = "LLM judge (L1, L2)"
