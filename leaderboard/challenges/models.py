"""A challenge, its phases, their reference sets and their stage boards."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from evaluation.judge.prompts import TemplateError, templates_from_data
from evaluation.references import reference_hash

from .texts import translations_problems


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
#: by the admin's change form and by a bundle reload alike. Every ``JudgeSettings`` field is
#: audited too (``JUDGE_SETTINGS_FIELDS``), named ``judge_<field>`` in the events.
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
    "min_changed_clips",
    "bootstrap_unit",
    "public_movie_breakdown",
)

#: The settings of a phase's judge, in the order the admin, the audit log and bundles list them.
JUDGE_SETTINGS_FIELDS = ("enabled", "base_url", "model", "api_key_env", "temperature", "max_tokens", "templates")


#: What ``translations`` says of itself in the admin: the Chinese texts of the fields beside it (``texts``).
TRANSLATIONS_HELP = _(
    'The Chinese texts, e.g. {"zh": {"title": "...", "description": "..."}}. A text left out is shown from '
    "its own field, in every language."
)
#: The longest a title may be, in any language.
TITLE_MAX_LENGTH = 200


def translations_field() -> models.JSONField:
    """The ``translations`` of a model whose readers see some fields in the active language (``texts``)."""
    return models.JSONField(default=dict, blank=True, help_text=TRANSLATIONS_HELP)


def check_translations(instance: models.Model, max_lengths: dict[str, int | None]) -> dict[str, list[str]]:
    """``clean``'s complaints about ``instance.translations``, keyed by field, for ``ValidationError``."""
    problems = translations_problems(instance.translations, max_lengths)
    return {"translations": problems} if problems else {}


class BootstrapUnit(models.TextChoices):
    CLIP = "clip", _("Clips")
    MOVIE = "movie", _("Movies")


class Challenge(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text=_("Markdown."))
    terms = models.TextField(blank=True, help_text=_("Markdown. Participants accept them when they submit."))
    #: The Chinese title, description and terms (``texts``).
    translations = translations_field()
    languages = models.JSONField(
        default=list, blank=True, help_text=_('The languages scored, e.g. ["zh", "en"]. Empty: those with references.')
    )
    created_at = models.DateTimeField(auto_now_add=True)
    #: Organizer powers on this challenge alone, outside the admin (``submissions.rules.is_organizer``):
    #: its teams' submissions, its hidden and live boards, its judge accounting, its digest.
    organizers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="organized_challenges",
        help_text=_(
            "Who organizes this challenge on the site: they see its submissions, hidden and live boards and judge "
            "costs. The admin is separate: it needs Django permissions."
        ),
    )

    class Meta:
        ordering = ["title"]
        permissions = [
            (
                "organize_all",
                "Organize every challenge on the site (submissions, hidden boards, judge costs, workers)",
            )
        ]

    def __str__(self) -> str:
        return self.title

    #: The fields readers see in their language, and their maximum lengths (``texts``).
    TRANSLATED_FIELDS = {"title": TITLE_MAX_LENGTH, "description": None, "terms": None}

    def clean(self) -> None:
        errors = check_translations(self, self.TRANSLATED_FIELDS)
        if errors:
            raise ValidationError(errors)


