"""The API's public shapes. Validation of contents lives in services."""

from __future__ import annotations

from collections.abc import Mapping

from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leaderboard.boards.disclosure import disclosed_intervals, disclosed_scores
from leaderboard.boards.models import Board
from leaderboard.challenges.models import Challenge, Phase
from leaderboard.challenges.selectors import phase_languages
from leaderboard.judging.selectors import submission_judge
from leaderboard.operations.selectors import queue_position
from leaderboard.stored_texts import shown_text
from leaderboard.submissions import rules
from leaderboard.submissions.models import Submission


class StrictBooleanField(serializers.BooleanField):
    """A boolean as the schema says: JSON ``true``/``false``, or ``true``/``false`` in a form (any case).

    DRF's own also takes ``1``, ``"0"``, ``"yes"``, ``"on"``...: a typo of a flag that publishes an entry
    would pass silently. Give the serializer ``context={"form": True}`` when the data is a form.
    """

    default_error_messages = {"invalid": gettext_lazy('Must be true or false (in a form: the text "true" or "false").')}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and self.context.get("form") and data.lower() in ("true", "false"):
            return data.lower() == "true"
        self.fail("invalid", input=data)


class StrictNullBooleanField(StrictBooleanField):
    """A method tag: ``true``, ``false`` or ``null`` (not said); in a form the text ``true``, ``false`` or ``null``.

    Left out of an upload: not said. An empty form value is refused, like any other text that is not one of those.
    """

    default_error_messages = {
        "invalid": gettext_lazy('Must be true, false or null (in a form: the text "true", "false" or "null").')
    }

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def get_value(self, dictionary):
        value = super().get_value(dictionary)
        if value is None and self.context.get("form") and dictionary.get(self.field_name) == "":
            return ""  # DRF reads an empty form value as null: here it is refused
        return value

    def to_internal_value(self, data):
        if isinstance(data, str) and self.context.get("form") and data.lower() == "null":
            return None
        return super().to_internal_value(data)


#: What a team says of its method: the fields an upload takes and a change may set.
METHOD_FIELDS = [
    "method_name",
    "method_description",
    "paper_url",
    "code_url",
    "public",
    "uses_character_info",
    "external_data",
    "model_size",
]
METHOD_TAG_HELP = {
    "uses_character_info": "method tag: the method uses the character names the benchmark gives; null: not said",
    "external_data": "method tag: the method was trained on data other than the benchmark's; null: not said",
}


def method_tag_field(name: str, *, on_create: bool) -> StrictNullBooleanField:
    """A yes/no method tag, as an upload (not said unless given) and a change take it."""
    return StrictNullBooleanField(help_text=METHOD_TAG_HELP[name], **({"default": None} if on_create else {}))


class TextOnlyMixin:
    """A serializer whose text fields take text only, within their length, as the schema says.

    DRF's ``CharField`` turns a JSON number into text (``"method_name": 0`` becomes ``"0"``), and checks
    the length after trimming the spaces around: here a value that is not a string, or is longer than
    the field's maximum as sent, is refused with the other invalid fields.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for name, field in self.fields.items():
                if not isinstance(field, serializers.CharField) or data.get(name) is None:
                    continue
                value = data[name]
                if not isinstance(value, str):
                    errors[name] = [_("Must be text, not %(type)s.") % {"type": type(value).__name__}]
                elif field.max_length is not None and len(value) > field.max_length:
                    # DRF's own message (its catalogs translate it).
                    errors[name] = [
                        _("Ensure this field has no more than {max_length} characters.").format(
                            max_length=field.max_length
                        )
                    ]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def form_context(data) -> dict:
    """The serializer context that tells ``StrictBooleanField`` whether ``data`` (``request.data``) is a form."""
    return {"form": isinstance(data, QueryDict)}


#: ``stage -> language -> {system, user, parser}``: the judge's prompt templates, as --judge-templates reads them.
JUDGE_TEMPLATES_SCHEMA = {
    "type": "object",
    "description": "stage -> language -> {system, user, parser}, ours or the phase's own: exactly what "
    "--judge-templates FILE reads",
    "additionalProperties": {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {"system": {"type": "string"}, "user": {"type": "string"}, "parser": {"type": "string"}},
            "required": ["system", "user", "parser"],
        },
    },
}


@extend_schema_field(JUDGE_TEMPLATES_SCHEMA)
class JudgeTemplatesField(serializers.DictField):
    pass


class JudgeTemplatesSerializer(serializers.Serializer):
    """The judge's templates alone (``?format=templates``); its schema is ``JUDGE_TEMPLATES_SCHEMA`` (schema.py)."""


