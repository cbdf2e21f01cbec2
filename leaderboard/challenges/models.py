"""A challenge, its phases, their reference sets and their stage boards."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from evaluation.judge.prompts import TemplateError, templates_from_data
from evaluation.metrics import METRICS
from evaluation.references import reference_hash


class Language(models.TextChoices):
    ZH = "zh", _("Chinese")
    EN = "en", _("English")


class BoardVisibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    HIDDEN_UNTIL = "hidden_until", _("Hidden until a date, then public")
    ORGANIZERS = "organizers", _("Organizers only")


#: Limits the models and the bundle loader share (``bundles`` reads them from here).
BOARD_PRECISION_MAX = 10
JUDGE_MAX_TOKENS_MIN = 1

#: The only variables a phase may name for its judge key: the value is sent to the phase's endpoint,
#: so a phase must not be able to send ``DATABASE_URL`` or ``SECRET_KEY`` to a server of its choosing.
JUDGE_API_KEY_ENV = re.compile(r"JUDGE_API_KEY(_[A-Z0-9_]+)?")
JUDGE_API_KEY_ENV_HELP = "JUDGE_API_KEY or JUDGE_API_KEY_<SUFFIX> (uppercase letters, digits, _)"


def is_judge_api_key_env(name: str) -> bool:
    """Whether a phase may name ``name`` as the environment variable holding its judge key."""
    return JUDGE_API_KEY_ENV.fullmatch(name) is not None


#: Phase fields whose every change is recorded in the audit log, old -> new, with the reason:
#: by the admin's change form and by a bundle reload alike.
AUDITED_PHASE_FIELDS = (
    "starts_at",
    "ends_at",
    "max_submissions_per_day",
    "max_submissions_total",
    "board_visibility",
    "boards_public_from",
    "frozen_at",
    "requires_approval",
    "references_public",
    "show_all_entries",
    "allow_partial",
    "judge_enabled",
    "judge_base_url",
    "judge_model",
    "judge_api_key_env",
    "judge_temperature",
    "judge_max_tokens",
    "judge_templates",
)


class Challenge(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text=_("Markdown."))
    terms = models.TextField(blank=True, help_text=_("Markdown. Participants accept them when they submit."))
    languages = models.JSONField(
        default=list, blank=True, help_text=_('The languages scored, e.g. ["zh", "en"]. Empty: those with references.')
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ChallengePage(models.Model):
    """A description page of a challenge (overview, data, evaluation, ...), in Markdown."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="pages")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text=_("Markdown; rendered with raw HTML removed."))
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["challenge", "order", "slug"]
        constraints = [models.UniqueConstraint(fields=["challenge", "slug"], name="unique_page_slug")]

    def __str__(self) -> str:
        return f"{self.challenge.slug}/{self.slug}"


