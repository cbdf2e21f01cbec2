"""Every page of the site has no axe-core violation: in English and in Simplified Chinese; signed out, signed in
as a participant whose team owns scored submissions, signed in without a team, and as an organizer; in a
desktop's window and at a phone's width, where wide tables and code scroll or wrap.

axe-core is the npm package pinned in package.json (scripts/install-js-deps installs it into node_modules;
./run-tests runs it). The pages list is checked against the site's URL patterns, so a new page is either
audited here or excluded below with its reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.service.test_browser import browser, wait_for  # noqa: F401 (the fixture)
from tests.support.data import ROOT
from tests.support.service import demo_file, make_participant, make_site_organizer

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PINNED_AXE = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["devDependencies"]["axe-core"]
LANGUAGES = ("en", "zh-hans")
#: A desktop's window and a phone's (CSS pixels).
WINDOWS = ((1280, 1000), (380, 800))

#: Named routes that are not pages, or not the site's own: each with the reason it is not audited.
NOT_PAGES = {
    "web:switch-language": "a POST that redirects back",
    "web:javascript-catalog": "a script",
    "web:verify-email-send": "a POST that redirects back",
    "web:request-approval": "a POST that redirects back",
    "api-schema": "the OpenAPI schema (YAML)",
    "healthz": "a plain-text probe",
    "readyz": "a plain-text probe",
}
#: django.contrib.auth's views (accounts/...): sign-out is a POST; the password views are not offered by the
#: site (no link leads to them) and render the admin's templates, which are out of scope like the admin.
AUTH_VIEWS = {
    "logout",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    #: A CSS selector that is on the page only once its own content is there (not on a 404 or a sign-in page).
    ready: str
    #: A third party's markup that axe leaves out (see the API docs): the rest of the page is audited.
    exclude: str | None = None
    #: Where the page redirects to, if it does (a link that leaves a message on the next page).
    lands: str | None = None


# -- the site's data: scored, judged submissions of a team ----------------------------------------------------


def scored(user, phase, language: str, data: bytes, method_name: str):
    from leaderboard.submissions import intake, scoring
    from leaderboard.submissions.models import Submission

    submission = intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=data,
        filename=f"{language}.json",
        method=intake.MethodInfo(
            method_name=method_name, is_public=True, uses_character_info=False, external_data=False, model_size="7B"
        ),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return Submission.objects.get(pk=submission.pk)


def judged(submission):
    from leaderboard.judging import runner
    from leaderboard.judging.finishing import Outcome
    from tests.support.judging import run_of

    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    return submission


def changed(name: str) -> bytes:
    """A demo prediction file with every other narration cut to its first half: two submissions that differ."""
    narrations = json.loads(demo_file(name))
    for index, clip in enumerate(sorted(narrations)):
        if index % 2:
            narrations[clip] = narrations[clip][: max(2, len(narrations[clip]) // 2)]
    return json.dumps(narrations, ensure_ascii=False).encode()


@dataclass
class Site:
    val_zh: int  # judged, on a public phase
    val_zh_queued: int  # its judge run still queued: the progress on the submission page
    val_en: int
    test_zh: int  # on a phase with hidden references


@pytest.fixture
def site(live_server, alice, bob, demo_val, demo_test, fake_judge, settings):
    from tests.support.judging import set_judge

    settings.JUDGE_DEFAULTS = {"backoff_base": 0.01, "concurrency": 4}
    set_judge(demo_val, base_url=fake_judge.base_url, model="fake-judge-1")
    make_participant("carol")  # signed in, in no team yet
    make_site_organizer(make_participant("olga"))
    val_zh = judged(scored(alice, demo_val, "zh", demo_file("val-zh.json"), "Alice 中文 baseline"))
    val_zh_queued = scored(alice, demo_val, "zh", changed("val-zh.json"), "Alice shorter")
    val_en = judged(scored(alice, demo_val, "en", demo_file("val-en.json"), "Alice English"))
    judged(scored(bob, demo_val, "en", changed("val-en.json"), "Bob English"))
    test_zh = scored(alice, demo_test, "zh", demo_file("test-zh.json"), "Alice test")
    return Site(val_zh=val_zh.pk, val_zh_queued=val_zh_queued.pk, val_en=val_en.pk, test_zh=test_zh.pk)


def public_pages(site: Site) -> list[Page]:
    pages = [
        Page("challenge list", "/", "main section.card h2 a"),
        Page("challenge detail", "/c/demo/", "table.board-links"),
        Page("challenge page", "/c/demo/pages/films/", "main .markdown"),
    ]
    for phase in ("val", "test"):
        for language in ("en", "zh"):
            for stage in ("l1", "l2"):
                board = f"/c/demo/{phase}/{language}/{stage}/"
                pages.append(Page(f"board {phase} {language} {stage}", board, "table.board"))
                pages.append(Page(f"board plots {phase} {language} {stage}", board + "plots/", "#forest-heading"))
    pages += [
        Page("board, filtered by a method tag", "/c/demo/val/en/l1/?character_info=no", "#filtered-note"),
        Page("board, a wrong filter", "/c/demo/val/en/l1/?character_info=maybe", "main .filter-error"),
        Page("entry (public phase)", f"/entries/{site.val_en}/", "#entry-scores"),
        Page("entry (hidden phase)", f"/entries/{site.test_zh}/", "#entry-scores"),
        Page("help", "/help/", "#api"),
        Page("status", "/status/", "#queue"),
        Page("not found", "/no-such-page/", "main h1"),
        # A message on the page it leads to (here an error: the link is wrong).
        Page("email verification link", "/account/verify/MQ/wrong-token/", "main .messages .error", lands="/"),
        # The API docs are Swagger UI's and Redoc's markup, drawn by their scripts (wait for them) inside our
        # page. Our part (the <html> and its language, the title, the links back to the site, the landmarks)
        # is audited; theirs is left out. Swagger UI 5 nests its copy and lock buttons in the operations'
        # summary buttons (nested-interactive), skips a heading level over its operations (heading-order),
        # colours its method badges and version stamp below 4.5:1 (color-contrast) and leaves its title block
        # outside its own main landmark (region); Redoc skips heading levels in every operation. None of that
        # is in a template or a stylesheet of ours.
        Page("API docs", "/api/docs/", "#swagger-ui .info .title", exclude="#swagger-ui"),
        Page("API reference", "/api/redoc/", "redoc h1", exclude="redoc"),
    ]
    return pages


def signed_out_pages(site: Site) -> list[Page]:
    return [
        Page("sign in", "/accounts/login/", "main input[name=password]"),
        Page("sign up", "/signup/", "main input[name=password2]"),
        *public_pages(site),
    ]


def participant_pages(site: Site) -> list[Page]:
    return [
        *public_pages(site),
        Page("team", "/team/", "#join-code"),
        Page("API token", "/token/", "#token"),
        Page("email preferences", "/account/email/", "main form input[type=checkbox]"),
        Page("my submissions", "/submissions/", "#compare input[name=ids]"),
        Page("submit (public phase)", "/c/demo/val/submit/", "#submit-form"),
        Page("submit (hidden phase)", "/c/demo/test/submit/", "#submit-form"),
        Page("submission (judged)", f"/submissions/{site.val_zh}/", "#scores-title"),
        Page("submission (judge queued)", f"/submissions/{site.val_zh_queued}/", "#judge-progress"),
        Page("submission (hidden phase)", f"/submissions/{site.test_zh}/", "#scores-title"),
        Page("per-clip results", f"/submissions/{site.val_zh}/clips/", "#clips"),
        Page("per-clip results (hidden phase)", f"/submissions/{site.test_zh}/clips/", "#clips-hidden"),
        Page(
            "compare",
            f"/submissions/compare/?ids={site.val_zh},{site.val_zh_queued}",
            "#compare-metrics, #differing-clips",
        ),
        Page("compare (refused)", f"/submissions/compare/?ids={site.val_zh},{site.val_en}", "#compare-refusal"),
        Page("submission plots", f"/submissions/{site.val_en}/plots/", "#clip-heading"),
        Page("submission plots (hidden phase)", f"/submissions/{site.test_zh}/plots/", "main .note"),
    ]


def newcomer_pages(site: Site) -> list[Page]:
    """A participant in no team yet: the create-or-join forms and the pages that send there."""
    return [
        Page("team (none yet)", "/team/", "main input[name=join-join_code]"),
        Page("my submissions (none)", "/submissions/", "main table.submissions"),
        Page("submit (no team)", "/c/demo/val/submit/", "main h1"),
    ]


def organizer_pages(site: Site) -> list[Page]:
    """What an organizer sees beyond a participant: the workers, the judge's accounting, hidden per-movie means."""
    return [
        Page("status (organizer)", "/status/", "#workers"),
        Page("board (organizer)", "/c/demo/test/zh/l1/", "table.board"),
        Page("submission (organizer)", f"/submissions/{site.val_zh}/", "#judge-accounting-total"),
        Page("submission plots (organizer, hidden phase)", f"/submissions/{site.test_zh}/plots/", "#movie-heading"),
    ]


