"""Every email is written in its recipient's language: the one the account chose, else the site's (English).

The catalog has no Chinese translations yet, so these tests look at the language active while an email is
rendered (its template and its subject), not at its words.
"""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from leaderboard.accounts import services as accounts
from leaderboard.accounts.models import LanguagePreference
from leaderboard.notifications import services as notifications
from leaderboard.notifications.models import EmailPreference
from leaderboard.submissions import intake, scoring
from tests.support.service import demo_file, make_participant, make_site_organizer


def with_email(user):
    user.email = f"{user.username}@example.org"
    user.save(update_fields=["email"])
    return user


def chooses(user, language: str):
    LanguagePreference.objects.create(user=user, language=language)
    return user


def scored(user, phase):
    submission = intake.submit(
        user=user,
        phase=phase,
        language="en",
        data=demo_file("val-en.json"),
        filename="p.json",
        method=intake.MethodInfo(method_name="my model", is_public=True),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return submission


@pytest.fixture
def rendered_in(monkeypatch):
    """The language active at each render of an email template, by template, for the module given."""
    languages: list[tuple[str, str]] = []

    def patch(module):
        def recording(template_name, *args, **kwargs):
            languages.append((template_name, translation.get_language()))
            return render_to_string(template_name, *args, **kwargs)

        monkeypatch.setattr(module, "render_to_string", recording)
        return languages

    return patch


def test_the_finished_email_of_an_account_that_chose_chinese_is_rendered_in_chinese(
    alice, bob, demo_val, mailoutbox, rendered_in
):
    languages = rendered_in(notifications)
    chooses(with_email(alice), "zh-hans")
    with_email(bob)
    assert notifications.email_language(alice) == "zh-hans" and notifications.email_language(bob) == "en"

    for user in (alice, bob):
        submission = scored(user, demo_val)
        assert notifications.notify_submission(submission.pk, "finished") == notifications.Sent.SENT

    assert languages == [("email/submission_finished.txt", "zh-hans"), ("email/submission_finished.txt", "en")]
    assert [email.to for email in mailoutbox] == [["alice@example.org"], ["bob@example.org"]]
    chinese, english = mailoutbox
    assert "已完成评分" in chinese.subject and "is scored" in english.subject
    assert "is scored" not in chinese.subject and "已完成评分" not in english.subject
    assert translation.get_language() == "en"  # the override ends with the email


def test_the_subject_is_translated_in_the_recipients_language(alice, demo_val, mailoutbox, monkeypatch):
    chooses(with_email(alice), "zh-hans")
    subject_languages = []

    def recording_gettext(message):
        subject_languages.append(translation.get_language())
        return translation.gettext(message)

    monkeypatch.setattr(notifications, "gettext", recording_gettext)
    submission = scored(alice, demo_val)
    with translation.override("en"):  # whatever the worker or the request runs in
        notifications.notify_submission(submission.pk, "finished")
    assert subject_languages == ["zh-hans"] and len(mailoutbox) == 1


def test_each_organizer_gets_the_digest_in_their_own_language(alice, demo_val, mailoutbox, rendered_in):
    languages = rendered_in(notifications)
    olga = chooses(make_site_organizer(with_email(make_participant("olga"))), "zh-hans")
    oscar = make_site_organizer(with_email(make_participant("oscar")))
    for organizer in (olga, oscar):
        EmailPreference.objects.create(user=organizer, digest=True)
    scored(alice, demo_val)

    assert notifications.send_digests() == 2
    by_address = {email.to[0]: email for email in mailoutbox}
    assert set(by_address) == {"olga@example.org", "oscar@example.org"}
    assert sorted(languages) == [("email/digest.txt", "en"), ("email/digest.txt", "zh-hans")]


def test_the_verification_email_follows_the_account_else_the_language_it_signed_up_in(db, mailoutbox, rendered_in):
    languages = rendered_in(accounts)
    chinese = chooses(with_email(make_participant("zhang", verified=False)), "zh-hans")
    signed_up_in_chinese = with_email(make_participant("li", verified=False))
    english = with_email(make_participant("sam", verified=False))

    accounts.send_link(chinese)
    with translation.override("zh-hans"):  # the sign-up page, in Chinese, for an account that chose nothing yet
        accounts.send_link(signed_up_in_chinese)
    accounts.send_link(english)

    assert [language for _, language in languages] == ["zh-hans", "zh-hans", "en"]
    assert [email.to for email in mailoutbox] == [["zhang@example.org"], ["li@example.org"], ["sam@example.org"]]
