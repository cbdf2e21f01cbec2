"""The server-rendered site. Views parse, call services and selectors, and render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from evaluation.metrics import CLASSIC_METRICS, METRICS, STAGE_METRICS
from leaderboard import throttling, tokens
from leaderboard.accounts import services as accounts
from leaderboard.boards import conditional, public_cache
from leaderboard.boards import selectors as boards
from leaderboard.boards.breakdowns import page_breakdown
from leaderboard.boards.disclosure import disclosed_intervals, disclosed_scores
from leaderboard.challenges.models import Challenge, ChallengePage, Phase
from leaderboard.challenges.selectors import phase_languages, phase_or_404
from leaderboard.challenges.texts import localized
from leaderboard.judging.selectors import submission_judge
from leaderboard.metric_texts import shown_metric
from leaderboard.notifications import services as notification_services
from leaderboard.notifications.forms import EmailPreferenceForm
from leaderboard.operations import readiness
from leaderboard.operations import selectors as operations
from leaderboard.submissions import intake, payloads, rules, selectors
from leaderboard.submissions.files import problem_text
from leaderboard.submissions.models import Submission
from leaderboard.teams import services as team_services
from leaderboard.uploads import oversized_upload

from .decorators import throttle_posts
from .forms import REJECTED_TITLE, CreateTeamForm, JoinTeamForm, SignupForm, SubmissionForm, SubmissionMethodForm
from .templatetags.scores import interval as interval_text
from .templatetags.scores import score as score_text

#: Sign-in attempts are throttled per client address, the admin's as the site's.
sign_in = throttle_posts("login")(LoginView.as_view())
admin_sign_in = throttle_posts("login")(admin.site.login)


def healthz(request: HttpRequest) -> HttpResponse:
    """200 when this web process can query its database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database error means unhealthy
        return JsonResponse({"status": "error", "database": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when the database, the broker and the file storage all answer; 503 naming what does not."""
    report = readiness.readiness()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


def challenge_list(request: HttpRequest) -> HttpResponse:
    challenges = Challenge.objects.prefetch_related("phases")
    return render(request, "web/challenge_list.html", {"challenges": challenges})


def challenge_detail(request: HttpRequest, challenge: str) -> HttpResponse:
    challenge_obj = get_object_or_404(Challenge, slug=challenge)
    phases = []
    for phase in challenge_obj.phases.prefetch_related("boards", "reference_sets"):
        phases.append(
            {
                "phase": phase,
                "languages": phase_languages(phase),
                "boards": list(phase.boards.all()),
                "board_visible": rules.can_view_board(request.user, phase),
                "approval": team_services.approval_for(request.user, phase) if phase.requires_approval else None,
            }
        )
    return render(request, "web/challenge_detail.html", {"challenge": challenge_obj, "phases": phases})


def challenge_page(request: HttpRequest, challenge: str, page: str) -> HttpResponse:
    """A description page of a challenge (Markdown, sanitized when rendered)."""
    page_obj = get_object_or_404(
        ChallengePage.objects.select_related("challenge"), challenge__slug=challenge, slug=page
    )
    context = {"challenge": page_obj.challenge, "page": page_obj, "pages": page_obj.challenge.pages.all()}
    return render(request, "web/challenge_page.html", context)


@login_required
@require_http_methods(["POST"])
def request_approval(request: HttpRequest, challenge: str, phase: str) -> HttpResponse:
    """A team asks to enter a phase that requires the organizers' approval."""
    phase_obj = phase_or_404(challenge, phase)
    try:
        team_services.request_approval(request.user, phase_obj)
    except team_services.TeamError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Your team asked to enter “%(phase)s”; the organizers will decide.")
            % {"phase": localized(phase_obj, "title")},
        )
    return redirect("web:challenge-detail", challenge=challenge)


class _ShownRow:
    """A board row as the page shows it: the row's fields, with its score cells and link made once."""

    __slots__ = ("_row", "cells", "url", "submitted_iso", "submitted_text")

    def __init__(self, row, cells, url, submitted_iso, submitted_text):
        self._row, self.cells, self.url = row, cells, url
        self.submitted_iso, self.submitted_text = submitted_iso, submitted_text

    def __getattr__(self, name):
        return getattr(self._row, name)


def _shown_rows(rows, columns: list[str]) -> list[_ShownRow]:
    """The page's rows with their score cells rendered here, not by the template: a board has hundreds of
    rows and a dozen columns, and the template's tags per cell were most of the page's time. The HTML is
    the template's own (see web/board.html)."""
    # Trusted texts, as the template's {% translate %} of a literal puts them (unescaped).
    reported = _("reported by the source, not this board's judge; not ranked")
    other = _("from another judge configuration; not ranked")
    ci = _("95% confidence interval")
    marker = 987654321
    prefix, suffix = reverse("web:entry", args=[marker]).split(str(marker))
    shown = []
    for row in rows:
        cells = []
        for index, column in enumerate(columns):
            if column in row.scores:
                value = escape(score_text(row.scores, column))
            elif column in row.other_judge_scores:
                title = reported if row.other_judge == "reported_by_source" else other
                number = escape(score_text(row.other_judge_scores, column))
                value = f'<span class="other-judge" title="{title}">({number})</span>'
            else:
                value = escape(score_text(row.scores, column))
            bounds = interval_text(row.intervals, column)
            if bounds:
                value += f'<span class="ci" title="{ci}">{escape(bounds)}</span>'
            cells.append(f'<td class="num{" primary" if index == 0 else ""}">{value}</td>')
        submitted = template_localtime(row.submitted_at) if row.submitted_at else None
        shown.append(
            _ShownRow(
                row,
                mark_safe("".join(cells)),  # noqa: S308 - every value above is escaped
                f"{prefix}{row.submission_id}{suffix}" if row.submission_id else "",
                date_filter(submitted, "c") if submitted else "",
                date_filter(submitted, "Y-m-d H:i") if submitted else "",
            )
        )
    return shown


def board(request: HttpRequest, challenge: str, phase: str, language: str, stage: str) -> HttpResponse:
    # An anonymous visitor's page, kept whole by this process while no write changed it: no query.
    kept = public_cache.cached_response(request, "page")
    if kept is not None:
        return kept
    phase_obj = phase_or_404(challenge, phase)
    board_obj = boards.visible_board(request.user, phase_obj, language, stage)
    state = boards.board_state(phase_obj, language, viewer=request.user)
    # The page shows who is signed in (and the staff's admin link); its CSRF token differs in bytes only
    # (a weak ETag). A pending message is shown once: such a page gets no validators.
    user = request.user
    viewer = [user.is_authenticated, user.pk, user.get_username(), user.is_staff]
    etag, modified = None, None
    if not len(messages.get_messages(request)):
        etag = conditional.board_etag(
            request, phase_obj, board_obj, language, state, kind="page", weak=True, viewer=viewer
        )
        modified = conditional.last_modified(state)
        unchanged = conditional.not_modified(request, etag, modified)
        if unchanged is not None:
            unchanged = conditional.set_validators(unchanged, etag, modified, shared=False)
            public_cache.keep(request, unchanged, changes_at=public_cache.phase_dates(phase_obj))
            return unchanged
    # The table's rows are the same for every viewer of the same state (``view.with_moderated`` and the
    # rounding are in it), language and query: rendered once per process, kept briefly (web/board.html).
    rows_key = conditional.board_etag(request, phase_obj, board_obj, language, state, kind="page-rows")
    languages = phase_languages(phase_obj)
    view = boards.board_view(phase_obj, language, board_obj, viewer=request.user, state=state)
    # The method-tag filters show some of the rows, with the whole board's ranks; a wrong value is ignored.
    try:
        filters = boards.tag_filters(request.GET, allow_empty=True)
        filter_error = ""
    except boards.InvalidTagFilter as exc:
        filters, filter_error = {}, str(exc)
    rows = boards.filtered_rows(view.rows, filters)
    # Without a judge for this language the stage columns stay empty: show the classic ones first. The
    # display order only: the stored ranking (primary, then the columns in order) is the board's own.
    judged = bool(view.judge and view.judge.signature)
    columns = board_obj.columns
    if not judged:
        columns = [name for name in columns if name not in STAGE_METRICS] + [
            name for name in columns if name in STAGE_METRICS
        ]
    context = {
        "view": view,
        "challenge": phase_obj.challenge,
        "phase": phase_obj,
        "board": board_obj,
        "language": language,
        "languages": languages,
        "boards": state.boards,
        # Called by the template only when the rows' fragment is not in the cache.
        "rows": lambda: _shown_rows(rows, columns),
        "rows_key": rows_key or "",
        "rows_cache_seconds": conditional.DOCUMENT_CACHE_SECONDS if rows_key else 0,
        "tag_filters": [
            (parameter, label, "" if filter_error else request.GET.get(parameter, ""))
            for parameter, label in (
                ("character_info", _("Uses character information")),
                ("external_data", _("External training data")),
            )
        ],
        "filtered": bool(filters),
        "filter_error": filter_error,
        "hidden_by_filters": len(view.rows) - len(rows),
        "columns": columns,
        "classic_first": columns != board_obj.columns,
        "metrics": [shown_metric(name) for name in columns if name in METRICS],
        "stage_metrics_missing": any(row.rank for row in rows)
        and not any(board_obj.primary_metric in row.scores for row in rows if row.rank),
        "judge": view.judge,
        "shows_stage_metrics": any(name in STAGE_METRICS for name in board_obj.columns),
        "interval_method": boards.method_of(phase_obj),
        "interval_percent": round(100 * boards.method_of(phase_obj).level),
    }
    response = conditional.set_validators(render(request, "web/board.html", context), etag, modified, shared=False)
    public_cache.keep(request, response, changes_at=public_cache.phase_dates(phase_obj))
    return response


@throttle_posts("signup")
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:team")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # The language the account signed up in is its own from now on: emails, any browser.
        accounts.remember_language(user, get_language())
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Create or join a team to submit."))
        # Submitting needs a verified address (leaderboard/accounts): the link goes out now.
        if accounts.start_verification(user):
            messages.info(
                request,
                _("We sent a link to %(email)s: follow it to verify the address, then submit.") % {"email": user.email},
            )
        else:
            messages.warning(request, _("The verification email could not be sent; ask for it again on a submit page."))
        return redirect("web:team")
    return render(request, "registration/signup.html", {"form": form})


@never_cache  # the join code: never kept by a browser or a proxy
@login_required
def team(request: HttpRequest) -> HttpResponse:
    current = team_services.team_of(request.user)
    create_form = CreateTeamForm(request.POST if "create" in request.POST else None, prefix="create")
    join_form = JoinTeamForm(request.POST if "join" in request.POST else None, prefix="join")
    if request.method == "POST" and current is not None:
        return _team_action(request)
    if request.method == "POST" and current is None:
        try:
            if "create" in request.POST and create_form.is_valid():
                current = team_services.create_team(request.user, create_form.cleaned_data["name"])
                messages.success(request, _("Team “%(team)s” created.") % {"team": current.name})
                return redirect("web:team")
            if "join" in request.POST and join_form.is_valid():
                current = team_services.join_team(request.user, join_form.cleaned_data["join_code"])
                messages.success(request, _("You joined “%(team)s”.") % {"team": current.name})
                return redirect("web:team")
        except team_services.TeamError as exc:
            messages.error(request, str(exc))
    members = current.memberships.select_related("user") if current else []
    context = {
        "team": current,
        "members": members,
        "owner": current is not None and team_services.is_owner(request.user, current),
        "create_form": create_form,
        "join_form": join_form,
    }
    return render(request, "web/team.html", context)


def _team_action(request: HttpRequest) -> HttpResponse:
    """A member's POST on the Team page: leave; the owner's: remove a member, replace the join code."""
    try:
        if "leave" in request.POST:
            left = team_services.leave_team(request.user)
            messages.success(request, _("You left “%(team)s”.") % {"team": left.name})
        elif "remove" in request.POST:
            try:
                member_id = int(request.POST["remove"])
            except ValueError:
                raise team_services.TeamError(_("That person is not a member of your team.")) from None
            removed = team_services.remove_member(request.user, member_id)
            messages.success(request, _("%(member)s is no longer in the team.") % {"member": removed.get_username()})
        elif "rotate" in request.POST:
            team_services.rotate_join_code(request.user)
            messages.success(request, _("A new join code was made; the old one no longer works."))
        else:
            messages.error(request, _("You are already in a team: leave it first."))
    except team_services.TeamError as exc:
        messages.error(request, str(exc))
    return redirect("web:team")


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest, challenge: str, phase: str) -> HttpResponse:
    phase_obj = phase_or_404(challenge, phase)
    if not request.user.is_authenticated:
        if _wants_json(request):
            refusal = rules.submission_refusal(request.user, phase_obj)
            return JsonResponse(payloads.refusal_payload(refusal), status=refusal.http_status)
        return redirect(f"{reverse('login')}?next={request.path}")
    languages = phase_languages(phase_obj)
    # Every upload counts against the user's throttle (with the API's), before the file is even read.
    throttled = throttling.hit("upload", throttling.user_ident(request.user)) if request.method == "POST" else None
    posted = request.method == "POST" and throttled is None
    files = (request.FILES or None) if posted else None  # read first: reading them records an oversized file
    oversized = oversized_upload(request, "predictions") if posted else None
    form = SubmissionForm(
        (request.POST or None) if posted else None,
        files,
        languages=languages,
        file_stopped=oversized is not None,
    )
    refusal = None
    problems = []
    if throttled is not None:
        refusal = rules.Refusal("throttled", throttled.message, 429)
    elif posted and form.is_valid():
        try:
            # The rules are asked in here: early, then under the team's row lock.
            submission = intake.submit_upload(
                user=request.user,
                phase=phase_obj,
                language=form.cleaned_data["language"],
                upload=form.cleaned_data.get("predictions"),
                oversized_bytes=oversized,
                method=intake.MethodInfo.from_fields(form.cleaned_data),
                confirm_language=form.cleaned_data.get("confirm_language", False),
            )
        except intake.SubmissionRefused as exc:
            refusal = exc.refusal
        except intake.SubmissionRejected as exc:
            problems = exc.problems
        else:
            url = reverse("web:submission-detail", args=[submission.pk])
            if _wants_json(request):
                return JsonResponse({"id": submission.pk, "status": submission.status, "redirect": url}, status=201)
            messages.success(request, _("Your file passed validation and is queued for scoring."))
            return redirect(url)
    else:
        # The page, or a form with invalid fields: why the team may not submit comes first.
        refusal = rules.submission_refusal(request.user, phase_obj)

    # One heading and one list for the page and its script: the file's problems, or the form's (named by label).
    if problems:
        problems_title, problem_messages = REJECTED_TITLE, [problem_text(problem) for problem in problems]
    elif posted and form.errors:
        problems_title, problem_messages = form.error_title(), form.error_messages()
    else:
        problems_title, problem_messages = "", []

    if request.method == "POST" and _wants_json(request):
        if refusal is not None:
            response = JsonResponse(payloads.refusal_payload(refusal), status=refusal.http_status)
        elif problems:
            # The API's body, with the heading and the lines the page shows (static/js/submit.js).
            body = payloads.rejection_payload(problems) | {"title": REJECTED_TITLE, "messages": problem_messages}
            response = JsonResponse(body, status=400)
        else:
            body = payloads.field_errors_payload(form.errors) | {"title": problems_title, "messages": problem_messages}
            response = JsonResponse(body, status=400)
        return with_retry_after(response, throttled)

    team = team_services.team_of(request.user)
    context = {
        "challenge": phase_obj.challenge,
        "phase": phase_obj,
        "form": form,
        "refusal": refusal,
        "problems_title": problems_title,
        "problem_messages": problem_messages,
        # The checkbox that confirms the language: once the file was refused for it, or ticked already.
        "ask_language": any(problem.code == "language_mismatch" for problem in problems)
        or bool(form["confirm_language"].value()),
        "quota": rules.quota(team, phase_obj) if team else None,
        "max_megabytes": settings.SUBMISSION_MAX_BYTES / (1024 * 1024),
    }
    # The page without JavaScript answers as the API does: a refused upload with the refusal's status
    # (403 not allowed now, 429 a limit or the throttle, 400 a language the phase does not score), a
    # rejected file or invalid fields with 400; the page itself, saying why one may not submit, with 200.
    if request.method == "POST" and refusal is not None:
        status = refusal.http_status
    elif problems or (request.method == "POST" and form.errors):
        status = 400
    else:
        status = 200
    return with_retry_after(render(request, "web/submit.html", context, status=status), throttled)


