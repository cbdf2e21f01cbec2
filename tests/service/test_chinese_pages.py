"""The Chinese pages are Chinese: no English sentence is left on any page a visitor or a participant sees.

A string nobody marked for translation, or marked but shown without ``gettext``, comes out in English on a
Chinese page; this walks the site in Chinese and finds every run of three or more English words in the text
and in the attributes a reader meets (title, aria-label, alt, placeholder). What is data, not the site's
words, is left out: narrations, references and code (``lang`` other than Chinese, ``<code>``, ``<pre>``),
and the names the data gives (films, teams, methods, baselines).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from leaderboard.boards.models import Baseline
from leaderboard.challenges.models import Movie
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Submission
from tests.support.service import demo_file

ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’]+(?:[ ,;:/-]+[A-Za-z][A-Za-z'’]+){2,}")
SKIPPED = {"script", "style", "code", "pre", "kbd", "samp", "textarea"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
READ_ATTRIBUTES = ("title", "aria-label", "alt", "placeholder")


class ReaderText(HTMLParser):
    """The text and attributes a reader of a Chinese page meets, without what is marked as another language."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.found: list[str] = []

    @property
    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        language = attributes.get("lang")
        skip = self.skipping or tag in SKIPPED or (language is not None and not language.lower().startswith("zh"))
        if not skip:
            self.found.extend(attributes[name] for name in READ_ATTRIBUTES if attributes.get(name))
        if tag not in VOID:
            self.stack.append((tag, skip))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.found.append(data)


def english_left(html: str, data_names: list[str]) -> list[str]:
    parser = ReaderText()
    parser.feed(html)
    runs = []
    for text in parser.found:
        for name in data_names:
            text = text.replace(name, " ")
        runs.extend(match.group(0) for match in ENGLISH_RUN.finditer(text))
    return runs


@pytest.fixture
def scored_pair(alice, demo_val, settings):
    settings.JUDGE_DEFAULTS = {}
    submissions = []
    for name, public in (("first", True), ("second", False)):
        submission = intake.submit(
            user=alice,
            phase=demo_val,
            language="zh",
            data=demo_file("val-zh.json"),
            method=intake.MethodInfo(method_name=name, is_public=public),
        )
        scoring.score_submission(submission.pk)
        submissions.append(Submission.objects.get(pk=submission.pk))
    return submissions


def site_pages(submissions) -> tuple[list[str], list[str]]:
    first, second = submissions
    public = [
        "/",
        "/c/demo/",
        "/c/demo/val/zh/l1/",
        "/c/demo/val/en/l2/",
        "/c/demo/val/zh/l1/plots/",
        f"/entries/{first.pk}/",
        "/help/",
        "/status/",
        "/no-such-page/",
    ]
    signed_out = ["/accounts/login/", "/signup/"]
    signed_in = [
        "/c/demo/val/submit/",
        "/team/",
        "/token/",
        "/account/email/",
        "/submissions/",
        f"/submissions/{first.pk}/",
        f"/submissions/{first.pk}/clips/",
        f"/submissions/{first.pk}/plots/",
        f"/submissions/compare/?ids={first.pk},{second.pk}",
    ]
    return public + signed_out, public + signed_in


def test_no_english_sentence_is_left_on_a_chinese_page(alice, scored_pair):
    data_names = sorted(
        {
            *Movie.objects.values_list("title", flat=True),
            *Baseline.objects.values_list("method_name", flat=True),
            *Baseline.objects.values_list("citation", flat=True),
            *Submission.objects.values_list("method_name", flat=True),
            "Team A",
            "Yue et al",  # the citation of the annotations, in the footer
            alice.username,
        }
        - {""},
        key=len,
        reverse=True,
    )
    for_visitors, for_participants = site_pages(scored_pair)
    visitor, participant = Client(), Client()
    participant.force_login(alice)
    leftovers = {}
    visited = 0
    for client, paths in ((visitor, for_visitors), (participant, for_participants)):
        for path in paths:
            response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
            assert response.status_code == (404 if path == "/no-such-page/" else 200), (path, response.status_code)
            html = response.content.decode()
            assert '<html lang="zh-hans">' in html, path
            visited += 1
            runs = english_left(html, data_names)
            if runs:
                leftovers[path] = runs
    assert visited == len(for_visitors) + len(for_participants) > 20
    assert not leftovers, "English left on Chinese pages:\n" + "\n".join(
        f"{path}: {runs}" for path, runs in leftovers.items()
    )


def test_the_check_finds_english_that_is_left(db):
    html = (
        '<html lang="zh-hans"><body><p>已完成</p><p>Scored against the references</p>'
        '<span title="Worst clips first">片段</span><td lang="en">A man walks in the rain</td>'
        "<code>python manage.py submit</code><img src=x alt='The score over time'></body></html>"
    )
    assert english_left(html, []) == ["Scored against the references", "Worst clips first", "The score over time"]