# -- axe ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        message = f"{AXE.relative_to(ROOT)} is missing: run scripts/install-js-deps (./run-tests does)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


#: Runs axe on the document but arguments[0] (a selector, or null) and hands back what a report needs.
RUN_AXE = """
const done = arguments[arguments.length - 1];
const context = arguments[0] ? {exclude: [[arguments[0]]]} : document;
axe.run(context, {resultTypes: ["violations"]}).then(
  (results) => done({
    engine: results.testEngine.version,
    violations: results.violations.map((rule) => ({
      id: rule.id, impact: rule.impact, help: rule.help,
      nodes: rule.nodes.map((node) => ({target: node.target.join(" "), summary: node.failureSummary})),
    })),
  }),
  (error) => done({error: String(error)}),
);
"""


def run_axe(driver, axe_source: str, exclude: str | None = None) -> dict:
    driver.execute_script(axe_source)
    result = driver.execute_async_script(RUN_AXE, exclude)
    assert "error" not in result, result.get("error")
    assert result["engine"] == PINNED_AXE, result  # axe ran, the version package.json pins
    return result


def report(violations: list[tuple[str, str, str, dict]]) -> str:
    lines = [f"{len(violations)} axe-core violations:"]
    for state, language, page, rule in violations:
        lines.append(f"- [{language}, {state}] {page}: {rule['id']} ({rule['impact']}) {rule['help']}")
        for node in rule["nodes"][:8]:
            summary = (node["summary"] or "").strip().splitlines()
            lines.append(f"    {node['target']}: {summary[-1].strip() if summary else ''}")
        if len(rule["nodes"]) > 8:
            lines.append(f"    ... and {len(rule['nodes']) - 8} more")
    return "\n".join(lines)