def with_retry_after(response: HttpResponse, throttled: throttling.Throttled | None) -> HttpResponse:
    if throttled is not None:
        response["Retry-After"] = str(throttled.retry_after)
    return response


@login_required
def my_submissions(request: HttpRequest) -> HttpResponse:
    submissions = selectors.team_submissions(request.user)
    return render(
        request,
        "web/my_submissions.html",
        {"submissions": submissions, "team": team_services.team_of(request.user), "columns": CLASSIC_METRICS},
    )


def entry(request: HttpRequest, submission_id: int) -> HttpResponse:
    """A board entry as the public sees it: its scores with their intervals, and its per-movie and per-genre
    scores where the phase publishes them. Its team and the organizers may open it too."""
    submission = get_object_or_404(Submission.objects.with_details(), pk=submission_id)
    if not (rules.is_public_entry(request.user, submission) or rules.can_view_submission(request.user, submission)):
        raise Http404
    result = submission.current_result
    phase = submission.phase
    metrics = [name for name in (*STAGE_METRICS, *CLASSIC_METRICS) if result and name in result.metrics]
    context = {
        "submission": submission,
        "phase": phase,
        "result": result,
        # Rounded on a hidden phase for everyone but its organizers, as on the boards.
        "scores": disclosed_scores(result.metrics, phase, request.user) if result else {},
        "intervals": disclosed_intervals((result.intervals or {}).get("metrics", {}), phase, request.user)
        if result
        else {},
        "metrics": [shown_metric(name) for name in metrics],
        "breakdown": _breakdown_for(request.user, submission, result),
        "own": rules.can_view_submission(request.user, submission),
        "boards": list(phase.boards.all()),
    }
    return render(request, "web/entry.html", context)


