"""A new user's first hour, in English and in Chinese, the way issue 12 says it is done: with the keyboard alone
in headless Chromium, sign up, verify the address, join a team and take the API token; with the client,
validate a file offline and submit two, watching the progress; back in the browser, browse the per-clip
results and compare the two submissions. The scoring is a real Celery worker's.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from tests.service.test_browser import browser, wait_for  # noqa: F401 (the fixture)
from tests.service.test_client import OK, Client
from tests.service.test_keyboard import activate, arrive, press, sign_up, tab_to, type_text
from tests.support.data import DEMO_PREDICTIONS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_judge(settings):
    settings.JUDGE_DEFAULTS = {}


def shorter(tmp_path):
    """The demo's Chinese validation narrations, every other one cut to its first half: a second, worse run."""
    narrations = json.loads((DEMO_PREDICTIONS / "val-zh.json").read_text(encoding="utf-8"))
    for index, clip_id in enumerate(sorted(narrations)):
        if index % 2:
            narrations[clip_id] = narrations[clip_id][: max(1, len(narrations[clip_id]) // 2)]
    path = tmp_path / "shorter-zh.json"
    path.write_text(json.dumps(narrations, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_new_user_signs_up_submits_with_the_client_and_reads_the_results(
    browser,  # noqa: F811
    live_server,
    alice,
    demo_val,
    celery_worker,
    mailoutbox,
    tmp_path,
    language,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from leaderboard.teams.models import Team

    base = live_server.url
    username = f"new-{language}"
    join_code = Team.objects.get(name="Team A").join_code

    # The first visit follows the browser's language.
    browser.execute_cdp_cmd("Network.enable", {})
    accept = "zh-CN,zh;q=0.9" if language == "zh-hans" else "en-US,en;q=0.9"
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": accept}})
    browser.get(base + "/")
    arrive(browser, "/", language, "main h1")

    # Sign up with the keyboard.
    sign_up(browser, username, language)
    arrive(browser, "/team/", language, "main input[name=join-join_code]")

    # The verification email is in the language of the sign-up; its link verifies the address.
    [email] = [message for message in mailoutbox if message.to == [f"{username}@example.org"]]
    assert bool(re.search(r"[\u4e00-\u9fff]", email.body)) == (language == "zh-hans"), email.body
    [link] = [word for word in email.body.split() if "/account/verify/" in word]
    browser.get(base + urlsplit(link).path)
    wait_for(browser, lambda d: urlsplit(d.current_url).path != urlsplit(link).path)

    # Join Alice's team with its code, then take the API token.
    browser.get(base + "/team/")
    arrive(browser, "/team/", language, "main input[name=join-join_code]")
    tab_to(browser, "main input[name=join-join_code]")
    type_text(browser, join_code)
    activate(browser, "main button[name=join]")
    arrive(browser, "/team/", language, "#join-code")
    activate(browser, "header a[href='/token/']")
    arrive(browser, "/token/", language, "#token")
    token = browser.find_element(By.ID, "token").text.strip()
    assert len(token) >= 20

    # The client: log in, validate offline, submit and watch, in the terminal's language.
    client = Client(base, tmp_path / "config")
    client.env["LANG"] = "zh_CN.UTF-8" if language == "zh-hans" else "en_US.UTF-8"
    assert client("login", "--server", base, "--token", token).returncode == OK
    checked = client("validate", "demo/val", "--language", "zh", DEMO_PREDICTIONS / "val-zh.json")
    assert checked.returncode == OK, checked.stderr

    # A file of the wrong language is refused, in the reader's words, and costs nothing.
    refused = client("submit", "demo/val", "--language", "en", DEMO_PREDICTIONS / "val-zh.json")
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert bool(re.search(r"[\u4e00-\u9fff]{4}", refused.stderr)) == (language == "zh-hans"), refused.stderr

    ids = []
    for path in (DEMO_PREDICTIONS / "val-zh.json", shorter(tmp_path)):
        submitted = client("submit", "demo/val", "--language", "zh", path, "--method-name", path.stem, "--poll", "0.2")
        assert submitted.returncode == OK, (submitted.stdout, submitted.stderr, celery_worker.output()[-2000:])
        # Not a terminal: each change of the progress is a line of its own.
        assert "scoring the classic metrics" in submitted.stderr or "waiting" in submitted.stderr, submitted.stderr
        ids.append(int(re.search(r"Submitted: #(\d+)", submitted.stderr).group(1)))
    first, second = ids

    # Back in the browser: the team's submissions, two compared, then the per-clip results.
    browser.get(base + "/")
    activate(browser, "header a[href='/submissions/']")
    arrive(browser, "/submissions/", language, "#compare input[name=ids]")
    for submission_id in (first, second):
        tab_to(browser, f"#compare-{submission_id}")
        press(browser, Keys.SPACE)
    activate(browser, "#compare button[type=submit]")
    arrive(browser, "/submissions/compare/", language, "#compare-metrics")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#compare-metrics thead th")) == 3
    assert browser.find_elements(By.CSS_SELECTOR, "#differing-clips tbody tr"), "no clip where the two differ"

    activate(browser, f"#compare-metrics thead a[href='/submissions/{first}/']")
    arrive(browser, f"/submissions/{first}/", language, "#status")
    activate(browser, f"main a[href='/submissions/{first}/clips/']")
    arrive(browser, f"/submissions/{first}/clips/", language, "#clips")
    clips = len(json.loads((DEMO_PREDICTIONS / "val-zh.json").read_text(encoding="utf-8")))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#clips tbody tr")) == clips
    assert {cell.get_attribute("lang") for cell in browser.find_elements(By.CSS_SELECTOR, "#clips td.narration")} == {
        "zh"
    }
