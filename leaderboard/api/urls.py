from django.urls import path, re_path

from . import views

app_name = "api"

urlpatterns = [
    path("challenges/", views.ChallengeList.as_view(), name="challenge-list"),
    path("challenges/<slug:challenge>/", views.ChallengeDetail.as_view(), name="challenge-detail"),
    path(
        "challenges/<slug:challenge>/phases/<slug:phase>/submissions/",
        views.PhaseSubmissions.as_view(),
        name="phase-submissions",
    ),
    path("challenges/<slug:challenge>/phases/<slug:phase>/quota/", views.PhaseQuota.as_view(), name="phase-quota"),
    path(
        "challenges/<slug:challenge>/phases/<slug:phase>/approval/",
        views.PhaseApprovalRequest.as_view(),
        name="phase-approval",
    ),
    path("challenges/<slug:challenge>/phases/<slug:phase>/judge/", views.PhaseJudge.as_view(), name="phase-judge"),
    path(
        "challenges/<slug:challenge>/phases/<slug:phase>/clips/<str:language>/",
        views.PhaseClips.as_view(),
        name="phase-clips",
    ),
    path(
        "challenges/<slug:challenge>/phases/<slug:phase>/leaderboards/<str:language>/<slug:stage>/",
        views.Leaderboard.as_view(),
        name="leaderboard",
    ),
    path("status/", views.Status.as_view(), name="status"),
    path("submissions/", views.SubmissionList.as_view(), name="submission-list"),
    path("submissions/<int:submission_id>/", views.SubmissionDetail.as_view(), name="submission-detail"),
    path(
        "submissions/<int:submission_id>/clip-scores/",
        views.SubmissionClipScores.as_view(),
        name="submission-clip-scores",
    ),
    path(
        "submissions/<int:submission_id>/breakdown/",
        views.SubmissionBreakdown.as_view(),
        name="submission-breakdown",
    ),
    # Last: any other URL under /api/v1/ (ending in a slash, so that APPEND_SLASH still redirects the
    # others) answers the API's JSON 404, not the site's HTML page.
    re_path(r"^(?P<path>[\s\S]*/)?$", views.not_found),
]
