"""A phase's stage boards, the external baselines shown on them, and the rows they show.

``Board`` and ``Baseline`` are what organizers define (in a bundle or the admin). ``BoardEntry``
and ``BoardSnapshot`` are derived: ``services.refresh_boards`` ranks once on every write that can
move a board and stores the result here, so that a board view reads rows instead of ranking.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from evaluation.metrics import METRICS
from leaderboard.challenges.models import (
    BOARD_PRECISION_MAX,
    TITLE_MAX_LENGTH,
    Language,
    Phase,
    check_translations,
    translations_field,
)
from leaderboard.submissions.models import Result, Submission


class Board(models.Model):
    """A stage leaderboard: one primary metric, then tie-breaking columns."""

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="boards")
    key = models.SlugField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    #: The Chinese title and description (``challenges.texts``).
    translations = translations_field()
    primary_metric = models.CharField(max_length=40)
    secondary_metrics = models.JSONField(default=list, blank=True)
    precision = models.PositiveSmallIntegerField(
        default=4, validators=[MaxValueValidator(BOARD_PRECISION_MAX)], help_text=_("Decimals shown.")
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["phase", "order", "key"]
        constraints = [models.UniqueConstraint(fields=["phase", "key"], name="unique_board_key")]

    def __str__(self) -> str:
        return f"{self.phase} {self.key}"

    @property
    def columns(self) -> list[str]:
        return [self.primary_metric, *self.secondary_metrics]

    TRANSLATED_FIELDS = {"title": TITLE_MAX_LENGTH, "description": None}

    def clean(self) -> None:
        errors = check_translations(self, self.TRANSLATED_FIELDS)
        if errors:
            raise ValidationError(errors)
        if not isinstance(self.secondary_metrics, list) or not all(
            isinstance(name, str) for name in self.secondary_metrics
        ):
            raise ValidationError({"secondary_metrics": _("A list of metric names.")})
        unknown = [name for name in self.columns if name not in METRICS]
        if unknown:
            raise ValidationError(_("Unknown metrics: %(names)s") % {"names": ", ".join(unknown)})


class Baseline(models.Model):
    """An external result shown on a phase's boards, marked as a baseline and never ranked as a team."""

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="baselines")
    language = models.CharField(max_length=2, choices=Language.choices)
    key = models.SlugField(help_text=_("Names the row in the bundle."))
    method_name = models.CharField(max_length=200)
    citation = models.CharField(max_length=500, help_text=_("Where the numbers come from, e.g. the paper."))
    url = models.URLField(blank=True, max_length=500)
    scores = models.JSONField(help_text=_("metric name -> value, on the metrics' own scale"))
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["phase", "language", "order", "key"]
        constraints = [models.UniqueConstraint(fields=["phase", "language", "key"], name="unique_baseline_key")]

    def __str__(self) -> str:
        return f"{self.phase} {self.language} baseline {self.method_name}"

    def clean(self) -> None:
        if not isinstance(self.scores, dict) or not all(
            isinstance(value, (int, float)) and not isinstance(value, bool) for value in self.scores.values()
        ):
            raise ValidationError({"scores": _("An object of metric name -> number.")})
        unknown = sorted(name for name in self.scores if name not in METRICS)
        if unknown:
            raise ValidationError({"scores": _("Unknown metrics: %(names)s") % {"names": ", ".join(unknown)}})


class BoardMoment(models.TextChoices):
    """Which moment a board's stored rows stand at."""

    #: Now: what organizers see, and everyone before the freeze date.
    LIVE = "live", _("Live")
    #: The phase's freeze date: what the public sees once it has passed.
    FROZEN = "frozen", _("At the freeze date")


class BoardSnapshot(models.Model):
    """When a phase's boards in one language were last ranked at one moment, and from what.

    ``inputs`` fingerprints what the rows depend on that a board view can check for free (the
    phase's freeze date and best-per-team rule, the boards' columns, the board judge): a view that
    finds it out of date (a judge setting changed in the environment, a phase edited in place)
    ranks again before it reads.
    """

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="board_snapshots")
    language = models.CharField(max_length=2, choices=Language.choices)
    moment = models.CharField(max_length=8, choices=BoardMoment.choices)
    inputs = models.CharField(max_length=64)
    ranked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["phase", "language", "moment"], name="one_snapshot_per_board_moment")
        ]

    def __str__(self) -> str:
        return f"{self.phase} {self.language} {self.moment} ranked {self.ranked_at:%Y-%m-%d %H:%M:%S}"


class BoardEntry(models.Model):
    """One stored row of a board, in board order: ranked entries, and unranked ones placed by score.

    Every entry is stored, those the public does not see included (hidden, disqualified, banned):
    ``selectors.board_view`` leaves out what its viewer may not see.
    """

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="entries")
    language = models.CharField(max_length=2, choices=Language.choices)
    moment = models.CharField(max_length=8, choices=BoardMoment.choices)
    position = models.PositiveIntegerField()
    rank = models.PositiveIntegerField(null=True, blank=True)
    #: None for an external baseline.
    submission = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    team_id = models.BigIntegerField(null=True, blank=True)
    team_name = models.CharField(max_length=200, blank=True)
    method_name = models.CharField(max_length=200, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    scores = models.JSONField(default=dict)
    paper_url = models.CharField(max_length=500, blank=True)
    code_url = models.CharField(max_length=500, blank=True)
    uses_character_info = models.BooleanField(null=True, blank=True)
    external_data = models.BooleanField(null=True, blank=True)
    model_size = models.CharField(max_length=40, blank=True)
    missing_clips = models.PositiveIntegerField(default=0)
    judge_model = models.CharField(max_length=200, blank=True)
    other_judge_scores = models.JSONField(default=dict, blank=True)
    other_judge = models.CharField(max_length=32, blank=True)
    baseline = models.BooleanField(default=False)
    citation = models.CharField(max_length=500, blank=True)
    moderation = models.CharField(max_length=16, blank=True)
    moderation_reason = models.TextField(blank=True)
    result_id = models.BigIntegerField(null=True, blank=True)
    intervals = models.JSONField(default=dict, blank=True)
    tie_group = models.PositiveIntegerField(null=True, blank=True)
    p_value_vs_above = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["board", "language", "moment", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["board", "language", "moment", "position"], name="one_entry_per_board_position"
            )
        ]
        verbose_name_plural = _("board entries")

    def __str__(self) -> str:
        return f"{self.board} {self.language} {self.moment} #{self.position}"


class PairedTest(models.Model):
    """The paired bootstrap p-value between two results on one metric: computed once, read by every refresh.

    A board's tie groups compare each ranked row with the one above (``boards.intervals``); a write moves
    one team's rows, so most neighbours stay and their test is read back from here.
    """

    result_above = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="+")
    result_below = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=40)
    #: ``evaluation.intervals.BootstrapMethod`` as a key: unit, resamples, seed, level and version.
    method = models.CharField(max_length=200)
    p_value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["result_above", "result_below", "metric", "method"], name="one_paired_test_per_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric}: result {self.result_above_id} vs {self.result_below_id}, p = {self.p_value:.3f}"
