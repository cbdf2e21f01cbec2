"""The judge stage of a result, and the cache of the judge's answers."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from evaluation.judge import JudgeIdentity
from leaderboard.submissions.models import Result, Submission


class JudgeStatus(models.TextChoices):
    NOT_CONFIGURED = "not_configured", _("No judge configured")
    QUEUED = "queued", _("Waiting for the judge")
    RUNNING = "running", _("Being judged")
    COMPLETE = "complete", _("Judged")
    INCOMPLETE = "incomplete", _("Incomplete")
    CANCELLED = "cancelled", _("Cancelled")


#: The judge stage's state machine; ``lifecycle.transition`` checks every change against it.
JUDGE_TRANSITIONS: dict[str, frozenset[str]] = {
    # A judge configured later: an organizer resumes it.
    JudgeStatus.NOT_CONFIGURED: frozenset({JudgeStatus.QUEUED}),
    JudgeStatus.QUEUED: frozenset({JudgeStatus.RUNNING, JudgeStatus.CANCELLED, JudgeStatus.NOT_CONFIGURED}),
    # running -> running: a lease that ran out (its worker died) is taken over.
    JudgeStatus.RUNNING: frozenset(
        {JudgeStatus.RUNNING, JudgeStatus.COMPLETE, JudgeStatus.INCOMPLETE, JudgeStatus.CANCELLED}
    ),
    # incomplete -> running: the automatic resume; -> queued: an organizer's.
    JudgeStatus.INCOMPLETE: frozenset({JudgeStatus.RUNNING, JudgeStatus.QUEUED, JudgeStatus.CANCELLED}),
    JudgeStatus.COMPLETE: frozenset(),
    JudgeStatus.CANCELLED: frozenset({JudgeStatus.QUEUED}),
}

ACCOUNTING_FIELDS = ("calls", "cache_hits", "retries", "reasks", "prompt_tokens", "completion_tokens")


class JudgeRun(models.Model):
    """Judging one result: progress, what failed, and what it cost."""

    result = models.OneToOneField(Result, on_delete=models.CASCADE, related_name="judge_run")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="judge_runs")
    status = models.CharField(max_length=16, choices=JudgeStatus.choices, db_index=True)
    #: Shown to the team: why there are no stage scores (yet). Never holds judge output.
    reason = models.TextField(blank=True)
    #: Make the result the submission's current one when judging completes (re-scoring).
    promote_when_complete = models.BooleanField(default=False)

    #: Model, base URL, temperature, templates and parsers, and their signature.
    judge = models.JSONField(default=dict, blank=True)
    signature = models.CharField(max_length=80, blank=True)

    total_clips = models.PositiveIntegerField(default=0)
    judged_clips = models.PositiveIntegerField(default=0)
    failed_judgments = models.PositiveIntegerField(default=0)
    #: [{clip_id, stage, reason, raw_text}] of the last attempt. Organizers only: raw text may quote references.
    failures = models.JSONField(default=list, blank=True)

    calls = models.PositiveIntegerField(default=0)
    cache_hits = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    reasks = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    #: Judgments this run got a valid answer for from the judge, over all its attempts: it paid for
    #: them, so a resume that finds them in the cache does not count them as cache hits.
    answered_judgments = models.PositiveIntegerField(default=0)

    attempts = models.PositiveIntegerField(default=0)
    #: Attempts that took over from a worker that died holding the run.
    takeovers = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: Automatic resumes used so far, and when the next one runs.
    automatic_resumes = models.PositiveIntegerField(default=0)
    resume_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"judge run of #{self.submission_id} ({self.status}, {self.judged_clips}/{self.total_clips})"

    @property
    def progress(self) -> float:
        return self.judged_clips / self.total_clips if self.total_clips else 0.0

    @property
    def identity(self) -> JudgeIdentity:
        """The stored judge identity, read back (``judge`` also holds the endpoint, which is not part of it)."""
        return JudgeIdentity.from_dict(self.judge)

    @property
    def model(self) -> str:
        return self.identity.model

    def accounting(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ACCOUNTING_FIELDS} | {"failures": self.failed_judgments}


class JudgeAnswer(models.Model):
    """One cached judgment. The key hashes model, template, parser, reference, prediction and temperature."""

    key = models.CharField(max_length=64, primary_key=True)
    stage = models.CharField(max_length=4)
    model = models.CharField(max_length=200)
    template_hash = models.CharField(max_length=80)
    parser = models.CharField(max_length=16)
    scores = models.JSONField()
    #: The judge's words. They may quote the hidden reference: never shown outside the admin.
    raw_text = models.TextField()
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["model", "template_hash"], name="judge_answer_config_idx")]

    def __str__(self) -> str:
        return f"{self.stage} {self.model} {self.key[:12]}"
