"""API views: parse the request, call a service or selector, render the answer."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from leaderboard.boards import selectors as boards
from leaderboard.challenges.models import Challenge
from leaderboard.challenges.selectors import phase_languages, phase_or_404
from leaderboard.judging.selectors import published_judge
from leaderboard.operations import selectors as operations
from leaderboard.submissions import intake, payloads, rules, selectors
from leaderboard.submissions.models import Result, Submission
from leaderboard.teams import services as team_services
from leaderboard.teams.services import team_of
from leaderboard.uploads import oversized_upload

from .serializers import (
    BoardJudgeSerializer,
    ChallengeSerializer,
    LeaderboardRowSerializer,
    PhaseApprovalSerializer,
    SubmissionCreateSerializer,
    SubmissionSerializer,
    SubmissionUpdateSerializer,
)

ErrorSerializer = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(required=False),
        "errors": serializers.ListField(child=serializers.DictField(), required=False),
    },
)


def refusal_response(refusal: rules.Refusal) -> Response:
    return Response(payloads.refusal_payload(refusal), status=refusal.http_status)


def rejection_response(problems) -> Response:
    return Response(payloads.rejection_payload(problems), status=status.HTTP_400_BAD_REQUEST)


def field_errors_response(errors: dict) -> Response:
    return Response(payloads.field_errors_payload(errors), status=status.HTTP_400_BAD_REQUEST)


class ChallengeList(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ChallengeSerializer
    pagination_class = None
    queryset = Challenge.objects.prefetch_related("phases__boards", "phases__reference_sets")


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

    @extend_schema(
        request={"multipart/form-data": SubmissionCreateSerializer},
        responses={
            201: inline_serializer("Created", {"id": serializers.IntegerField(), "status": serializers.CharField()}),
            400: OpenApiResponse(
                ErrorSerializer, description="invalid fields or predictions file, every problem listed"
            ),
            401: ErrorSerializer,
            403: OpenApiResponse(ErrorSerializer, description="no team, or the phase is not open"),
            429: OpenApiResponse(ErrorSerializer, description="the team's daily or total limit is used up"),
        },
    )
    def post(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        fields = SubmissionCreateSerializer(data=request.data)
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
            )
        except intake.SubmissionRefused as exc:
            return refusal_response(exc.refusal)
        except intake.SubmissionRejected as exc:
            return rejection_response(exc.problems)
        return Response({"id": submission.pk, "status": submission.status}, status=status.HTTP_201_CREATED)

    @extend_schema(responses=SubmissionSerializer(many=True))
    def get(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        submissions = selectors.team_submissions(request.user).filter(phase=phase_obj)
        return Response(SubmissionSerializer(submissions, many=True, context={"request": request}).data)


class PhaseQuota(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
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
        )
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


class SubmissionList(generics.ListAPIView):
    """Your team's submissions, newest first."""

    serializer_class = SubmissionSerializer

    def get_queryset(self):
        return selectors.team_submissions(self.request.user)


class SubmissionDetail(APIView):
    """One submission of your team. Change its method fields or public flag with PATCH."""

    def get_submission(self, request, submission_id: int) -> Submission:
        submission = get_object_or_404(Submission.objects.with_details(), pk=submission_id)
        if not rules.can_view_submission(request.user, submission):
            raise Http404  # not 403: do not confirm that the id exists
        return submission

    @extend_schema(responses=SubmissionSerializer)
    def get(self, request, submission_id: int):
        submission = self.get_submission(request, submission_id)
        return Response(SubmissionSerializer(submission, context={"request": request}).data)

    @extend_schema(
        request=SubmissionUpdateSerializer,
        responses={
            200: SubmissionSerializer,
            400: OpenApiResponse(ErrorSerializer, description="invalid fields"),
            403: OpenApiResponse(
                ErrorSerializer,
                description="not your team's, or (code board_frozen) the public flag of an entry submitted "
                "before the phase's freeze is fixed",
            ),
        },
    )
    def patch(self, request, submission_id: int):
        submission = self.get_submission(request, submission_id)
        if not rules.can_change_submission(request.user, submission):
            return Response({"detail": "Only the team can change its submission."}, status=status.HTTP_403_FORBIDDEN)
        fields = SubmissionUpdateSerializer(submission, data=request.data, partial=True)
        if not fields.is_valid():
            return field_errors_response(fields.errors)
        current = {
            name: getattr(submission, name)
            for name in ("method_name", "method_description", "paper_url", "code_url", "is_public")
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
        responses=inline_serializer(
            "ClipScores",
            {"clip_scores": serializers.DictField(child=serializers.DictField(child=serializers.FloatField()))},
        )
    )
    def get(self, request, submission_id: int):
        submission = get_object_or_404(Submission.objects.select_related("phase"), pk=submission_id)
        if not rules.can_view_submission(request.user, submission):
            raise Http404
        if not rules.can_view_clip_scores(request.user, submission):
            return Response(
                {"detail": "Per-clip scores are not shown for phases with hidden references."},
                status=status.HTTP_403_FORBIDDEN,
            )
        if submission.current_result_id is None:
            return Response({"detail": "This submission has no result yet."}, status=status.HTTP_404_NOT_FOUND)
        result = Result.objects.only("per_clip").get(pk=submission.current_result_id)
        return Response({"clip_scores": result.per_clip})