def _breakdown_for(user, submission: Submission, result) -> dict | None:
    """The per-movie and per-genre section of a page, when ``user`` may see it (``rules.can_view_breakdown``)."""
    if result is None or not rules.can_view_breakdown(user, submission):
        return None
    return page_breakdown(result, submission.phase, user)


@login_required
@require_http_methods(["GET", "POST"])
def submission_detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.with_details(), pk=submission_id)
    if not rules.can_view_submission(request.user, submission):
        raise Http404
    can_change = rules.can_change_submission(request.user, submission)
    if request.method == "POST":
        if not can_change:
            raise Http404
        form = SubmissionMethodForm(request.POST, instance=submission)
        if form.is_valid():
            try:
                intake.update_method(submission, intake.MethodInfo.from_fields(form.cleaned_data))
            except intake.ChangeRefused as exc:
                form.add_error("is_public", exc.refusal.message)
            else:
                messages.success(request, _("Saved."))
                return redirect("web:submission-detail", submission_id=submission.pk)
            submission.refresh_from_db(fields=["is_public"])  # the bound form set the refused flag on it
    else:
        form = SubmissionMethodForm(instance=submission)
    result = submission.current_result
    context = {
        "submission": submission,
        "result": result,
        # Per-movie and per-genre scores (rules.can_view_breakdown), rounded like the scores above.
        "breakdown": _breakdown_for(request.user, submission, result),
        # On a hidden phase, rounded to the boards' precision for everyone but its organizers.
        "scores": disclosed_scores(result.metrics, submission.phase, request.user) if result else {},
        "form": form,
        "can_change": can_change,
        "classic": [shown_metric(name) for name in CLASSIC_METRICS],
        "stage": [shown_metric(name) for name in STAGE_METRICS],
        "public_flag_refusal": rules.public_flag_refusal(submission) if can_change else None,
        "clip_scores_visible": rules.can_view_clip_scores(request.user, submission),
        "judge": submission_judge(
            submission, with_accounting=rules.can_view_judge_accounting(request.user, submission)
        ),
        "queue_position": operations.queue_position(submission),
    }
    return render(request, "web/submission_detail.html", context)


