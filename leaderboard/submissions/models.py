"""Submissions, their scoring state machine, and their results."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leaderboard.challenges.models import Language, Phase
from leaderboard.teams.models import Team


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("Waiting to be scored")
    RUNNING = "running", _("Being scored")
    FINISHED = "finished", _("Scored")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


#: The one state machine. Every status change goes through
#: ``lifecycle.transition``, a conditional UPDATE that checks the edge here.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.SUBMITTED: frozenset({Status.RUNNING, Status.FAILED, Status.CANCELLED}),
    # running -> running: a lease that expired (its worker died) is taken over.
    Status.RUNNING: frozenset({Status.RUNNING, Status.FINISHED, Status.FAILED, Status.CANCELLED}),
    Status.FINISHED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}


class Moderation(models.TextChoices):
    NONE = "", _("Shown")
    HIDDEN = "hidden", _("Hidden by the organizers")
    DISQUALIFIED = "disqualified", _("Disqualified")


#: Statuses that use up a team's submission limits. A run that failed after
#: upload validation did so through no fault of the participant.
CHARGED_STATUSES = (Status.SUBMITTED, Status.RUNNING, Status.FINISHED)


def upload_path(instance: Submission, filename: str) -> str:
    # The participant's file name is kept in a field, never in a path.
    phase = instance.phase
    return f"submissions/{phase.challenge.slug}/{phase.slug}/{uuid.uuid4().hex}.json"


def parsed_path(instance: Submission, filename: str) -> str:
    # Beside the upload it was read from: <upload>.parsed.json.
    return str(PurePosixPath(instance.predictions_file.name).with_suffix(".parsed.json"))


class SubmissionQuerySet(models.QuerySet):
    def charged(self):
        return self.filter(status__in=CHARGED_STATUSES)

    def with_details(self):
        """With phase, team, user and current result, leaving the large per-clip scores unloaded."""
        # The judge runs point here (judging depends on submissions, not the reverse): reached by their relation.
        judge_runs = self.model._meta.get_field("judge_runs").related_model
        return (
            self.select_related("phase__challenge", "team", "user", "current_result")
            .defer("current_result__per_clip")
            .prefetch_related(
                # The failure details can be long; lists need only the counts.
                models.Prefetch("judge_runs", queryset=judge_runs.objects.defer("failures"))
            )
        )


class Submission(models.Model):
    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="submissions")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="submissions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submissions")
    language = models.CharField(max_length=2, choices=Language.choices)

    #: The participant's file as uploaded, kept as their record; scoring reads ``parsed_file``.
    predictions_file = models.FileField(upload_to=upload_path, max_length=300)
    parsed_file = models.FileField(
        upload_to=parsed_path,
        max_length=300,
        blank=True,
        help_text=_(
            "The narrations read from the upload when it was validated, as compact JSON (clip id -> narration): "
            "what scoring and the judge read. Empty for an upload stored before it was kept, until it is scored."
        ),
    )
    original_filename = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_format = models.CharField(max_length=8, blank=True)

    method_name = models.CharField(max_length=100, blank=True)
    method_description = models.TextField(blank=True, max_length=5000)
    paper_url = models.URLField(blank=True, max_length=500)
    code_url = models.URLField(blank=True, max_length=500)
    is_public = models.BooleanField(default=False)
    #: Method tags, shown on the boards and filterable there. None: the team did not say.
    uses_character_info = models.BooleanField(
        null=True,
        blank=True,
        help_text=_("The method uses the character names the benchmark gives. Empty: not said."),
    )
    external_data = models.BooleanField(
        null=True,
        blank=True,
        help_text=_("The method was trained on data other than the benchmark's. Empty: not said."),
    )
    model_size = models.CharField(max_length=40, blank=True, help_text=_('The model\'s size, e.g. "7B".'))

    # Set by organizers only (admin actions, with an audit record).
    moderation = models.CharField(max_length=16, choices=Moderation.choices, default=Moderation.NONE, blank=True)
    moderation_reason = models.TextField(blank=True, help_text=_("Shown to the team and to organizers."))
    is_baseline = models.BooleanField(
        default=False, help_text=_("Shown marked as a baseline and never ranked as a team's entry.")
    )
    baseline_citation = models.CharField(max_length=500, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    #: Shown to the team when the run failed: what happened, and what to do.
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    #: While running: when the current attempt may be presumed dead.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    current_result = models.ForeignKey(
        "Result",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The result the boards show."),
    )

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["phase", "team", "created_at"], name="submission_quota_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.team} {self.phase} {self.language} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (Status.FINISHED, Status.FAILED, Status.CANCELLED)


class ResultManager(models.Manager):
    def get_queryset(self):
        # Per-clip scores are large and private: load them only when asked.
        return super().get_queryset().defer("per_clip", "clip_stats", "breakdown")


class Result(models.Model):
    """One scoring run's numbers. Re-scoring adds a result; old ones stay for audit."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="results")
    metrics = models.JSONField(help_text=_("metric name -> value over the whole split"))
    per_clip = models.JSONField(help_text=_("clip id -> metric -> value; never shown for hidden phases"))
    clips = models.PositiveIntegerField()
    missing_clips = models.PositiveIntegerField(default=0)
    evaluation_version = models.CharField(max_length=40)
    protocol = models.CharField(max_length=60)
    versions = models.JSONField(default=dict)
    reference_hash = models.CharField(max_length=80)
    duration_seconds = models.FloatField()
    #: The judge behind the stage metrics: model, temperature, templates, parsers and their signature.
    judge = models.JSONField(default=dict, blank=True)
    #: The re-score request this result answers (empty for the upload's own run): a message
    #: delivered twice finds its result already there and adds none.
    rescore_key = models.CharField(max_length=64, blank=True, default="")
    #: The classic metrics' per-clip sufficient statistics (``evaluation.stats.ClipStats`` JSON: BLEU's
    #: n-gram counts, METEOR's per-segment statistics): corpus BLEU and METEOR of any resample, exactly.
    #: Null for a result scored before they were kept (``manage.py fill_intervals`` scores it again).
    clip_stats = models.JSONField(null=True, blank=True, help_text=_("never shown: per-clip statistics"))
    #: {"method": BootstrapMethod, "metrics": {metric: [low, high]}}: 95% bootstrap intervals, computed
    #: when the result is written (``boards.intervals``), never on a page view.
    intervals = models.JSONField(default=dict, blank=True)
    #: {"movies": [...], "genres": [...]}: every metric per movie and per genre (``boards.breakdowns``),
    #: computed when the result is written; who sees it is ``rules.can_view_breakdown``.
    breakdown = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ResultManager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "rescore_key"],
                condition=~models.Q(rescore_key=""),
                name="one_result_per_rescore_request",
            )
        ]

    def __str__(self) -> str:
        return f"result of #{self.submission_id} ({self.evaluation_version})"
