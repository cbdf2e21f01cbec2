"""Web hardening: secret pages kept out of caches, the Content-Security-Policy, API tokens that rotate and
expire, throttled sign-in, sign-up and uploads, JSON errors for the API's parse limits, and the status
codes of the non-JavaScript submit form. Each was a finding of the probe (issue 10); docs/reliability.md."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leaderboard import throttling
from leaderboard.submissions.models import Submission
from leaderboard.teams.models import Team
from tests.support.service import api_client_for, demo_file, upload

SUBMIT = "/c/demo/val/submit/"
UPLOAD_API = "/api/v1/challenges/demo/phases/val/submissions/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- secret pages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/token/", "/team/"])
def test_pages_showing_a_token_or_a_join_code_are_never_stored(url, alice):
    for response in (signed_in(alice).get(url), signed_in(alice).post(url)):
        assert "no-store" in response["Cache-Control"], (url, response.status_code)
        assert "private" in response["Cache-Control"]


# -- Content-Security-Policy ------------------------------------------------------------------------------

STRICT_DIRECTIVES = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'")
INLINE = (
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),  # an inline script
    re.compile(r"<style\b", re.IGNORECASE),
    re.compile(r"""\sstyle\s*=\s*["']""", re.IGNORECASE),
    re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE),  # onclick=, onload=, ...
)


def test_every_page_has_a_strict_policy_and_no_inline_code(alice, bob, admin_user, demo_val):
    from leaderboard.submissions import intake, scoring

    submission = intake.submit(user=alice, phase=demo_val, language="zh", data=demo_file("val-zh.json"))
    scoring.score_submission(submission.pk)
    # A second one, two clips changed, for the comparison page.
    narrations = json.loads(demo_file("val-zh.json"))
    for clip_id in sorted(narrations)[:2]:
        narrations[clip_id] = "他打开灯。"
    other = intake.submit(
        user=alice, phase=demo_val, language="zh", data=json.dumps(narrations, ensure_ascii=False).encode()
    )
    scoring.score_submission(other.pk)
    pages = {
        None: ["/", "/c/demo/", "/c/demo/val/zh/l1/", "/c/demo/val/zh/l1/plots/", "/status/", "/accounts/login/"]
        + ["/signup/"],
        alice: ["/team/", "/token/", "/submissions/", f"/submissions/{submission.pk}/", SUBMIT, "/account/email/"]
        + [f"/submissions/{submission.pk}/plots/", f"/entries/{submission.pk}/"]
        + [f"/submissions/{submission.pk}/clips/", f"/submissions/compare/?ids={submission.pk},{other.pk}"],
        bob: ["/team/"],
        admin_user: [
            "/admin/",
            "/admin/submissions/submission/",
            f"/admin/submissions/submission/{submission.pk}/change/",
        ],
    }
    for user, urls in pages.items():
        client = signed_in(user) if user else Client()
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            policy = response["Content-Security-Policy"]
            assert all(directive in policy for directive in STRICT_DIRECTIVES), (url, policy)
            assert "unsafe" not in policy, (url, policy)
            html = response.content.decode()
            if not url.startswith("/admin/"):  # Django's admin is its own, and keeps to the policy in a browser
                for pattern in INLINE:
                    assert not pattern.search(html), (url, pattern.search(html).group(0))
    assert "Content-Security-Policy" in Client().get("/api/v1/challenges/")


def test_the_api_docs_have_their_own_policy(db):
    swagger = Client().get("/api/docs/")
    assert swagger.status_code == 200 and "swagger-ui" in swagger.content.decode()
    assert all(directive in swagger["Content-Security-Policy"] for directive in STRICT_DIRECTIVES)
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    redoc = Client().get("/api/redoc/")
    # Redoc writes its styles into <style> elements as it renders: that page alone allows inline styles.
    assert "style-src 'self' 'unsafe-inline'" in redoc["Content-Security-Policy"]
    assert "script-src 'self'" in redoc["Content-Security-Policy"]


