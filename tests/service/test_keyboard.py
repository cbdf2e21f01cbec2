"""The site with the keyboard alone, in English and in Simplified Chinese: sign up, create a team, leave it and
join another, open a submission's per-clip results, sort them, and compare two submissions.

Only key presses (Tab, Shift+Tab, Enter, Space, arrow keys, typed text) drive the pages: no click. Each element
that takes focus on the way must show it. Elements are found by what they are (name, href, id), not by their
text, which the Chinese catalog changes.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.service.test_accessibility import changed, scored
from tests.service.test_browser import browser, wait_for  # noqa: F401 (the fixture)
from tests.support.service import demo_file

pytestmark = pytest.mark.browser

PASSWORD = "a-Long-pass-phrase-42"

#: document.activeElement as a short CSS-like description, with whether it shows that it has focus.
ACTIVE = """
const element = document.activeElement;
if (!element || element === document.body) return {description: "body", indicator: true};
let description = element.tagName.toLowerCase();
if (element.id) description += "#" + element.id;
for (const name of ["name", "value", "type", "href"]) {
  if (element.getAttribute(name)) description += `[${name}="${element.getAttribute(name)}"]`;
}
const text = (element.innerText || "").trim().slice(0, 30);
if (text) description += ` "${text}"`;
const style = getComputedStyle(element);
const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
const shadow = style.boxShadow && style.boxShadow !== "none";
return {description: description, indicator: outline || shadow, outline: style.outlineStyle + " " + style.outlineWidth};
"""


@pytest.fixture(autouse=True)
def no_judge(settings):
    settings.JUDGE_DEFAULTS = {}


def press(driver, *keys, shift: bool = False) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    actions = ActionChains(driver)
    if shift:
        actions.key_down(Keys.SHIFT)
    for key in keys:
        actions.send_keys(key)
    if shift:
        actions.key_up(Keys.SHIFT)
    actions.perform()


def type_text(driver, text: str) -> None:
    press(driver, text)


def active(driver) -> dict:
    return driver.execute_script(ACTIVE)


def matches(driver, predicate) -> bool:
    """``predicate``: a CSS selector the focused element matches, or a function of the focused WebElement."""
    if isinstance(predicate, str):
        return driver.execute_script(
            "return !!document.activeElement && document.activeElement.matches(arguments[0])", predicate
        )
    return predicate(driver.switch_to.active_element)


def tab_to(driver, predicate, limit: int = 80, backwards: bool = False) -> dict:
    """Press Tab (Shift+Tab ``backwards``) until the focused element matches ``predicate``; fail with the elements
    focused on the way if none does within ``limit`` presses, or if one of them showed no focus indicator."""
    from selenium.webdriver.common.keys import Keys

    seen = []
    for _ in range(limit):
        press(driver, Keys.TAB, shift=backwards)
        focused = active(driver)
        seen.append(focused)
        unmarked = [item["description"] for item in seen if not item["indicator"]]
        assert not unmarked, f"focused without a visible focus indicator: {unmarked}"
        if matches(driver, predicate):
            return focused
    pytest.fail(
        f"{limit} presses of {'Shift+' if backwards else ''}Tab never reached {predicate!r} on {driver.current_url}; "
        "focused: " + ", ".join(item["description"] for item in seen)
    )


def activate(driver, predicate, key=None, backwards: bool = False) -> None:
    """Tab to ``predicate`` and press Enter (or ``key``) on it."""
    from selenium.webdriver.common.keys import Keys

    tab_to(driver, predicate, backwards=backwards)
    press(driver, key or Keys.ENTER)


def arrive(driver, path: str, language: str, ready: str) -> None:
    """Wait for the page at ``path`` (its content ``ready`` there) in ``language``."""
    from selenium.webdriver.common.by import By

    wait_for(
        driver, lambda d: urlsplit(d.current_url).path == path and d.find_elements(By.CSS_SELECTOR, ready), timeout=30
    )
    assert driver.execute_script("return document.documentElement.lang") == language


def sign_up(driver, username: str, language: str) -> None:
    """From any page, the header's sign-up link, the form filled in field by field, and its button: by keyboard."""
    activate(driver, "header a[href='/signup/']")
    arrive(driver, "/signup/", language, "main input[name=password2]")
    for name, value in (
        ("username", username),
        ("email", f"{username}@example.org"),
        ("password1", PASSWORD),
        ("password2", PASSWORD),
    ):
        tab_to(driver, f"main input[name={name}]")
        type_text(driver, value)
    activate(driver, "main form button[type=submit]")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_sign_up_join_a_team_browse_and_compare_results_with_the_keyboard_alone(
    browser,  # noqa: F811
    live_server,
    alice,
    demo_val,
    language,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from leaderboard.teams.models import Team

    first = scored(alice, demo_val, "zh", demo_file("val-zh.json"), "Alice full")
    second = scored(alice, demo_val, "zh", changed("val-zh.json"), "Alice shorter")
    join_code = Team.objects.get(name="Team A").join_code
    base = live_server.url
    username = f"keys-{language}"

    browser.get(base + "/healthz")
    browser.add_cookie({"name": "language", "value": "en", "path": "/"})
    browser.get(base + "/")
    arrive(browser, "/", "en", "main h1")
    if language != "en":
        # The language switch in the header.
        activate(browser, f"header button[name=language][value={language}]")
        wait_for(browser, lambda d: d.execute_script("return document.documentElement.lang") == language)

    # The skip link comes first and takes the next Tab into the page's content.
    press(browser, Keys.TAB)
    assert matches(browser, "a.skip-link")
    press(browser, Keys.ENTER, Keys.TAB)
    assert matches(browser, "main *"), active(browser)

    sign_up(browser, username, language)

    # Create a team (Enter in its one field submits its form), leave it, join Alice's with its join code.
    arrive(browser, "/team/", language, "main input[name=create-name]")
    assert browser.find_elements(By.CSS_SELECTOR, "form[action='/accounts/logout/']")  # signed in
    tab_to(browser, "main input[name=create-name]")
    type_text(browser, f"Keyboard team {language}")
    press(browser, Keys.ENTER)
    arrive(browser, "/team/", language, "#join-code")
    assert Team.objects.filter(name=f"Keyboard team {language}", memberships__user__username=username).exists()
    activate(browser, "main button[name=leave]", Keys.SPACE)
    arrive(browser, "/team/", language, "main input[name=join-join_code]")
    tab_to(browser, "main input[name=join-join_code]")
    type_text(browser, join_code)
    activate(browser, "main button[name=join]", Keys.SPACE)
    arrive(browser, "/team/", language, "#join-code")
    assert browser.find_element(By.ID, "join-code").text == join_code

    # Compare two of the team's submissions: from the button, back to their checkboxes.
    activate(browser, "header a[href='/submissions/']")
    arrive(browser, "/submissions/", language, "#compare input[name=ids]")
    tab_to(browser, "#compare button[type=submit]")
    tab_to(browser, f"#compare-{second.pk}", backwards=True)
    press(browser, Keys.SPACE)
    tab_to(browser, f"#compare-{first.pk}", backwards=True)
    press(browser, Keys.SPACE)
    checked = browser.execute_script(
        "return [...document.querySelectorAll('#compare input[name=ids]:checked')].map((box) => box.value)"
    )
    assert sorted(checked) == sorted([str(first.pk), str(second.pk)])
    activate(browser, "#compare button[type=submit]")
    arrive(browser, "/submissions/compare/", language, "#compare-metrics")
    assert sorted(parse_qs(urlsplit(browser.current_url).query)["ids"]) == sorted([str(first.pk), str(second.pk)])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#compare-metrics thead th")) == 3  # the metric, and each

    # Another metric for the clips where they differ most: the arrow keys change the choice, Enter shows it.
    before = browser.find_element(By.ID, "metric").get_attribute("value")
    tab_to(browser, "#metric")
    press(browser, Keys.ARROW_DOWN)
    chosen = browser.find_element(By.ID, "metric").get_attribute("value")
    if chosen == before:  # the last option was chosen: go up instead
        press(browser, Keys.ARROW_UP)
        chosen = browser.find_element(By.ID, "metric").get_attribute("value")
    assert chosen != before
    activate(browser, "#differing form button[type=submit]")
    wait_for(browser, lambda d: parse_qs(urlsplit(d.current_url).query).get("metric") == [chosen], timeout=30)
    arrive(browser, "/submissions/compare/", language, "#differing-clips")
    assert browser.find_element(By.ID, "metric").get_attribute("value") == chosen

    # The first submission's page, then its per-clip results.
    activate(browser, f"#compare-metrics thead a[href='/submissions/{first.pk}/']")
    arrive(browser, f"/submissions/{first.pk}/", language, "#status")
    activate(browser, f"main a[href='/submissions/{first.pk}/clips/']")
    arrive(browser, f"/submissions/{first.pk}/clips/", language, "#clips")

    # Sort by another column, then reverse it: the heading says how the table is sorted.
    def sort_state() -> dict[str, str]:
        return {
            th.find_element(By.CSS_SELECTOR, "a.sort").get_attribute("href"): th.get_attribute("aria-sort")
            for th in browser.find_elements(By.CSS_SELECTOR, "#clips thead th[aria-sort]")
        }

    other = browser.find_element(By.CSS_SELECTOR, "#clips thead a.sort:not(.current)")
    metric = parse_qs(urlsplit(other.get_attribute("href")).query)["sort"][0]
    activate(browser, f"#clips thead a.sort[href*='sort={metric}&']")
    wait_for(browser, lambda d: parse_qs(urlsplit(d.current_url).query).get("sort") == [metric], timeout=30)
    arrive(browser, f"/submissions/{first.pk}/clips/", language, "#clips")
    current = browser.find_element(By.CSS_SELECTOR, "#clips thead a.sort.current")
    assert parse_qs(urlsplit(current.get_attribute("href")).query)["sort"] == [metric]
    first_order = current.find_element(By.XPATH, "..").get_attribute("aria-sort")
    assert first_order in ("ascending", "descending"), sort_state()
    activate(browser, "#clips thead a.sort.current")
    wait_for(
        browser,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#clips thead a.sort.current")
            .find_element(By.XPATH, "..")
            .get_attribute("aria-sort")
            not in (first_order, None)
        ),
        timeout=30,
    )
    # The narrations and references are marked with their language, whatever the page's.
    assert {cell.get_attribute("lang") for cell in browser.find_elements(By.CSS_SELECTOR, "#clips td.narration")} == {
        "zh"
    }


def test_tab_to_fails_naming_what_took_focus(browser, live_server):  # noqa: F811
    """The helper cannot pass by accident: a target that no Tab reaches, or a focus ring taken away, fails it."""
    browser.get(live_server.url + "/help/")
    with pytest.raises(pytest.fail.Exception) as missing:
        tab_to(browser, "#no-such-element", limit=5)
    assert "5 presses of Tab never reached '#no-such-element'" in str(missing.value)
    assert 'focused: a[href="#main"]' in str(missing.value)  # the skip link first, then the header's links

    browser.get(live_server.url + "/help/")
    # The stylesheet's own rules (an inline <style> would be refused by the page's policy).
    browser.execute_script(
        "document.styleSheets[0].insertRule("
        "'*:focus, *:focus-visible { outline: none !important; box-shadow: none !important; }', "
        "document.styleSheets[0].cssRules.length)"
    )
    with pytest.raises(AssertionError, match="without a visible focus indicator"):
        tab_to(browser, "header a[href='/help/']")
