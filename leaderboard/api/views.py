"""API views: parse the request, call a service or selector, render the answer."""

from __future__ import annotations

from django.core.cache import cache
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from leaderboard.boards import conditional, public_cache
from leaderboard.boards import selectors as boards
from leaderboard.boards.breakdowns import visible_breakdown
from leaderboard.boards.disclosure import rounds_for
from leaderboard.challenges.models import Challenge, ReferenceSet
from leaderboard.challenges.selectors import phase_languages, phase_or_404
from leaderboard.judging.selectors import published_judge
from leaderboard.operations import selectors as operations
from leaderboard.submissions import intake, payloads, rules, selectors
from leaderboard.submissions.files import validation_options
from leaderboard.submissions.models import Result, Submission
from leaderboard.teams import services as team_services
from leaderboard.teams.services import team_of
from leaderboard.throttling import UploadThrottle
from leaderboard.uploads import oversized_upload

from .pagination import LimitOffsetPagination
from .renderers import BoardCSVRenderer, BoardLatexRenderer
from .schema import CSRF, READ, READ_OBJECT, error_responses
from .serializers import (
    BoardJudgeSerializer,
    BreakdownSerializer,
    ChallengeSerializer,
    ClipListSerializer,
    JudgeTemplatesField,
    JudgeTemplatesSerializer,
    LeaderboardRowSerializer,
    PhaseApprovalSerializer,
    SubmissionCreateSerializer,
    SubmissionSerializer,
    SubmissionUpdateSerializer,
    form_context,
)


def refusal_response(refusal: rules.Refusal) -> Response:
    return Response(payloads.refusal_payload(refusal), status=refusal.http_status)


def rejection_response(problems) -> Response:
    return Response(payloads.rejection_payload(problems), status=status.HTTP_400_BAD_REQUEST)


def field_errors_response(errors: dict) -> Response:
    return Response(payloads.field_errors_payload(errors), status=status.HTTP_400_BAD_REQUEST)


@csrf_exempt  # nothing to protect: a POST answers the 404 too, not the CSRF failure page
def not_found(request, path: str = ""):
    """Any other URL under /api/v1/: the API's JSON 404, not the site's HTML page."""
    return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=status.HTTP_404_NOT_FOUND)