def sign_in_as(driver, base: str, username: str) -> None:
    """Sign in through the page, in any language: done when the page has the sign-out form."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/accounts/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys("pw-" + username)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").submit()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "form[action='/accounts/logout/']"), timeout=30)


def audit(driver, base: str, axe_source: str, page: Page, language: str) -> list[dict]:
    from selenium.webdriver.common.by import By

    driver.get(base + page.path)
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, page.ready), timeout=30)
    # The page itself, not a redirect to another one (a sign-in page, a list).
    assert urlsplit(driver.current_url).path == (page.lands or urlsplit(page.path).path), (page, driver.current_url)
    violations = run_axe(driver, axe_source, page.exclude)["violations"]
    # axe checks that the page has a valid lang; the site checks it is the language the page is in.
    lang = driver.execute_script("return document.documentElement.lang")
    if lang != language:
        violations.append(
            {"id": "page-language", "impact": "serious", "help": f"<html lang={lang!r}>, not {language!r}", "nodes": []}
        )
    return violations


def set_language(driver, base: str, language: str) -> None:
    driver.get(f"{base}/healthz")
    driver.add_cookie({"name": "language", "value": language, "path": "/"})


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_has_no_axe_violation(browser, live_server, site, axe_source, language):  # noqa: F811
    base = live_server.url
    browser.set_script_timeout(60)
    violations, visited = [], {}
    states = (
        ("signed out", None, signed_out_pages(site)),
        ("participant", "alice", participant_pages(site)),
        ("no team", "carol", newcomer_pages(site)),
        ("organizer", "olga", organizer_pages(site)),
    )
    for state, username, pages in states:
        browser.delete_all_cookies()
        set_language(browser, base, language)
        if username:
            sign_in_as(browser, base, username)
        for width, height in WINDOWS:
            browser.set_window_size(width, height)
            assert browser.execute_script("return window.innerWidth") <= width  # the layout of that width
            seen = visited.setdefault(f"{state}, {width}px", [])
            for page in pages:
                for rule in audit(browser, base, axe_source, page, language):
                    violations.append((f"{state}, {width}px", language, page.name, rule))
                seen.append(page.path)

    # Not vacuous: every page of every list was opened and audited, in each window.
    assert {key: len(paths) for key, paths in visited.items()} == {
        f"{state}, {width}px": len(pages) for state, _, pages in states for width, _ in WINDOWS
    }
    assert not violations, report(violations)


def test_the_pages_listed_cover_every_page_of_the_site():
    """Each named route is audited above or excluded in NOT_PAGES / AUTH_VIEWS with its reason."""
    from django.urls import get_resolver, resolve

    site = Site(val_zh=1, val_zh_queued=2, val_en=3, test_zh=4)
    pages = signed_out_pages(site) + participant_pages(site) + newcomer_pages(site) + organizer_pages(site)
    covered = {resolve(urlsplit(page.path).path).view_name for page in pages if page.name != "not found"}
    # The site's pages: the root URLconf's named routes and the web app's (the API's and the admin's are not pages).
    root = get_resolver()
    _, web = root.namespace_dict["web"]
    names = {name for name in root.reverse_dict if isinstance(name, str)}
    names |= {f"web:{name}" for name in web.reverse_dict if isinstance(name, str)}
    assert {"web:challenge-list", "web:submission-clips", "api-docs", "login"} <= names  # the routes were found
    assert names - AUTH_VIEWS - set(NOT_PAGES) - covered == set()
    assert not (set(NOT_PAGES) | AUTH_VIEWS) - names  # no stale exclusion


def test_the_harness_reports_a_violation(browser, live_server, axe_source):  # noqa: F811
    """An image without a text alternative, put into a page that has none: axe finds it, and the report names it."""
    base = live_server.url
    browser.set_script_timeout(60)
    browser.get(f"{base}/help/")
    browser.execute_script(
        "const image = document.createElement('img'); image.id = 'broken-image'; image.src = '/static/favicon.svg';"
        "document.querySelector('main').append(image);"
    )
    violations = run_axe(browser, axe_source)["violations"]
    image_alt = [rule for rule in violations if rule["id"] == "image-alt"]
    assert image_alt and [node["target"] for node in image_alt[0]["nodes"]] == ["#broken-image"]
    assert "image-alt (critical)" in report([("signed out", "en", "help", image_alt[0])])


def test_a_chinese_film_title_carries_its_language_on_a_page_in_another():
    from django.template import Context, Template
    from django.utils import translation

    template = Template("{% load results %}<td{{ title|chinese_lang }}>{{ title }}</td>")
    with translation.override("en"):
        assert template.render(Context({"title": "我不是药神"})) == '<td lang="zh">我不是药神</td>'
        assert template.render(Context({"title": "Night Market"})) == "<td>Night Market</td>"
        assert template.render(Context({"title": None})) == "<td>None</td>"
    with translation.override("zh-hans"):
        assert template.render(Context({"title": "我不是药神"})) == "<td>我不是药神</td>"  # the page's own language


@pytest.mark.parametrize("language", LANGUAGES)
def test_forms_showing_their_errors_have_no_axe_violation(
    browser,  # noqa: F811
    live_server,
    axe_source,
    alice,
    demo_val,
    language,
    tmp_path,
):
    """The error states the page lists above do not reach: a refused sign-in and sign-up, a wrong join code
    (a message), and an upload refused by the submit page's script."""
    from selenium.webdriver.common.by import By

    base = live_server.url
    browser.set_script_timeout(60)
    set_language(browser, base, language)
    make_participant("carol")
    violations = []

    def check(name: str, ready: str) -> None:
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ready), timeout=30)
        assert browser.execute_script("return document.documentElement.lang") == language
        violations.extend(("errors", language, name, rule) for rule in run_axe(browser, axe_source)["violations"])

    browser.get(f"{base}/accounts/login/")
    browser.find_element(By.NAME, "username").send_keys("alice")
    browser.find_element(By.NAME, "password").send_keys("not her password")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    check("sign in, wrong password", "main .errorlist")

    browser.get(f"{base}/signup/")
    browser.find_element(By.NAME, "username").send_keys("alice")
    browser.find_element(By.NAME, "email").send_keys("alice@example.org")
    browser.find_element(By.NAME, "password1").send_keys("short")
    browser.find_element(By.NAME, "password2").send_keys("other")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    check("sign up, taken name and unequal passwords", "main .errorlist")

    sign_in_as(browser, base, "carol")
    browser.get(f"{base}/team/")
    browser.find_element(By.NAME, "join-join_code").send_keys("no-such-code")
    browser.find_element(By.CSS_SELECTOR, "main button[name=join]").click()
    check("team, wrong join code", "main .messages .error")

    browser.delete_all_cookies()
    set_language(browser, base, language)
    sign_in_as(browser, base, "alice")
    browser.get(f"{base}/c/demo/val/submit/")
    bad = tmp_path / "bad.json"
    bad.write_text('{"not a clip": 1}', encoding="utf-8")
    browser.find_element(By.CSS_SELECTOR, "input[name=language][value=zh]").click()
    browser.find_element(By.NAME, "predictions").send_keys(str(bad))
    browser.find_element(By.ID, "submit-button").click()
    check("submit, a file with problems", "#problems:not([hidden]) #problem-list li")
    # The script moved focus to the problems, announced from their start.
    assert browser.execute_script("return document.activeElement.id") == "problems"

    assert not violations, report(violations)
