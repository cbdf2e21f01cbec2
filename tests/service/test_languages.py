"""English and Simplified Chinese: the first visit follows Accept-Language, the switch is kept per browser
and per account, and the catalog is whole, valid and compiled the way GNU gettext would."""

from __future__ import annotations

import gettext
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from leaderboard.accounts.models import LanguagePreference
from leaderboard.catalogs import mo_bytes, read_po

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
CATALOGS = [LOCALE / "django.po", LOCALE / "djangojs.po"]


def html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert match, "no <html lang> on the page"
    return match.group(1)


@pytest.mark.parametrize(
    ("header", "expected", "nav"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-hans", "挑战赛"),
        ("zh-Hans", "zh-hans", "挑战赛"),
        ("en-GB,en;q=0.9", "en", "Challenges"),
        ("fr-FR,fr;q=0.9", "en", "Challenges"),  # neither: the site's default
    ],
)
def test_accept_language_decides_the_first_visit(client, demo_challenge, header, expected, nav):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=header)
    assert html_lang(response) == expected
    assert response["Content-Language"] == expected
    assert "Accept-Language" in response["Vary"]
    assert f">{nav}</a>" in response.content.decode()


def test_the_switch_is_kept_by_the_browser(client, demo_challenge):
    response = client.post("/language/", {"language": "zh-hans", "next": "/help/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/help/"
    assert response.cookies["language"].value == "zh-hans"
    # The cookie now outranks the browser's Accept-Language.
    page = client.get("/help/", HTTP_ACCEPT_LANGUAGE="en")
    assert html_lang(page) == "zh-hans"
    # And back.
    client.post("/language/", {"language": "en", "next": "/"})
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN")) == "en"


def test_every_page_offers_the_other_language(client, demo_challenge):
    english = client.get("/c/demo/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="language" value="zh-hans" lang="zh-hans">简体中文</button>' in english
    assert 'name="next" value="/c/demo/"' in english
    chinese = client.get("/c/demo/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert 'name="language" value="en" lang="en">English</button>' in chinese


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_the_switch_goes_back_only_to_this_site(client, db, target):
    response = client.post("/language/", {"language": "zh-hans", "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_an_unknown_language_switches_nothing(client, db):
    response = client.post("/language/", {"language": "xx", "next": "/help/"})
    assert response.status_code == 302 and "language" not in response.cookies
    assert client.get("/language/").status_code == 405


def test_a_signed_in_choice_follows_the_account_to_another_browser(client, alice, demo_challenge):
    client.force_login(alice)
    client.post("/language/", {"language": "zh-hans", "next": "/"})
    assert LanguagePreference.objects.get(user=alice).language == "zh-hans"

    other_browser = Client()
    other_browser.force_login(alice)
    response = other_browser.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert html_lang(response) == "zh-hans"
    # The browser is told, so the choice holds there after signing out too.
    assert response.cookies["language"].value == "zh-hans"


def test_the_account_choice_outranks_an_old_cookie(client, alice, demo_challenge):
    LanguagePreference.objects.create(user=alice, language="en")
    client.cookies["language"] = "zh-hans"
    client.force_login(alice)
    assert html_lang(client.get("/")) == "en"


def test_an_account_that_never_chose_keeps_the_browser_language(client, alice, demo_challenge):
    client.force_login(alice)
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN")) == "zh-hans"
    assert not LanguagePreference.objects.filter(user=alice).exists()


def test_the_scripts_catalog_is_served_in_the_page_language(client, db):
    chinese = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert chinese.status_code == 200 and "javascript" in chinese["Content-Type"]
    # The catalog is a script: its strings are JSON-escaped.
    assert json.dumps("已上传，正在检查文件…")[1:-1] in chinese.content.decode()
    english = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "已上传" not in english and "django.gettext" in english


def test_a_validation_message_of_django_itself_is_chinese(client, db):
    # Django's own catalogs come with it: a form error on the sign-up page is Chinese too.
    response = client.post("/signup/", {"username": "", "password1": "", "password2": ""}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "该字段是必填项。" in response.content.decode()


# -- the catalog ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.name)
def test_every_string_is_translated(path):
    entries = [entry for entry in read_po(path) if entry.msgid]
    assert len(entries) > (400 if path.name == "django.po" else 3)
    untranslated = [entry.msgid for entry in entries if not entry.translated]
    assert not untranslated, f"{len(untranslated)} strings of {path.name} have no Chinese: {untranslated[:10]}"


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.name)
def test_translations_keep_their_placeholders(path):
    placeholder = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")
    for entry in read_po(path):
        if not entry.msgid or not entry.translated:  # an untranslated one fails the test above
            continue
        source = set(placeholder.findall(entry.msgid + (entry.msgid_plural or "")))
        for translation in entry.msgstr.values():
            assert set(placeholder.findall(translation)) <= source, (entry.msgid, translation)
            # A singular-only msgid must keep all of its placeholders.
            if entry.msgid_plural is None:
                assert set(placeholder.findall(translation)) == source, (entry.msgid, translation)


def gnu_msgfmt() -> str:
    found = shutil.which("msgfmt")
    if found is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":  # .ci/run: the page tests' packages are all there
            pytest.fail("CI installs GNU gettext (scripts/install-system-deps --tests) to check the catalogs")
        pytest.skip("GNU gettext's msgfmt is not installed")
    return found


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.name)
def test_catalogs_pass_gnu_msgfmt_check_and_compile_alike(path, tmp_path):
    msgfmt = gnu_msgfmt()
    theirs = tmp_path / "theirs.mo"
    checked = subprocess.run([msgfmt, "--check", "-o", str(theirs), str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    ours = tmp_path / "ours.mo"
    ours.write_bytes(mo_bytes(read_po(path)))
    ours_catalog = gettext.GNUTranslations(ours.open("rb"))._catalog
    theirs_catalog = gettext.GNUTranslations(theirs.open("rb"))._catalog
    # The header differs (msgfmt drops POT-Creation-Date); every message is the same.
    ours_catalog.pop("", None)
    theirs_catalog.pop("", None)
    assert ours_catalog == theirs_catalog
    assert len(ours_catalog) > 3


def test_the_compiler_reads_contexts_plurals_and_escapes(tmp_path):
    po = tmp_path / "t.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        'msgctxt "verb"\nmsgid "Submit"\nmsgstr "提交"\n\n'
        'msgid "%(n)s clip"\nmsgid_plural "%(n)s clips"\nmsgstr[0] "%(n)s 个片段"\n\n'
        '#, fuzzy\nmsgid "Guess"\nmsgstr "猜"\n\n'
        'msgid "Untranslated"\nmsgstr ""\n\n'
        'msgid ""\n"Two \\"quoted\\"\\n"\n"lines"\nmsgstr "两行\\n"\n"“引号”"\n',
        encoding="utf-8",
    )
    catalog = gettext.GNUTranslations(__import__("io").BytesIO(mo_bytes(read_po(po))))
    assert catalog.pgettext("verb", "Submit") == "提交"
    assert catalog.ngettext("%(n)s clip", "%(n)s clips", 3) == "%(n)s 个片段"
    assert catalog.gettext("Guess") == "Guess"  # fuzzy: left out, as msgfmt does
    assert catalog.gettext("Untranslated") == "Untranslated"
    assert catalog.gettext('Two "quoted"\nlines') == "两行\n“引号”"


def test_an_account_keeps_the_language_it_signed_up_in(client, db):
    from django.contrib.auth import get_user_model

    response = client.post(
        "/signup/",
        {
            "username": "lin",
            "email": "lin@example.org",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    user = get_user_model().objects.get(username="lin")
    assert LanguagePreference.objects.get(user=user).language == "zh-hans"


def test_a_stored_failure_is_shown_in_the_reader_language(settings):
    from django.utils import translation

    from leaderboard.stored_texts import shown_text
    from leaderboard.submissions.scoring import failure_reasons

    settings.SCORING_SOFT_TIME_LIMIT = 1200
    settings.SCORING_MAX_ATTEMPTS = 3
    reasons = failure_reasons()
    assert reasons["time_limit"].startswith("Scoring took longer than the limit of 20 minutes and was stopped.")
    assert reasons["crashed"].startswith("Scoring was interrupted 3 times (the worker stopped).")
    with translation.override("zh-hans"):
        for key, stored in reasons.items():
            shown = shown_text(stored)
            assert shown != stored and not re.search(r"[A-Za-z]{4,}", shown), (key, shown)
        assert "20" in shown_text(reasons["time_limit"]) and "3" in shown_text(reasons["crashed"])
        # Figures stored by an older limit are kept as they were stored.
        assert "45" in shown_text(reasons["time_limit"].replace("20 minutes", "45 minutes"))
        # What no template made stays as it was written.
        assert shown_text("Your file can no longer be read: x") == "Your file can no longer be read: x"
    with translation.override("en"):
        assert [shown_text(stored) for stored in reasons.values()] == list(reasons.values())