@extend_schema(responses={200: ChallengeSerializer(many=True), **error_responses(*READ)})
class ChallengeList(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ChallengeSerializer
    pagination_class = None
    queryset = Challenge.objects.prefetch_related("phases__boards", "phases__reference_sets")


@extend_schema(responses={200: ChallengeSerializer, **error_responses(*READ_OBJECT)})
class ChallengeDetail(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = ChallengeSerializer
    lookup_field = "slug"
    lookup_url_kwarg = "challenge"
    queryset = ChallengeList.queryset


class PhaseSubmissions(APIView):
    """Upload narrations to a phase, or list your team's submissions to it."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]
    # Uploads per user, the site's form and this endpoint together, accepted or not (settings.THROTTLE_RATES).
    throttle_classes = [UploadThrottle]

    @extend_schema(
        request={"multipart/form-data": SubmissionCreateSerializer},
        responses={
            201: inline_serializer("Created", {"id": serializers.IntegerField(), "status": serializers.CharField()}),
            **error_responses(
                *READ_OBJECT,
                413,
                415,
                e400="invalid fields or predictions file, every problem listed (code language_mismatch: the "
                "narrations' script is not the chosen language's; send confirm_language=true if it is)",
                e403="no team, an unverified email address (code email_unverified), the phase is not open, "
                f"(code near_duplicate) the file barely differs from an earlier one of the team, or {CSRF}",
                e429="the team's daily or total limit is used up, or (code throttled, with Retry-After) too many "
                "uploads from this account",
            ),
        },
    )
    def post(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        fields = SubmissionCreateSerializer(data=request.data, context=form_context(request.data))
        if not fields.is_valid():
            # Why the team may not submit comes before what is wrong with the fields.
            refusal = rules.submission_refusal(request.user, phase_obj)
            return refusal_response(refusal) if refusal else field_errors_response(fields.errors)
        try:
            # The rules are asked in here: early, then under the team's row lock.
            submission = intake.submit_upload(
                user=request.user,
                phase=phase_obj,
                language=fields.validated_data["language"],
                upload=request.FILES.get("predictions"),
                oversized_bytes=oversized_upload(request, "predictions"),
                method=intake.MethodInfo.from_fields(fields.validated_data),
                confirm_language=fields.validated_data["confirm_language"],
            )
        except intake.SubmissionRefused as exc:
            return refusal_response(exc.refusal)
        except intake.SubmissionRejected as exc:
            return rejection_response(exc.problems)
        return Response({"id": submission.pk, "status": submission.status}, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: SubmissionSerializer(many=True), **error_responses(*READ_OBJECT)})
    def get(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        submissions = selectors.team_submissions(request.user).filter(phase=phase_obj)
        return Response(SubmissionSerializer(submissions, many=True, context={"request": request}).data)


class PhaseQuota(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Quota",
                {
                    "can_submit": serializers.BooleanField(),
                    "reason": serializers.CharField(allow_null=True),
                    "left_today": serializers.IntegerField(allow_null=True),
                    "left_total": serializers.IntegerField(allow_null=True),
                    "resets_at": serializers.DateTimeField(),
                    "summary": serializers.CharField(
                        allow_null=True, help_text='"n left today, resets at HH:MM UTC; n left in total"'
                    ),
                },
            ),
            **error_responses(*READ_OBJECT),
        }
    )
    def get(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        refusal = rules.submission_refusal(request.user, phase_obj)
        team = team_of(request.user)
        usage = rules.quota(team, phase_obj) if team else None
        return Response(
            {
                "can_submit": refusal is None,
                "reason": refusal.message if refusal else None,
                "left_today": usage.left_today if usage else None,
                "left_total": usage.left_total if usage else None,
                "resets_at": usage.resets_at if usage else None,
                "summary": usage.summary if usage else None,
            }
        )


class PhaseClips(APIView):
    """The clip ids a predictions file for one language of a phase must hold, for offline validation.

    Public and hidden phases alike, to whoever may see the phase: ids only, never a reference's text.
    ``reference_hash`` is the hash the boards already publish (``versions.references``): a SHA-256 of the
    whole reference set, which tells who holds the same references nothing about a single text.
    ``validation`` holds the settings the upload's validator runs with, so that ``evaluation.validate``
    run offline on these ids gives the upload's answer.
    """

    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: ClipListSerializer,
            **error_responses(*READ_OBJECT, e404="no such phase, or no references in that language"),
        }
    )
    def get(self, request, challenge: str, phase: str, language: str):
        phase_obj = phase_or_404(challenge, phase)
        if language not in phase_languages(phase_obj):  # compared in Python: any text at all answers 404
            raise Http404
        reference_set = get_object_or_404(
            ReferenceSet.objects.only("narrations", "content_hash"), phase=phase_obj, language=language
        )
        clips = sorted(reference_set.narrations)
        body = {
            "challenge": challenge,
            "phase": phase,
            "language": language,
            "clips": clips,
            "count": len(clips),
            "reference_hash": reference_set.content_hash,
            "validation": validation_options(phase_obj, language),
        }
        return Response(ClipListSerializer(body).data)


@extend_schema(responses={200: SubmissionSerializer(many=True), **error_responses(*READ, 400)})
class SubmissionList(generics.ListAPIView):
    """Your team's submissions, newest first."""

    serializer_class = SubmissionSerializer
    pagination_class = LimitOffsetPagination

    def get_queryset(self):
        return selectors.team_submissions(self.request.user)


class SubmissionDetail(APIView):
    """One submission of your team. Change its method fields or public flag with PATCH."""

    def get_submission(self, request, submission_id: int) -> Submission:
        submission = get_object_or_404(Submission.objects.with_details(), pk=submission_id)
        if not rules.can_view_submission(request.user, submission):
            raise Http404  # not 403: do not confirm that the id exists
        return submission

    @extend_schema(responses={200: SubmissionSerializer, **error_responses(*READ_OBJECT)})
    def get(self, request, submission_id: int):
        submission = self.get_submission(request, submission_id)
        return Response(SubmissionSerializer(submission, context={"request": request}).data)

    @extend_schema(
        request=SubmissionUpdateSerializer,
        responses={
            200: SubmissionSerializer,
            **error_responses(
                *READ_OBJECT,
                413,
                415,
                e400="invalid fields, every problem listed, or none at all",
                e403="not your team's, (code board_frozen) the public flag of an entry submitted before the "
                f"phase's freeze is fixed, or {CSRF}",
            ),
        },
    )
    def patch(self, request, submission_id: int):
        submission = self.get_submission(request, submission_id)
        if not rules.can_change_submission(request.user, submission):
            return Response({"detail": _("Only the team can change its submission.")}, status=status.HTTP_403_FORBIDDEN)
        if not request.data:
            # The schema asks for at least one field (minProperties): an empty or unreadable body changes nothing.
            return Response(
                {"detail": _("Nothing to change: send at least one field."), "code": "invalid_fields"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        fields = SubmissionUpdateSerializer(
            submission, data=request.data, partial=True, context=form_context(request.data)
        )
        if not fields.is_valid():
            return field_errors_response(fields.errors)
        current = {
            name: getattr(submission, name)
            for name in (
                "method_name",
                "method_description",
                "paper_url",
                "code_url",
                "is_public",
                "uses_character_info",
                "external_data",
                "model_size",
            )
        }
        try:
            submission = intake.update_method(
                submission, intake.MethodInfo.from_fields(current | fields.validated_data)
            )
        except intake.ChangeRefused as exc:
            return refusal_response(exc.refusal)
        return Response(SubmissionSerializer(submission, context={"request": request}).data)


class SubmissionClipScores(APIView):
    """Per-clip scores, only for phases whose references are public."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "ClipScores",
                {"clip_scores": serializers.DictField(child=serializers.DictField(child=serializers.FloatField()))},
            ),
            **error_responses(
                *READ_OBJECT,
                e403="the phase's references are hidden: no per-clip scores",
                e404="no such submission of your team, or no result yet",
            ),
        }
    )
    def get(self, request, submission_id: int):
        submission = get_object_or_404(Submission.objects.select_related("phase"), pk=submission_id)
        if not rules.can_view_submission(request.user, submission):
            raise Http404
        if not rules.can_view_clip_scores(request.user, submission):
            return Response(
                {"detail": _("Per-clip scores are not shown for phases with hidden references.")},
                status=status.HTTP_403_FORBIDDEN,
            )
        if submission.current_result_id is None:
            return Response({"detail": _("This submission has no result yet.")}, status=status.HTTP_404_NOT_FOUND)
        result = Result.objects.only("per_clip").get(pk=submission.current_result_id)
        return Response({"clip_scores": result.per_clip})


class SubmissionBreakdown(APIView):
    """Per-movie and per-genre scores of a submission's current result.

    Its team and the phase's organizers always; anyone for a public entry of the boards when the phase's
    references are public or its organizers publish them (``public_movie_breakdown``). On a phase with
    hidden references the scores are rounded to the boards' precision for all but its organizers.
    """

    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: BreakdownSerializer,
            **error_responses(
                *READ_OBJECT,
                e403="a public entry, but the organizers of its phase (hidden references) do not publish per-movie "
                "scores",
                e404="no such submission that you may see, or no result yet",
            ),
        }
    )
    def get(self, request, submission_id: int):
        submission = get_object_or_404(Submission.objects.select_related("phase", "team"), pk=submission_id)
        if not rules.can_view_breakdown(request.user, submission):
            if rules.is_public_entry(request.user, submission):
                return Response(
                    {"detail": _("The organizers of this phase do not publish per-movie scores.")},
                    status=status.HTTP_403_FORBIDDEN,
                )
            raise Http404  # not 403: do not confirm that the id exists
        if submission.current_result_id is None:
            return Response({"detail": _("This submission has no result yet.")}, status=status.HTTP_404_NOT_FOUND)
        result = Result.objects.only("breakdown").get(pk=submission.current_result_id)
        body = {
            "submission": submission.pk,
            "result": result.pk,
            "rounded": rounds_for(request.user, submission.phase),
            **visible_breakdown(result.breakdown, submission.phase, request.user),
        }
        return Response(BreakdownSerializer(body).data)


class JudgeTemplatesRenderer(JSONRenderer):
    """``?format=templates``: the judge's templates alone, a file for ``--judge-templates``."""

    format = "templates"


class KnownFormatNegotiation(DefaultContentNegotiation):
    """``?format=`` names one of the view's renderers, or answers 400 (DRF: an empty one is ignored, others 404)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        requested = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        known = [renderer.format for renderer in renderers]
        if requested is not None and requested not in known:
            raise ParseError(
                _("Unknown format %(format)s: use %(formats)s.")
                % {"format": repr(requested[:40]), "formats": " or ".join(f"?format={name}" for name in known)},
                code="invalid_format",
            )
        return super().select_renderer(request, renderers, format_suffix)


_DATETIME = serializers.DateTimeField()


def _float_map(values):
    return {str(name): None if value is None else float(value) for name, value in values.items()}


def row_documents(rows) -> list[dict]:
    """``LeaderboardRowSerializer(rows, many=True).data``, made without a serializer per row (the same
    fields, order and types: a board has hundreds of rows, and the serializer's machinery was most of
    the board API's time)."""

    def text(value):
        return None if value is None else str(value)

    def boolean(value):
        return None if value is None else bool(value)

    documents = []
    for row in rows:
        documents.append(
            {
                "rank": None if row.rank is None else int(row.rank),
                "team": text(row.team),
                "method_name": text(row.method_name),
                "submission_id": None if row.submission_id is None else int(row.submission_id),
                "submitted_at": None if row.submitted_at is None else _DATETIME.to_representation(row.submitted_at),
                "scores": None if row.scores is None else _float_map(row.scores),
                "paper_url": text(row.paper_url),
                "code_url": text(row.code_url),
                "uses_character_info": boolean(row.uses_character_info),
                "external_data": boolean(row.external_data),
                "model_size": text(row.model_size),
                "missing_clips": None if row.missing_clips is None else int(row.missing_clips),
                "judge_model": text(row.judge_model),
                "other_judge_scores": None if row.other_judge_scores is None else _float_map(row.other_judge_scores),
                "other_judge": text(row.other_judge),
                "baseline": boolean(row.baseline),
                "citation": text(row.citation),
                "moderation": text(row.moderation),
                "moderation_reason": text(row.moderation_reason),
                "intervals": None
                if row.intervals is None
                else {
                    str(name): None if bounds is None else [None if b is None else float(b) for b in bounds]
                    for name, bounds in row.intervals.items()
                },
                "tie_group": None if row.tie_group is None else int(row.tie_group),
                "p_value_vs_above": None if row.p_value_vs_above is None else float(row.p_value_vs_above),
            }
        )
    return documents


class Leaderboard(APIView):
    """A ranked stage board of one phase and language, with intervals and tie groups. Public.

    ``?format=csv`` and ``?format=latex`` answer the same board as a file (``boards.exports``).
    """

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, BoardCSVRenderer, BoardLatexRenderer]
    content_negotiation_class = KnownFormatNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=[JSONRenderer.format, BoardCSVRenderer.format, BoardLatexRenderer.format],
                description="json (the default): the document; csv: its rows, each metric with its interval's ends "
                "and the versions on every row; latex: a booktabs table, intervals as ±, tie groups marked",
            ),
            *(
                OpenApiParameter(
                    parameter,
                    str,
                    enum=list(boards.TAG_FILTER_VALUES),
                    description=f"only the rows whose method tag {field_name} is yes (true) or no (false); rows "
                    "that do not say are left out. The rows keep the ranks and tie groups of the whole board",
                )
                for parameter, field_name in boards.TAG_FILTERS.items()
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-latex"): OpenApiTypes.STR,
            (200, "application/json"): inline_serializer(
                "Leaderboard",
                {
                    "challenge": serializers.CharField(),
                    "phase": serializers.CharField(),
                    "language": serializers.CharField(),
                    "stage": serializers.CharField(),
                    "title": serializers.CharField(),
                    "primary_metric": serializers.CharField(),
                    "columns": serializers.ListField(child=serializers.CharField()),
                    "judge": BoardJudgeSerializer(
                        help_text="the judge whose L1/L2 the rows rank: on a frozen board, the one in effect then"
                    ),
                    "frozen_at": serializers.DateTimeField(
                        allow_null=True, help_text="the phase's freeze date once it has passed; null before"
                    ),
                    "as_of": serializers.DateTimeField(
                        allow_null=True,
                        help_text="the moment the rows stand at: the freeze date for the public, null for the live "
                        "board (organizers always see it live)",
                    ),
                    "interval_method": serializers.DictField(
                        help_text='how the rows\' intervals and tie groups are made: {"method": "bootstrap", "unit": '
                        '"clip" | "movie", "resamples", "seed", "level", "version"}'
                    ),
                    "versions": serializers.DictField(
                        child=serializers.CharField(),
                        help_text="evaluation (the scorer), protocol (the classic metrics), bootstrap, references "
                        "(the hash of the references the rows are scored against)",
                    ),
                    "rows": LeaderboardRowSerializer(many=True),
                },
            ),
            **error_responses(
                *READ_OBJECT,
                400,
                e400="an unknown ?format= (code invalid_format), or a ?character_info= or ?external_data= other "
                "than yes or no (code invalid_filter)",
                e404="no such phase, language or board, or one you may not see",
            ),
        },
    )
    def get(self, request, challenge: str, phase: str, language: str, stage: str):
        file_format = request.accepted_renderer.format
        # An anonymous visitor's board, kept whole by this process while no write changed it: no query.
        kept = public_cache.cached_response(request, f"api:{file_format}")
        if kept is not None:
            return kept
        phase_obj = phase_or_404(challenge, phase)
        board = boards.visible_board(request.user, phase_obj, language, stage)
        try:
            filters = boards.tag_filters(request.query_params)
        except boards.InvalidTagFilter as exc:
            raise ParseError(str(exc), code="invalid_filter") from None
        state = boards.board_state(phase_obj, language, viewer=request.user)
        # The document depends on the viewer only through ``state``; a signed-in viewer's stays private.
        etag = conditional.board_etag(request, phase_obj, board, language, state, kind=f"api:{file_format}")
        modified = conditional.last_modified(state)
        shared = not request.user.is_authenticated
        unchanged = conditional.not_modified(request, etag, modified)
        if unchanged is not None:
            unchanged = conditional.set_validators(
                unchanged, etag, modified, shared=shared, vary=("Accept", "Authorization")
            )
            public_cache.keep(request, unchanged, changes_at=public_cache.phase_dates(phase_obj))
            return unchanged
        headers = {}
        if file_format != JSONRenderer.format:
            extension = "tex" if file_format == BoardLatexRenderer.format else file_format
            headers["Content-Disposition"] = (
                f'attachment; filename="{challenge}-{phase}-{language}-{stage}.{extension}"'
            )
        # The document is the same for every request with the same ETag (it names all the document shows):
        # made once per process, kept briefly. A write that moves the board changes the ETag.
        cache_key = f"board-document:{etag}" if etag else None
        document = cache.get(cache_key) if cache_key else None
        if document is None:
            view = boards.board_view(phase_obj, language, board, viewer=request.user, state=state)
            document = {
                "challenge": challenge,
                "phase": phase,
                "language": language,
                "stage": stage,
                "title": board.title,
                "primary_metric": board.primary_metric,
                "columns": board.columns,
                "judge": dict(BoardJudgeSerializer(view.judge).data),
                "frozen_at": view.frozen_at,
                "as_of": view.as_of,
                "interval_method": boards.method_of(phase_obj).to_dict(),
                "versions": boards.board_versions(phase_obj, language),
                "rows": row_documents(boards.filtered_rows(view.rows, filters)),
            }
            if cache_key:
                cache.set(cache_key, document, conditional.DOCUMENT_CACHE_SECONDS)
        response = Response(document, headers=headers)
        response = conditional.set_validators(response, etag, modified, shared=shared, vary=("Accept", "Authorization"))
        public_cache.keep_after_render(request, response, changes_at=public_cache.phase_dates(phase_obj))
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Only a board is a file: an error (as the schema says) or an OPTIONS answer is JSON whatever was asked for.
        renderer = getattr(request, "accepted_renderer", None)
        not_a_board = response.status_code >= 400 or request.method not in ("GET", "HEAD")
        if not_a_board and renderer is not None and renderer.format != JSONRenderer.format:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


PhaseJudgeDocument = inline_serializer(
    "PhaseJudge",
    {
        "challenge": serializers.CharField(),
        "phase": serializers.CharField(),
        "languages": serializers.DictField(
            help_text="language -> {configured, reason, model, temperature, max_tokens, response_format, "
            "signature, stages: stage -> {template: hash, parser, source: builtin | phase}}; never the "
            "endpoint or its key"
        ),
        "templates": JudgeTemplatesField(
            help_text="stage -> language -> {system, user, parser}, ours or the phase's own: exactly what "
            "--judge-templates FILE reads (also alone with ?format=templates)"
        ),
        "templates_url": serializers.CharField(help_text="this document's templates alone"),
    },
)


class PhaseJudge(APIView):
    """The phase's judge, to reproduce its L1 and L2 offline. Whoever may see the phase's boards.

    ``?format=templates`` answers only ``templates``: save it and pass it to
    ``python -m evaluation score --judge-templates FILE``.
    """

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, JudgeTemplatesRenderer]
    content_negotiation_class = KnownFormatNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=[JSONRenderer.format, JudgeTemplatesRenderer.format],
                description="templates: answer the templates alone, the file for --judge-templates "
                "(the JudgeTemplates schema); json (the default): the whole document (PhaseJudge)",
            )
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="PhaseJudgeOrTemplates",
                resource_type_field_name=None,
                serializers=[
                    PhaseJudgeDocument,
                    JudgeTemplatesSerializer,
                ],
            ),
            **error_responses(
                *READ_OBJECT,
                400,
                e400="an unknown ?format= (code invalid_format)",
                e404="no such phase, or its boards are not shown to you",
            ),
        },
    )
    def get(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        if not rules.can_view_board(request.user, phase_obj):
            raise Http404
        published = published_judge(phase_obj, phase_languages(phase_obj))
        if request.accepted_renderer.format == JudgeTemplatesRenderer.format:
            return Response(published["templates"])
        templates_url = request.build_absolute_uri(
            reverse("api:phase-judge", args=[challenge, phase]) + "?format=" + JudgeTemplatesRenderer.format
        )
        return Response({"challenge": challenge, "phase": phase, **published, "templates_url": templates_url})


class Status(APIView):
    """The scoring queue: counts for everyone; running work, the oldest waiting and workers for organizers."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Status",
                {
                    "queue_depths": serializers.DictField(
                        child=serializers.IntegerField(),
                        allow_null=True,
                        help_text="messages waiting per Celery queue; null when the broker cannot be reached",
                    ),
                    "waiting": serializers.IntegerField(),
                    "running": serializers.IntegerField(),
                    "judging": serializers.IntegerField(),
                    "typical_wait_seconds": serializers.IntegerField(allow_null=True),
                    "checked_at": serializers.DateTimeField(),
                    "organizer": serializers.DictField(
                        required=False,
                        help_text="site-wide organizers only: running_submissions, running_judge_runs, oldest_waiting, "
                        "workers (null when unknown), judge_queued",
                    ),
                },
            ),
            **error_responses(*READ),
        }
    )
    def get(self, request):
        if not rules.can_view_operations(request.user):
            return Response(operations.as_data(operations.public_status()))
        detail = operations.as_data(operations.organizer_status())
        return Response({**detail.pop("public"), "organizer": detail})


class PhaseApprovalRequest(APIView):
    """Your team's approval for a phase that requires it: GET its status and note, POST to ask for it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: PhaseApprovalSerializer, **error_responses(*READ_OBJECT)})
    def get(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        approval = team_services.approval_for(request.user, phase_obj)
        return Response(PhaseApprovalSerializer(PhaseApprovalSerializer.describe(phase_obj, approval)).data)

    @extend_schema(
        request=None,
        responses={
            200: PhaseApprovalSerializer,
            **error_responses(
                *READ_OBJECT, e400="no team, a banned team, or no approval needed (code approval_refused)", e403=CSRF
            ),
        },
    )
    def post(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        try:
            approval = team_services.request_approval(request.user, phase_obj)
        except team_services.TeamError as exc:
            return Response({"detail": str(exc), "code": "approval_refused"}, status=status.HTTP_400_BAD_REQUEST)
        return Response(PhaseApprovalSerializer(PhaseApprovalSerializer.describe(phase_obj, approval)).data)