#: ``language -> field -> text``: the organizers' texts in other languages than the fields' own (``challenges.texts``).
TRANSLATIONS_SCHEMA = {
    "type": "object",
    "description": 'The texts in other languages, language -> field -> text, e.g. {"zh": {"title": "验证集"}}: '
    "title, description and the like hold the English (or the one text given for every language); a "
    "field missing here has no translation, so show the field's own text. Only zh, for now.",
    "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
    "example": {"zh": {"title": "验证集", "description": "参考解说公开；各队可查看每个片段的得分。"}},
}


@extend_schema_field(TRANSLATIONS_SCHEMA)
class TranslationsField(serializers.ReadOnlyField):
    """A model's ``translations``, read-only: the texts of the fields ``texts`` (those the serializer shows)."""

    def __init__(self, texts: tuple[str, ...], **kwargs):
        self.texts = texts
        super().__init__(**kwargs)

    def to_representation(self, value):
        shown = {}
        for language, texts in (value or {}).items():
            if not isinstance(texts, Mapping):
                continue
            kept = {name: text for name, text in texts.items() if name in self.texts and isinstance(text, str) and text}
            if kept:
                shown[language] = kept
        return shown


class BoardSerializer(serializers.ModelSerializer):
    columns = serializers.ListField(child=serializers.CharField(), read_only=True)
    translations = TranslationsField(("title", "description"))

    class Meta:
        model = Board
        fields = ["key", "title", "description", "translations", "primary_metric", "secondary_metrics", "columns"]


class PhaseSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    languages = serializers.SerializerMethodField()
    boards = BoardSerializer(many=True, read_only=True)
    translations = TranslationsField(("title", "description"))

    class Meta:
        model = Phase
        fields = [
            "slug",
            "title",
            "description",
            "translations",
            "state",
            "starts_at",
            "ends_at",
            "references_public",
            "max_submissions_per_day",
            "max_submissions_total",
            "board_visibility",
            "boards_public_from",
            "frozen_at",
            "requires_approval",
            "show_all_entries",
            "allow_partial",
            "min_changed_clips",
            "public_movie_breakdown",
            "languages",
            "boards",
        ]

    def get_languages(self, phase: Phase) -> list[str]:
        return phase_languages(phase)


class ChallengeSerializer(serializers.ModelSerializer):
    phases = PhaseSerializer(many=True, read_only=True)
    translations = TranslationsField(("title", "description"))

    class Meta:
        model = Challenge
        fields = ["slug", "title", "description", "translations", "phases"]


class ValidationOptionsSerializer(serializers.Serializer):
    allow_partial = serializers.BooleanField(help_text="whether a file may leave clips out")
    max_file_bytes = serializers.IntegerField(allow_null=True)
    max_narration_chars = serializers.IntegerField(allow_null=True)
    split_name = serializers.CharField(help_text="how the problems name the reference set")


class ClipListSerializer(serializers.Serializer):
    """A phase's clip ids in one language: what a predictions file must narrate. Never a reference's text."""

    challenge = serializers.CharField()
    phase = serializers.CharField()
    language = serializers.CharField()
    clips = serializers.ListField(child=serializers.CharField(), help_text="the clip ids, sorted")
    count = serializers.IntegerField()
    reference_hash = serializers.CharField(
        help_text="the reference set's hash, as the boards publish it (versions.references) and results carry it"
    )
    validation = ValidationOptionsSerializer(
        help_text="the upload validator's settings: pass them to evaluation.validate with the clip ids"
    )


class SubmissionCreateSerializer(TextOnlyMixin, serializers.ModelSerializer):
    """The multipart form of an upload. The file itself is checked by the evaluation validator."""

    predictions = serializers.FileField(
        write_only=True, required=False, help_text="JSON {clip_id: narration} or JSON Lines, UTF-8"
    )
    public = StrictBooleanField(source="is_public", default=False, help_text="show it on the public boards")
    uses_character_info = method_tag_field("uses_character_info", on_create=True)
    external_data = method_tag_field("external_data", on_create=True)
    confirm_language = StrictBooleanField(
        write_only=True,
        default=False,
        help_text="the file is in `language` although its script looks like the other language's: lifts the "
        "language_mismatch refusal (a Chinese file sent as en, or an English one as zh)",
    )

    class Meta:
        model = Submission
        fields = ["language", "predictions", *METHOD_FIELDS, "confirm_language"]


class SubmissionUpdateSerializer(TextOnlyMixin, serializers.ModelSerializer):
    """The fields a team may change on its submission: at least one."""

    public = StrictBooleanField(source="is_public")
    uses_character_info = method_tag_field("uses_character_info", on_create=False)
    external_data = method_tag_field("external_data", on_create=False)

    class Meta:
        model = Submission
        fields = METHOD_FIELDS