class Leaderboard(APIView):
    """A ranked stage board of one phase and language. Public."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
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
                "rows": LeaderboardRowSerializer(many=True),
            },
        )
    )
    def get(self, request, challenge: str, phase: str, language: str, stage: str):
        phase_obj = phase_or_404(challenge, phase)
        board = boards.visible_board(request.user, phase_obj, language, stage)
        view = boards.board_view(phase_obj, language, board, viewer=request.user)
        return Response(
            {
                "challenge": challenge,
                "phase": phase,
                "language": language,
                "stage": stage,
                "title": board.title,
                "primary_metric": board.primary_metric,
                "columns": board.columns,
                "judge": BoardJudgeSerializer(view.judge).data,
                "frozen_at": view.frozen_at,
                "as_of": view.as_of,
                "rows": LeaderboardRowSerializer(view.rows, many=True).data,
            }
        )


class JudgeTemplatesRenderer(JSONRenderer):
    """``?format=templates``: the judge's templates alone, a file for ``--judge-templates``."""

    format = "templates"


class PhaseJudge(APIView):
    """The phase's judge, to reproduce its L1 and L2 offline. Whoever may see the phase's boards.

    ``?format=templates`` answers only ``templates``: save it and pass it to
    ``python -m evaluation score --judge-templates FILE``.
    """

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, JudgeTemplatesRenderer]

    @extend_schema(
        responses=inline_serializer(
            "PhaseJudge",
            {
                "challenge": serializers.CharField(),
                "phase": serializers.CharField(),
                "languages": serializers.DictField(
                    help_text="language -> {configured, reason, model, temperature, max_tokens, response_format, "
                    "signature, stages: stage -> {template: hash, parser, source: builtin | phase}}; never the "
                    "endpoint or its key"
                ),
                "templates": serializers.DictField(
                    help_text="stage -> language -> {system, user, parser}, ours or the phase's own: exactly what "
                    "--judge-templates FILE reads (also alone with ?format=templates)"
                ),
                "templates_url": serializers.CharField(help_text="this document's templates alone"),
            },
        )
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
        responses=inline_serializer(
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
                    help_text="organizers only: running_submissions, running_judge_runs, oldest_waiting, "
                    "workers (null when unknown), judge_queued",
                ),
            },
        )
    )
    def get(self, request):
        if not rules.is_organizer(request.user):
            return Response(operations.as_data(operations.public_status()))
        detail = operations.as_data(operations.organizer_status())
        return Response({**detail.pop("public"), "organizer": detail})


class PhaseApprovalRequest(APIView):
    """Your team's approval for a phase that requires it: GET its status and note, POST to ask for it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PhaseApprovalSerializer)
    def get(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        approval = team_services.approval_for(request.user, phase_obj)
        return Response(PhaseApprovalSerializer(PhaseApprovalSerializer.describe(phase_obj, approval)).data)

    @extend_schema(
        request=None,
        responses={
            200: PhaseApprovalSerializer,
            400: OpenApiResponse(ErrorSerializer, description="no team, a banned team, or no approval needed"),
        },
    )
    def post(self, request, challenge: str, phase: str):
        phase_obj = phase_or_404(challenge, phase)
        try:
            approval = team_services.request_approval(request.user, phase_obj)
        except team_services.TeamError as exc:
            return Response({"detail": str(exc), "code": "approval_refused"}, status=status.HTTP_400_BAD_REQUEST)
        return Response(PhaseApprovalSerializer(PhaseApprovalSerializer.describe(phase_obj, approval)).data)
