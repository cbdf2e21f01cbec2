from django.urls import path

from . import language_views, plots_views, results_views, views

app_name = "web"

urlpatterns = [
    path("", views.challenge_list, name="challenge-list"),
    path("signup/", views.signup, name="signup"),
    path("team/", views.team, name="team"),
    path("token/", views.api_token, name="api-token"),
    path("help/", views.help_page, name="help"),
    path("language/", language_views.switch_language, name="switch-language"),
    path("jsi18n/", language_views.javascript_catalog, name="javascript-catalog"),
    path("status/", views.status, name="status"),
    path("account/email/", views.email_preferences, name="email-preferences"),
    path("account/verify/", views.send_verification_link, name="verify-email-send"),
    path("account/verify/<str:uidb64>/<str:token>/", views.verify_email, name="verify-email"),
    path("submissions/", views.my_submissions, name="my-submissions"),
    path("submissions/compare/", results_views.compare, name="submission-compare"),
    path("submissions/<int:submission_id>/", views.submission_detail, name="submission-detail"),
    path("submissions/<int:submission_id>/clips/", results_views.submission_clips, name="submission-clips"),
    path("submissions/<int:submission_id>/plots/", plots_views.submission_plots, name="submission-plots"),
    path("entries/<int:submission_id>/", views.entry, name="entry"),
    path("c/<slug:challenge>/", views.challenge_detail, name="challenge-detail"),
    path("c/<slug:challenge>/pages/<slug:page>/", views.challenge_page, name="challenge-page"),
    path("c/<slug:challenge>/<slug:phase>/submit/", views.submit, name="submit"),
    path("c/<slug:challenge>/<slug:phase>/approval/", views.request_approval, name="request-approval"),
    path("c/<slug:challenge>/<slug:phase>/<str:language>/<slug:stage>/", views.board, name="board"),
    path(
        "c/<slug:challenge>/<slug:phase>/<str:language>/<slug:stage>/plots/",
        plots_views.board_plots,
        name="board-plots",
    ),
]