class SubmissionSerializer(serializers.ModelSerializer):
    challenge = serializers.CharField(source="phase.challenge.slug")
    phase = serializers.CharField(source="phase.slug")
    team = serializers.CharField(source="team.name")
    user = serializers.CharField(source="user.username")
    public = serializers.BooleanField(source="is_public")
    status_display = serializers.CharField(source="get_status_display")
    scores = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()
    file = serializers.SerializerMethodField()
    clip_scores_url = serializers.SerializerMethodField()
    judge = serializers.SerializerMethodField(
        help_text="the LLM judge stage (L1, L2): status, progress (clips judged / total), failures; "
        "calls and tokens for organizers: accounting (the newest run) and accounting_total (every run of the "
        "submission, re-scores included, with runs: their number)"
    )
    queue_position = serializers.SerializerMethodField(
        help_text="while waiting: 1 + the submissions waiting ahead of this one; null otherwise"
    )
    error = serializers.SerializerMethodField(help_text="why scoring failed, in the request's language; else empty")

    class Meta:
        model = Submission
        fields = [
            "id",
            "challenge",
            "phase",
            "language",
            "team",
            "user",
            "status",
            "status_display",
            "error",
            "scores",
            "result",
            "method_name",
            "method_description",
            "paper_url",
            "code_url",
            "public",
            "uses_character_info",
            "external_data",
            "model_size",
            "file",
            "created_at",
            "started_at",
            "finished_at",
            "clip_scores_url",
            "judge",
            "queue_position",
            "moderation",
            "moderation_reason",
        ]
        read_only_fields = ["moderation", "moderation_reason"]

    def get_error(self, submission: Submission) -> str:
        return shown_text(submission.error)

    def get_queue_position(self, submission: Submission) -> int | None:
        return queue_position(submission)

    def get_scores(self, submission: Submission) -> dict[str, float]:
        result = submission.current_result
        if result is None:
            return {}
        # On a hidden phase, rounded to the boards' precision for everyone but its organizers.
        request = self.context.get("request")
        return disclosed_scores(result.metrics, submission.phase, request.user if request else None)

    def get_result(self, submission: Submission) -> dict | None:
        result = submission.current_result
        if result is None:
            return None
        request = self.context.get("request")
        return {
            "clips": result.clips,
            "missing_clips": result.missing_clips,
            "evaluation_version": result.evaluation_version,
            "protocol": result.protocol,
            "versions": result.versions,
            "reference_hash": result.reference_hash,
            "duration_seconds": result.duration_seconds,
            "created_at": result.created_at,
            # 95% bootstrap intervals (rounded like the scores on a hidden phase) and how they were made.
            "intervals": disclosed_intervals(
                (result.intervals or {}).get("metrics", {}), submission.phase, request.user if request else None
            ),
            "interval_method": (result.intervals or {}).get("method"),
        }

    def get_judge(self, submission: Submission) -> dict | None:
        request = self.context.get("request")
        return submission_judge(
            submission, with_accounting=bool(request and rules.can_view_judge_accounting(request.user, submission))
        )

    def get_file(self, submission: Submission) -> dict:
        return {
            "name": submission.original_filename,
            "size": submission.file_size,
            "sha256": submission.file_sha256,
            "format": submission.file_format,
        }

    def get_clip_scores_url(self, submission: Submission) -> str | None:
        request = self.context.get("request")
        if request is None or submission.current_result is None:
            return None
        if not rules.can_view_clip_scores(request.user, submission):
            return None
        return request.build_absolute_uri(reverse("api:submission-clip-scores", args=[submission.pk]))


class LeaderboardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True, help_text="null for a baseline (never ranked)")
    team = serializers.CharField()
    method_name = serializers.CharField()
    submission_id = serializers.IntegerField(allow_null=True, help_text="null for an external baseline")
    submitted_at = serializers.DateTimeField(allow_null=True)
    scores = serializers.DictField(child=serializers.FloatField())
    paper_url = serializers.CharField()
    code_url = serializers.CharField()
    uses_character_info = serializers.BooleanField(
        allow_null=True, help_text="method tag: uses the benchmark's character names; null: not said"
    )
    external_data = serializers.BooleanField(
        allow_null=True, help_text="method tag: trained on data other than the benchmark's; null: not said"
    )
    model_size = serializers.CharField(
        help_text='method tag: the model\'s size as the team gave it ("7B"); may be empty'
    )
    missing_clips = serializers.IntegerField()
    judge_model = serializers.CharField(help_text="the model that judged this entry's L1 and L2, if any")
    other_judge_scores = serializers.DictField(
        child=serializers.FloatField(),
        help_text="L1/L2 from a judge configuration other than the board's: shown, never ranked",
    )
    other_judge = serializers.CharField(
        help_text="set with other_judge_scores: other_configuration (an entry judged with another configuration "
        "of this board's judge) or reported_by_source (an external baseline's L1/L2 as its source reported "
        "them, from the source's own judge); empty otherwise",
    )
    baseline = serializers.BooleanField(help_text="a baseline: placed by score, without a rank, not a team's entry")
    citation = serializers.CharField(help_text="where a baseline's numbers come from")
    moderation = serializers.CharField(
        help_text="hidden, disqualified or banned when the public does not see this entry; such rows reach "
        "organizers (every one) and the entry's own team (its members), never anyone else; empty otherwise"
    )
    moderation_reason = serializers.CharField(help_text="the organizers' reason, with moderation")
    intervals = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text="metric -> [low, high]: the 95% bootstrap confidence interval of each score shown (method: "
        "the board's interval_method); empty for a baseline or a result scored before intervals were kept",
    )
    tie_group = serializers.IntegerField(
        allow_null=True,
        help_text="ranked rows with equal tie_group are statistically tied on the primary metric (a paired "
        "bootstrap against the row above gives p >= 0.05); the rank of the group's first row; null unranked",
    )
    p_value_vs_above = serializers.FloatField(
        allow_null=True,
        help_text="the paired bootstrap's p-value of the primary metric against the ranked row above; null for "
        "the first ranked row, an unranked row, or a pair that cannot be tested",
    )


class BoardJudgeSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="empty when the phase has no judge")
    temperature = serializers.FloatField()
    signature = serializers.CharField(help_text="hash of model, temperature, templates and parsers")
    stages = serializers.DictField(help_text="stage -> {template: hash, parser}")
    reason = serializers.CharField(help_text="why there is no judge, if there is none")
    current = serializers.BooleanField(
        help_text="whether this is the phase's judge now; false on a frozen board judged by an earlier configuration"
    )


class PhaseApprovalSerializer(serializers.Serializer):
    """A team's request to enter a phase that requires approval, and the organizers' decision."""

    required = serializers.BooleanField(help_text="whether the phase requires approval at all")
    status = serializers.CharField(allow_null=True, help_text="pending, approved, rejected; null before asking")
    status_display = serializers.CharField(allow_null=True)
    note = serializers.CharField(help_text="the organizers' note with their decision")
    requested_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)

    @staticmethod
    def describe(phase: Phase, approval) -> dict:
        return {
            "required": phase.requires_approval,
            "status": approval.status if approval else None,
            "status_display": approval.get_status_display() if approval else None,
            "note": approval.note if approval else "",
            "requested_at": approval.requested_at if approval else None,
            "decided_at": approval.decided_at if approval else None,
        }


_BREAKDOWN_SCORES = serializers.DictField(
    child=serializers.FloatField(allow_null=True),
    help_text="metric -> value on these clips: corpus BLEU and METEOR of the clips, the mean per-clip ROUGE-L, "
    "CIDEr (document frequencies of the whole reference set) and judge scores",
)


class BreakdownMovieSerializer(serializers.Serializer):
    movie_id = serializers.CharField(help_text="the part of a clip id before the first _")
    title = serializers.CharField(help_text="from the release's metadata; empty when it has none")
    genres = serializers.ListField(child=serializers.CharField(), help_text="the movie's genres, in Chinese")
    clips = serializers.IntegerField()
    scores = _BREAKDOWN_SCORES


class BreakdownGenreSerializer(serializers.Serializer):
    genre = serializers.CharField(help_text="the genre, in Chinese, as the release names it")
    genre_en = serializers.CharField(help_text="its English name (the Chinese one when the project has none)")
    movies = serializers.IntegerField()
    clips = serializers.IntegerField(help_text="every clip of its movies; a movie of two genres counts in both")
    scores = _BREAKDOWN_SCORES


class BreakdownSerializer(serializers.Serializer):
    """A submission's per-movie and per-genre scores (``boards.breakdowns``), as its viewer may see them."""

    submission = serializers.IntegerField()
    result = serializers.IntegerField(allow_null=True, help_text="the result they are of: the current one")
    rounded = serializers.BooleanField(
        help_text="scores rounded to the boards' precision (a phase with hidden references, for all but organizers)"
    )
    movies = BreakdownMovieSerializer(
        many=True, help_text="by movie id; empty for a result scored before they were kept"
    )
    genres = BreakdownGenreSerializer(many=True, help_text="most clips first")
