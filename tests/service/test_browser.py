"""The site in headless Chromium: sign in, upload with the progress bar, watch the scoring, read the board."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.data import DEMO_PREDICTIONS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but Debian's chromium and chromium-driver are not installed")
        pytest.skip("Debian's chromium and chromium-driver are not installed (./run-tests installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout=60):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The status page reloads itself when the status changes: an element found
    # just before a reload is stale a moment later; look again.
    return WebDriverWait(
        driver, timeout, poll_frequency=0.2, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    ).until(condition)


def sign_in(driver, base, username, password):
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/accounts/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(driver, lambda d: "Sign out" in d.page_source)


def test_submit_through_the_page_and_see_the_board(browser, live_server, celery_worker, alice, demo_val, tmp_path):
    from selenium.webdriver.common.by import By

    base = live_server.url
    sign_in(browser, base, "alice", "pw-alice")

    browser.get(f"{base}/c/demo/val/submit/")
    assert "20 submissions left today" in browser.find_element(By.ID, "quota").text
    browser.find_element(By.CSS_SELECTOR, "input[name=language][value=en]").click()
    browser.find_element(By.NAME, "predictions").send_keys(str(DEMO_PREDICTIONS / "val-en.json"))
    browser.find_element(By.NAME, "method_name").send_keys("Browser <b>bold</b> baseline")
    browser.find_element(By.NAME, "is_public").click()
    browser.find_element(By.ID, "submit-button").click()

    wait_for(browser, lambda d: "/submissions/" in d.current_url)
    wait_for(browser, lambda d: "Scored" in d.find_element(By.ID, "status").text, timeout=120)
    assert "BLEU-4" in browser.page_source
    browser.save_screenshot(str(tmp_path / "submission.png"))

    browser.get(f"{base}/c/demo/val/en/l1/")
    row = browser.find_element(By.CSS_SELECTOR, "table.board tbody tr")
    assert "Team A" in row.text and "Browser <b>bold</b> baseline" in row.text  # shown as text, not markup
    assert not browser.find_elements(By.CSS_SELECTOR, "table.board tbody b")


def test_a_rejected_upload_lists_its_problems_without_leaving_the_page(browser, live_server, alice, demo_val, tmp_path):
    from selenium.webdriver.common.by import By

    bad = tmp_path / "bad.json"
    bad.write_text('{"9100000000000000001_12_18": 1, "<img src=x onerror=alert(1)>": "x"}', encoding="utf-8")
    sign_in(browser, live_server.url, "alice", "pw-alice")
    browser.get(f"{live_server.url}/c/demo/val/submit/")
    browser.find_element(By.CSS_SELECTOR, "input[name=language][value=zh]").click()
    browser.find_element(By.NAME, "predictions").send_keys(str(bad))
    browser.find_element(By.ID, "submit-button").click()
    problems = wait_for(
        browser, lambda d: d.find_element(By.ID, "problems").is_displayed() and d.find_element(By.ID, "problem-list")
    )
    text = problems.text
    assert "Narrations that are not strings (1)" in text and "without a narration (9)" in text
    assert '"<img src=x onerror=alert(1)>"' in text  # the key is shown as text
    assert not browser.find_elements(By.CSS_SELECTOR, "#problem-list img")
    assert browser.current_url.endswith("/c/demo/val/submit/")


#: Registered by the browser before any page script, outside the page's policy: every violation it reports.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def test_the_pages_the_admin_and_the_api_docs_run_under_the_content_security_policy(
    browser, live_server, alice, admin_user, demo_val
):
    """The strict policy blocks nothing the site needs: no page breaks, no violation is reported."""
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CSP_VIOLATIONS})
    base = live_server.url

    def violations(path: str, ready) -> list[str]:
        browser.get(f"{base}{path}")
        wait_for(browser, ready, timeout=30)
        return browser.execute_script("return window.__cspViolations")

    seen = {}
    seen["/api/docs/"] = violations(
        "/api/docs/",
        lambda d: "Movie101v2 leaderboard API" in d.find_element(By.CSS_SELECTOR, ".swagger-ui .title").text,
    )
    seen["/api/redoc/"] = violations(
        "/api/redoc/", lambda d: "Movie101v2 leaderboard API" in d.find_element(By.CSS_SELECTOR, "h1").text
    )
    sign_in(browser, base, "alice", "pw-alice")
    for path in ("/", "/c/demo/", "/c/demo/val/submit/", "/c/demo/val/en/l1/", "/token/", "/team/", "/status/"):
        seen[path] = violations(path, lambda d: d.find_element(By.CSS_SELECTOR, "footer"))
    browser.delete_all_cookies()
    sign_in(browser, base, "admin", "password")
    challenge = demo_val.challenge_id
    seen["admin"] = violations(
        f"/admin/challenges/challenge/{challenge}/change/",
        lambda d: d.find_element(By.ID, "id_organizers_from"),  # the two-list widget, built by the admin's script
    )
    # Redoc asks for Google's fonts and redoc.ly's logo: refused, as every other site is; the page renders.
    seen["/api/redoc/"] = [
        violation for violation in seen["/api/redoc/"] if not violation.split()[1].startswith("https://")
    ]
    assert not any(seen.values()), seen


def rendered_fonts(driver, selector: str) -> dict[str, int]:
    """The fonts Chromium drew ``selector``'s text with, and how many glyphs each (DevTools' CSS domain)."""
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"nothing matches {selector}"
    fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {font["familyName"]: font["glyphCount"] for font in fonts}


def test_a_chinese_reader_gets_a_chinese_page_in_a_chinese_font(browser, live_server, demo_val):
    """Accept-Language zh-CN: the page is Chinese (not the English fallback) and drawn with a CJK font the
    stylesheet names, which Debian's fonts-noto-cjk provides here (PingFang or YaHei elsewhere)."""
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": "zh-CN,zh;q=0.9"}})
    browser.get(f"{live_server.url}/c/demo/")
    assert browser.execute_script("return document.documentElement.lang") == "zh-hans"
    nav = browser.find_element(By.CSS_SELECTOR, "header nav").text
    assert "挑战赛" in nav and "Challenges" not in nav

    main_text = browser.find_element(By.ID, "main").text
    hanzi = sum(1 for char in main_text if "\u4e00" <= char <= "\u9fff")
    latin = sum(1 for char in main_text if char.isascii() and char.isalpha())
    assert hanzi > latin, f"{hanzi} hanzi and {latin} Latin letters: the page fell back to English"

    fonts = rendered_fonts(browser, "header nav ul li a")
    stylesheet_fonts = {"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC"}
    assert set(fonts) & stylesheet_fonts, f"drawn with {fonts}, none of the CJK fonts the stylesheet names"
    assert not any("DejaVu" in name or "Liberation" in name for name in fonts), fonts

    # The switch takes the reader to English, which stays for the next page.
    browser.find_element(By.CSS_SELECTOR, "button[name=language][value=en]").click()
    wait_for(browser, lambda d: d.execute_script("return document.documentElement.lang") == "en")
    browser.get(f"{live_server.url}/help/")
    assert browser.execute_script("return document.documentElement.lang") == "en"