# -- API tokens ---------------------------------------------------------------------------------------------


def token_on_the_page(client: Client) -> str:
    return re.search(r'id="token">([0-9a-f]{40})<', client.get("/token/").content.decode()).group(1)


def test_the_token_is_replaced_from_the_site_with_a_csrf_checked_post(alice, demo_val):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    old = token_on_the_page(client)
    assert client.post("/token/").status_code == 403  # no CSRF token: refused, nothing replaced
    assert token_on_the_page(client) == old
    csrf = client.cookies["csrftoken"].value
    response = client.post("/token/", {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 302
    new = token_on_the_page(client)
    assert new != old
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert api.get("/api/v1/submissions/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert api.get("/api/v1/submissions/").status_code == 200


def test_tokens_never_expire_unless_a_maximum_age_is_set(alice, settings):
    api = api_client_for(alice)
    Token.objects.filter(user=alice).update(created=timezone.now() - timedelta(days=3650))
    settings.API_TOKEN_MAX_AGE_DAYS = None
    assert api.get("/api/v1/submissions/").status_code == 200

    settings.API_TOKEN_MAX_AGE_DAYS = 90
    response = api.get("/api/v1/submissions/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["code"] == "token_expired"
    assert "Your API token expired on " in body["detail"] and "/token/" in body["detail"]

    # The page says when it expires and gives a fresh one in place of an expired one.
    page = signed_in(alice).get("/token/").content.decode()
    assert "expires on" in page
    api = api_client_for(alice)
    assert api.get("/api/v1/submissions/").status_code == 200
    Token.objects.filter(user=alice).update(created=timezone.now() - timedelta(days=89))
    assert api.get("/api/v1/submissions/").status_code == 200


# -- throttles ----------------------------------------------------------------------------------------------


@pytest.fixture
def throttled(settings):
    """Throttles on, counted in a cache of this test's own (the suite turns them off: counters outlive a test)."""
    settings.CACHES = {
        **settings.CACHES,
        throttling.CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttles-{uuid.uuid4()}",
        },
    }
    settings.THROTTLE_RATES = {"login": "2/minute", "signup": "2/hour", "upload": "2/hour"}
    return settings


def assert_throttled(response, text: str) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert text in response.content.decode()


def test_sign_in_attempts_are_throttled_per_address(throttled, alice):
    client = Client()
    for _ in range(2):
        assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    third = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert_throttled(third, "Too many sign-in attempts")
    assert "_auth_user_id" not in client.session  # even the right password waits
    # A made-up X-Forwarded-For is no new address (NUM_PROXIES is 0 without a proxy in front).
    spoofed = Client(HTTP_X_FORWARDED_FOR="203.0.113.9").post("/accounts/login/", {"username": "a", "password": "b"})
    assert_throttled(spoofed, "Too many sign-in attempts")
    assert (
        Client(REMOTE_ADDR="10.0.0.2")
        .post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
        .status_code
        == 302
    )
    assert Client().get("/accounts/login/").status_code == 200  # reading the form is not counted
    assert_throttled(Client().post("/admin/login/", {"username": "x", "password": "y"}), "Too many sign-in attempts")


def test_sign_ups_are_throttled_per_address(throttled, db):
    client = Client()
    for name in ("carol", "dave"):
        fields = {"username": name, "email": f"{name}@example.org"}
        client.post("/signup/", {**fields, "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"})
        client.post("/accounts/logout/")
    third = client.post(
        "/signup/",
        {
            "username": "erin",
            "email": "e@example.org",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert_throttled(third, "Too many sign-ups")
    assert sorted(get_user_model().objects.values_list("username", flat=True)) == ["carol", "dave"]


def test_uploads_are_throttled_per_user_on_the_site_and_the_api_together(throttled, alice, bob, demo_val):
    api = api_client_for(alice)
    assert upload(api, demo_val, "zh", b"[]").status_code == 400  # rejected files count too
    site = signed_in(alice)
    assert (
        site.post(
            SUBMIT, {"language": "zh", "predictions": SimpleUploadedFile("p.json", demo_file("val-zh.json"))}
        ).status_code
        == 302
    )

    refused = upload(api, demo_val, "zh", demo_file("val-zh.json"))
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 3600
    assert refused.json()["code"] == "throttled" and "Too many uploads" in refused.json()["detail"]
    page = site.post(SUBMIT, {"language": "zh", "predictions": SimpleUploadedFile("p.json", demo_file("val-zh.json"))})
    assert_throttled(page, "Too many uploads")
    assert 'id="submit-form"' not in page.content.decode()
    progress = site.post(SUBMIT, {"language": "zh"}, HTTP_ACCEPT="application/json")
    assert progress.status_code == 429 and progress.json()["code"] == "throttled"
    assert Submission.objects.count() == 1
    # Reading is not counted, and another user has their own count.
    assert api.get(UPLOAD_API).status_code == 200
    assert upload(api_client_for(bob), demo_val, "zh", demo_file("val-zh.json")).status_code == 201


def test_throttles_are_counted_in_redis_when_redis_url_is_set(settings):
    if not django_settings.REDIS_URL:
        assert django_settings.CACHES[throttling.CACHE_ALIAS]["BACKEND"].endswith("LocMemCache")
        pytest.skip("REDIS_URL is not set: throttles are counted in each process's memory")
    assert django_settings.CACHES[throttling.CACHE_ALIAS]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    settings.THROTTLE_RATES = {"upload": "3/minute"}
    ident = f"test-{uuid.uuid4()}"  # a count of its own in the shared Redis
    assert [throttling.hit("upload", ident) for _ in range(3)] == [None, None, None]
    refused = throttling.hit("upload", ident)
    assert refused is not None and 0 < refused.retry_after <= 60


# -- API parse limits ---------------------------------------------------------------------------------------


def test_a_form_field_over_the_memory_limit_gets_json_from_the_api(alice, demo_val):
    big = "x" * (3 * 1024 * 1024)
    response = api_client_for(alice).post(
        UPLOAD_API,
        {
            "language": "zh",
            "method_description": big,
            "predictions": SimpleUploadedFile("p.json", demo_file("val-zh.json")),
        },
        format="multipart",
    )
    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "request_too_large" and "2.0 MB" in body["detail"]
    assert not Submission.objects.exists()


def test_too_many_form_fields_get_json_from_the_api(alice, demo_val):
    fields = {f"field{index}": "x" for index in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = api_client_for(alice).post(UPLOAD_API, {"language": "zh", **fields}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "too_many_fields"


# -- the submit form without JavaScript ---------------------------------------------------------------------


def post_form(client: Client, data: bytes = b"", language="zh"):
    return client.post(
        SUBMIT, {"language": language, "predictions": SimpleUploadedFile("p.json", data or demo_file("val-zh.json"))}
    )


def test_the_form_answers_a_refusal_with_its_status_and_the_page(alice, demo_val):
    client = signed_in(alice)
    Team.objects.filter(name="Team A").update(banned=True, ban_reason="bots")
    banned = post_form(client)
    assert banned.status_code == 403 and "Your team is banned from submitting: bots" in banned.content.decode()
    assert client.get(SUBMIT).status_code == 200  # the page itself, saying why
    Team.objects.filter(name="Team A").update(banned=False)

    demo_val.max_submissions_per_day = 1
    demo_val.save()
    assert post_form(client).status_code == 302
    limit = post_form(client)
    assert limit.status_code == 429 and "used its 1 submissions for today" in limit.content.decode()

    demo_val.max_submissions_per_day = None
    demo_val.save()
    rejected = post_form(client, b"[]")
    assert rejected.status_code == 400 and "Nothing was stored" in rejected.content.decode()
    assert Submission.objects.count() == 1