@never_cache  # the token: never kept by a browser or a proxy
@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """The user's API token, and a POST (with CSRF, as every form) that replaces it."""
    if request.method == "POST":
        tokens.rotate_token(request.user)
        messages.success(request, _("A new token was made; the old one no longer works."))
        return redirect("web:api-token")
    token = tokens.current_token(request.user)
    context = {
        "token": token,
        "expires_at": tokens.expires_at(token),
        # The examples name this site as the browser reached it (scheme, host and port).
        "api_base": request.build_absolute_uri("/api/v1/"),
        "example": _example_phase(),
    }
    return render(request, "web/token.html", context)


def help_page(request: HttpRequest) -> HttpResponse:
    """Where to start: the offline scorer, the API token with curl, the API docs."""
    context = {
        "api_base": request.build_absolute_uri("/api/v1/"),
        "example": _example_phase(),
    }
    return render(request, "web/help.html", context)


def _example_phase() -> Phase | None:
    """A phase to put real slugs in the curl examples (the first one), or None: the examples then name placeholders."""
    return Phase.objects.select_related("challenge").order_by("challenge__title", "order", "slug").first()


def status(request: HttpRequest) -> HttpResponse:
    """The queue and the workers: counts for everyone, the details for organizers."""
    if rules.can_view_operations(request.user):
        context = {"organizer": operations.organizer_status()}
        context["public"] = context["organizer"].public
    else:
        context = {"public": operations.public_status()}
    return render(request, "operations/status.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def email_preferences(request: HttpRequest) -> HttpResponse:
    preference = notification_services.preferences_of(request.user)
    organizer = rules.organizes_any(request.user)
    form = EmailPreferenceForm(
        request.POST or None,
        organizer=organizer,
        initial={"on_result": preference.on_result, "digest": preference.digest},
    )
    if request.method == "POST" and form.is_valid():
        notification_services.update_preferences(
            request.user, on_result=form.cleaned_data["on_result"], digest=form.cleaned_data.get("digest", False)
        )
        messages.success(request, _("Your email preferences are saved."))
        return redirect("web:email-preferences")
    return render(
        request, "notifications/preferences.html", {"form": form, "email": request.user.email, "organizer": organizer}
    )


# -- email verification ------------------------------------------------------------------------


def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The link of the verification email: a working one verifies the account, signed in or not."""
    user = accounts.verify(uidb64, token)
    if user is None:
        messages.error(
            request,
            _("This verification link is wrong, used or expired. Sign in and ask for a new one on a submit page."),
        )
    else:
        messages.success(
            request, _("Your email address %(email)s is verified: you can submit.") % {"email": user.email}
        )
    return redirect("web:challenge-list")


@login_required
@require_http_methods(["POST"])
def send_verification_link(request: HttpRequest) -> HttpResponse:
    """The submit page's "send the link again"."""
    try:
        accounts.send_link(request.user)
    except accounts.VerificationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("We sent a new link to %(email)s.") % {"email": request.user.email})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("web:challenge-list")
    return redirect(target)