class Phase(models.Model):
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="phases")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: open-ended."))
    references_public = models.BooleanField(
        default=False,
        help_text=_("A validation phase: participants may see per-clip scores. Off for a test phase."),
    )
    max_submissions_per_day = models.PositiveIntegerField(
        null=True, blank=True, default=5, help_text=_("Per team; the day resets at 00:00 UTC. Empty: no limit.")
    )
    max_submissions_total = models.PositiveIntegerField(
        null=True, blank=True, default=100, help_text=_("Per team. Empty: no limit.")
    )
    board_visibility = models.CharField(
        max_length=16,
        choices=BoardVisibility.choices,
        default=BoardVisibility.PUBLIC,
        help_text=_("Who sees this phase's boards. Organizers always do."),
    )
    boards_public_from = models.DateTimeField(
        null=True, blank=True, help_text=_("With “hidden until a date”: when the boards become public.")
    )
    frozen_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("After this moment the public boards show the state at this moment; organizers see the live one."),
    )
    requires_approval = models.BooleanField(
        default=False, help_text=_("Teams submit only after an organizer approves them for this phase.")
    )
    show_all_entries = models.BooleanField(
        default=False, help_text=_("Show every public entry, not only each team's best.")
    )
    allow_partial = models.BooleanField(
        default=False, help_text=_("Accept files that miss clips; missing clips are scored as empty narrations.")
    )

    # The LLM judge of L1 and L2. Empty fields take the JUDGE_* settings.
    judge_enabled = models.BooleanField(
        default=True, help_text=_("Compute L1 and L2 with the LLM judge, when one is configured.")
    )
    judge_base_url = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("OpenAI-compatible endpoint, e.g. http://vllm:8000/v1. Empty: JUDGE_BASE_URL."),
    )
    judge_model = models.CharField(max_length=200, blank=True, help_text=_("Empty: JUDGE_MODEL."))
    judge_api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text=_(
            "The environment variable that holds this phase's API key on the judge workers. "
            "Empty: JUDGE_API_KEY. Keys are never stored in the database."
        ),
    )
    judge_temperature = models.FloatField(null=True, blank=True, help_text=_("Empty: JUDGE_TEMPERATURE (0)."))
    judge_max_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(JUDGE_MAX_TOKENS_MIN)],
        help_text=_("Empty: JUDGE_MAX_TOKENS."),
    )
    judge_templates = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            'Prompt templates replacing ours: {"l1": {"zh": {"system": "...", "user": "...{reference}...'
            '{prediction}...", "parser": "json" or "comma"}}}. Stages and languages left out keep ours. '
            "Published with the boards: put nothing secret in them."
        ),
    )

    class Meta:
        ordering = ["challenge", "order", "starts_at"]
        constraints = [models.UniqueConstraint(fields=["challenge", "slug"], name="unique_phase_slug")]

    def __str__(self) -> str:
        return f"{self.challenge.slug}/{self.slug}"

    def clean(self) -> None:
        errors = {}
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The phase must end after it starts.")
        if self.board_visibility == BoardVisibility.HIDDEN_UNTIL and self.boards_public_from is None:
            errors["boards_public_from"] = _("Give the date the boards become public.")
        elif self.board_visibility != BoardVisibility.HIDDEN_UNTIL and self.boards_public_from is not None:
            errors["boards_public_from"] = _("Only with “hidden until a date, then public”: clear it.")
        if self.judge_base_url and not self.judge_base_url.startswith(("http://", "https://")):
            errors["judge_base_url"] = _("Start with http:// or https://.")
        if self.judge_api_key_env and not is_judge_api_key_env(self.judge_api_key_env):
            errors["judge_api_key_env"] = _("Only %(names)s, e.g. JUDGE_API_KEY_TEST.") % {
                "names": JUDGE_API_KEY_ENV_HELP
            }
        if self.judge_temperature is not None and not 0 <= self.judge_temperature <= 2:
            errors["judge_temperature"] = _("Between 0 and 2.")
        try:
            templates_from_data(self.judge_templates)
        except TemplateError as exc:
            errors["judge_templates"] = str(exc)
        if errors:
            raise ValidationError(errors)

    def boards_public(self, at=None) -> bool:
        """Whether visitors and participants see the boards (organizers always do)."""
        if self.board_visibility == BoardVisibility.PUBLIC:
            return True
        if self.board_visibility == BoardVisibility.HIDDEN_UNTIL:
            return self.boards_public_from is not None and (at or timezone.now()) >= self.boards_public_from
        return False

    def is_frozen(self, at=None) -> bool:
        return self.frozen_at is not None and (at or timezone.now()) >= self.frozen_at

    def state_at(self, at=None) -> str:
        """Which side of the window ``at`` (default now) is on: "upcoming", "open" or "closed".

        The one definition of the window: ``starts_at`` <= at < ``ends_at`` (no end: open-ended).
        ``is_open``, ``state`` and ``rules.submission_refusal`` all ask it.
        """
        at = at or timezone.now()
        if at < self.starts_at:
            return "upcoming"
        if self.ends_at is not None and at >= self.ends_at:
            return "closed"
        return "open"

    def is_open(self, at=None) -> bool:
        return self.state_at(at) == "open"

    @property
    def state(self) -> str:
        return self.state_at()


class ReferenceSet(models.Model):
    """The hidden (or, on a validation phase, public) narrations a phase scores against.

    Narrations change through ``services.load_bundle``, which keeps a copy of
    each version in the file storage (``services.archive_references``).
    """

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="reference_sets")
    language = models.CharField(max_length=2, choices=Language.choices)
    narrations = models.JSONField(help_text=_("clip id -> reference narration"))
    content_hash = models.CharField(max_length=80, editable=False)
    clip_count = models.PositiveIntegerField(editable=False)
    source = models.CharField(max_length=300, blank=True, help_text=_("Where the references were read from."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["phase", "language"]
        constraints = [models.UniqueConstraint(fields=["phase", "language"], name="unique_reference_language")]

    def __str__(self) -> str:
        return f"{self.phase} {self.language} ({self.clip_count} clips)"

    def save(self, *args, **kwargs) -> None:
        # The hash and count always describe the narrations actually stored.
        self.content_hash = reference_hash(self.narrations)
        self.clip_count = len(self.narrations)
        super().save(*args, **kwargs)


class Board(models.Model):
    """A stage leaderboard: one primary metric, then tie-breaking columns."""

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="boards")
    key = models.SlugField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
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

    def clean(self) -> None:
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