class ChallengePage(models.Model):
    """A description page of a challenge (overview, data, evaluation, ...), in Markdown."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="pages")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text=_("Markdown; rendered with raw HTML removed."))
    order = models.PositiveIntegerField(default=0)
    #: The Chinese title and body (``texts``).
    translations = translations_field()

    class Meta:
        ordering = ["challenge", "order", "slug"]
        constraints = [models.UniqueConstraint(fields=["challenge", "slug"], name="unique_page_slug")]

    def __str__(self) -> str:
        return f"{self.challenge.slug}/{self.slug}"

    TRANSLATED_FIELDS = {"title": TITLE_MAX_LENGTH, "body": None}

    def clean(self) -> None:
        errors = check_translations(self, self.TRANSLATED_FIELDS)
        if errors:
            raise ValidationError(errors)


class Phase(models.Model):
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="phases")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    #: The Chinese title and description (``texts``).
    translations = translations_field()
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
    #: Near-duplicate refusal (``submissions.duplicates``): an upload whose narrations differ from one of the
    #: team's earlier charged submissions (same phase and language) in fewer clips than this is refused.
    min_changed_clips = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Refuse an upload that differs from one of the team's earlier submissions (same language) in fewer "
            "clips than this: pairs of nearly equal files rebuild hidden per-clip scores. 0: off. Empty: the "
            "default, off with public references; with hidden ones a tenth of the clips, at least 2, at most 50."
        ),
    )

    #: What the confidence intervals and tie tests of the phase's results resample (``evaluation.intervals``).
    bootstrap_unit = models.CharField(
        max_length=8,
        choices=BootstrapUnit.choices,
        default=BootstrapUnit.CLIP,
        help_text=_(
            # xgettext:no-python-format
            "What the 95% confidence intervals and the tie tests resample: clips, or whole movies. Clips of one "
            "film are correlated, so resampling movies gives wider, more honest intervals."
        ),
    )
    #: Who sees a public entry's per-movie and per-genre scores (``rules.can_view_breakdown``).
    public_movie_breakdown = models.BooleanField(
        default=False,
        help_text=_(
            "With hidden references: the public sees the per-movie and per-genre scores of public entries "
            "(rounded as the boards are). The team and organizers always see them; with public references "
            "the public sees them whatever this says."
        ),
    )

    class Meta:
        ordering = ["challenge", "order", "starts_at"]
        constraints = [models.UniqueConstraint(fields=["challenge", "slug"], name="unique_phase_slug")]

    def __str__(self) -> str:
        return f"{self.challenge.slug}/{self.slug}"

    TRANSLATED_FIELDS = {"title": TITLE_MAX_LENGTH, "description": None}

    def clean(self) -> None:
        errors = check_translations(self, self.TRANSLATED_FIELDS)
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The phase must end after it starts.")
        if self.board_visibility == BoardVisibility.HIDDEN_UNTIL and self.boards_public_from is None:
            errors["boards_public_from"] = _("Give the date the boards become public.")
        elif self.board_visibility != BoardVisibility.HIDDEN_UNTIL and self.boards_public_from is not None:
            errors["boards_public_from"] = _("Only with “hidden until a date, then public”: clear it.")
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


class JudgeSettings(models.Model):
    """The LLM judge of L1 and L2 for one phase. Empty fields take the JUDGE_* settings.

    A phase without a row has the defaults (judge on, everything from JUDGE_*):
    ``selectors.judge_settings_of`` is how every reader gets a phase's settings,
    stored or not, so a row is written only when an organizer or a bundle sets something.
    """

    phase = models.OneToOneField(Phase, on_delete=models.CASCADE, related_name="judge_settings")
    enabled = models.BooleanField(
        default=True, help_text=_("Compute L1 and L2 with the LLM judge, when one is configured.")
    )
    base_url = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("OpenAI-compatible endpoint, e.g. http://vllm:8000/v1. Empty: JUDGE_BASE_URL."),
    )
    model = models.CharField(max_length=200, blank=True, help_text=_("Empty: JUDGE_MODEL."))
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text=_(
            "The environment variable that holds this phase's API key on the judge workers. "
            "Empty: JUDGE_API_KEY. Keys are never stored in the database."
        ),
    )
    temperature = models.FloatField(null=True, blank=True, help_text=_("Empty: JUDGE_TEMPERATURE (0)."))
    max_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(JUDGE_MAX_TOKENS_MIN)],
        help_text=_("Empty: JUDGE_MAX_TOKENS."),
    )
    templates = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            'Prompt templates replacing ours: {"l1": {"zh": {"system": "...", "user": "...{reference}...'
            '{prediction}...", "parser": "json" or "comma"}}}. Stages and languages left out keep ours. '
            "Published with the boards: put nothing secret in them."
        ),
    )

    class Meta:
        verbose_name = _("judge settings")
        verbose_name_plural = _("judge settings")

    def __str__(self) -> str:
        return f"{self.phase} judge"

    def clean(self) -> None:
        errors = {}
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            errors["base_url"] = _("Start with http:// or https://.")
        if self.api_key_env and not is_judge_api_key_env(self.api_key_env):
            errors["api_key_env"] = _("Only %(names)s, e.g. JUDGE_API_KEY_TEST.") % {"names": JUDGE_API_KEY_ENV_HELP}
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            errors["temperature"] = _("Between 0 and 2.")
        try:
            templates_from_data(self.templates)
        except TemplateError as exc:
            errors["templates"] = str(exc)
        if errors:
            raise ValidationError(errors)


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


class Movie(models.Model):
    """A film's metadata from the annotation release (``metadata/<movie_id>.json``): per-movie and
    per-genre breakdowns (``boards.breakdowns``) name and group the movies of a result by it.

    Filled by the bundle loader from a Movie101v2 folder's ``metadata/`` for the movies of the phases
    it loads (``import_movie101v2``, ``load_demo``); a clip's movie is its id before the first ``_``.
    """

    movie_id = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=300, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    #: The release's ``genre`` list, in Chinese, in its order (``genres.genre_en`` names them in English).
    genres = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["movie_id"]

    def __str__(self) -> str:
        return f"{self.movie_id} {self.title}".strip()
