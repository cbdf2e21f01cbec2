"""Organizers' texts in English and Chinese: bundles state them, pages, emails and the API show them.

A text readers see is one string (every language) or ``{en: ..., zh: ...}`` in a bundle; the English
(or the only text) is stored in the model's field, the Chinese in its ``translations``, and every
reader goes through ``challenges.texts.localized``. Genre names follow the page's language too.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.template import engines
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from leaderboard.boards.breakdowns import shown_genre
from leaderboard.boards.models import Board
from leaderboard.challenges.bundle_export import challenge_bundle, dump_bundle
from leaderboard.challenges.bundles import BundleError, validate_bundle
from leaderboard.challenges.genres import genre_en, genre_name
from leaderboard.challenges.models import Challenge, ChallengePage, Movie, Phase
from leaderboard.challenges.services import load_bundle
from leaderboard.challenges.texts import localized, text_entry
from leaderboard.notifications import services as notifications
from leaderboard.notifications.models import NotificationKind
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Submission
from tests.service.test_bundles import database_state, run
from tests.support.data import ROOT
from tests.support.service import demo_file

CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
VAL_MOVIES = ("9100000000000000001", "9100000000000000002")


def bundle(**changes) -> dict:
    """A one-phase bundle with inline references; ``changes`` replace its top-level entries."""
    data = {
        "slug": "bi",
        "title": {"en": "Bilingual", "zh": "双语"},
        "description": "One text for every language.",
        "terms": {"zh": "只有中文条款。"},
        "pages": [{"slug": "about", "title": {"en": "About", "zh": "简介"}, "body": {"en": "Hello", "zh": "你好"}}],
        "phases": [
            {
                "slug": "val",
                "title": {"en": "Validation", "zh": "验证集"},
                "description": {"zh": "只有中文说明。"},
                "starts_at": "2025-01-01T00:00:00Z",
                "references_public": True,
                "references": {"zh": {"narrations": {"1_0_1": "你好"}}},
                "boards": [
                    {"key": "l1", "title": {"en": "L1", "zh": "L1 · 视觉事实"}, "primary": "l1"},
                    {"key": "classic", "title": "Classic", "description": "BLEU and friends", "primary": "cider"},
                ],
            }
        ],
    }
    data.update(changes)
    return data


def read(data: dict):
    return validate_bundle(data, base_dir=ROOT)


def errors_of(data: dict) -> list[str]:
    with pytest.raises(BundleError) as failure:
        read(data)
    return failure.value.errors


def page(client: Client, path: str, **headers) -> str:
    response = client.get(path, **headers)
    assert response.status_code == 200, path
    return response.content.decode()


# -- bundles ---------------------------------------------------------------------------------------


def test_a_text_is_one_string_or_english_and_chinese():
    spec = read(bundle())
    assert (spec.title, spec.description, spec.terms) == ("Bilingual", "One text for every language.", "只有中文条款。")
    assert spec.translations == {"zh": {"title": "双语", "terms": "只有中文条款。"}}
    assert spec.pages[0]["title"] == "About" and spec.pages[0]["body"] == "Hello"
    assert spec.pages[0]["translations"] == {"zh": {"title": "简介", "body": "你好"}}
    phase = spec.phases[0].fields
    # Only zh given: the field holds it too, so an English page shows it rather than nothing.
    assert (phase["title"], phase["description"]) == ("Validation", "只有中文说明。")
    assert phase["translations"] == {"zh": {"title": "验证集", "description": "只有中文说明。"}}
    l1, classic = spec.phases[0].boards
    assert (l1["title"], l1["translations"]) == ("L1", {"zh": {"title": "L1 · 视觉事实"}})
    assert (classic["title"], classic["description"], classic["translations"]) == ("Classic", "BLEU and friends", {})


@pytest.mark.parametrize(
    ("where", "value", "expected"),
    [
        ("phase.title", {"en": "Val", "fr": "Validation"}, 'phases[0].title: unknown language "fr"; use en and zh'),
        ("challenge.terms", {"de": "x"}, 'terms: unknown language "de"; use en and zh'),
        ("page.body", {"en": "x", "zh-hans": "y"}, 'pages[0].body: unknown language "zh-hans"; use en and zh'),
        ("board.description", {"EN": "x"}, 'phases[0].boards[0].description: unknown language "EN"; use en and zh'),
        ("phase.title", {}, "phases[0].title: give the text in en or zh, or both"),
        ("phase.title", {"en": None, "zh": None}, "phases[0].title: give the text in en or zh, or both"),
        ("phase.description", {"zh": 3}, "phases[0].description.zh: must be text, not a number"),
        ("phase.title", ["Val"], "phases[0].title: must be text, not a list (or a mapping {en: ..., zh: ...})"),
        ("phase.title", {"zh": "长" * 201}, "phases[0].title.zh: at most 200 characters (has 201)"),
        ("challenge.title", {"en": "x" * 201, "zh": "短"}, "title.en: at most 200 characters (has 201)"),
        ("page.title", {"zh": "页" * 250}, "pages[0].title.zh: at most 200 characters (has 250)"),
        (
            "board.title",
            {"en": "ok", "zh": "榜" * 201},
            "phases[0].boards[0].title.zh: at most 200 characters (has 201)",
        ),
        ("phase.title", "x" * 201, "phases[0].title: at most 200 characters (has 201)"),
    ],
)
def test_a_bad_text_is_refused_with_its_path(where, value, expected):
    data = bundle()
    owner, key = where.split(".")
    target = {
        "challenge": data,
        "page": data["pages"][0],
        "phase": data["phases"][0],
        "board": data["phases"][0]["boards"][0],
    }[owner]
    target[key] = value
    assert expected in errors_of(data)


def test_the_models_refuse_translations_they_cannot_show(db):
    phase = Phase(challenge=Challenge(slug="x", title="X"), slug="val", title="Val", starts_at="2025-01-01T00:00Z")
    for translations, message in (
        ({"fr": {"title": "Validation"}}, 'Unknown language "fr"'),
        ({"zh": {"terms": "条款"}}, '"zh.terms": not a translated field'),
        ({"zh": {"title": "长" * 201}}, '"zh.title": at most 200 characters (has 201)'),
        ({"zh": {"title": 3}}, '"zh.title" must be text'),
    ):
        phase.translations = translations
        with pytest.raises(ValidationError) as refused:
            phase.clean()
        assert any(message in text for text in refused.value.message_dict["translations"]), refused.value
    board = Board(phase=phase, key="l1", title="L1", primary_metric="l1", translations={"zh": {"body": "x"}})
    with pytest.raises(ValidationError) as refused:
        board.clean()
    assert set(refused.value.message_dict) == {"translations"}
    ChallengePage(title="t", translations={"zh": {"title": "页", "body": "正文"}}).clean()  # right: no error


def test_loading_stores_the_texts_and_a_reload_updates_them(db):
    load_bundle(read(bundle()))
    challenge = Challenge.objects.get(slug="bi")
    assert challenge.title == "Bilingual" and challenge.terms == "只有中文条款。"
    assert challenge.translations == {"zh": {"title": "双语", "terms": "只有中文条款。"}}
    assert challenge.pages.get().translations == {"zh": {"title": "简介", "body": "你好"}}
    phase = challenge.phases.get()
    assert phase.translations == {"zh": {"title": "验证集", "description": "只有中文说明。"}}
    assert phase.boards.get(key="l1").translations == {"zh": {"title": "L1 · 视觉事实"}}
    assert phase.boards.get(key="classic").translations == {}

    changed = bundle()
    changed["phases"][0]["title"] = {"en": "Validation", "zh": "验证阶段"}
    changed["phases"][0]["boards"][0]["title"] = "L1"  # one text again: the Chinese goes
    changed["title"] = "Bilingual"
    report = "\n".join(load_bundle(read(changed)).lines)
    assert "challenge bi: updated (translations)" in report
    assert "phase bi/val: updated (translations)" in report
    assert "board bi/val/l1: updated (translations)" in report
    assert "page bi/about: unchanged" in report
    assert Phase.objects.get(slug="val").translations["zh"]["title"] == "验证阶段"
    assert Board.objects.get(key="l1").translations == {}
    assert Challenge.objects.get(slug="bi").translations == {"zh": {"terms": "只有中文条款。"}}


def test_export_writes_en_and_zh_where_there_is_a_translation_and_loads_back_unchanged(db, tmp_path):
    load_bundle(read(bundle()))
    exported, _ = challenge_bundle(Challenge.objects.get(slug="bi"))
    assert exported["title"] == {"en": "Bilingual", "zh": "双语"}
    assert exported["description"] == "One text for every language."
    assert exported["terms"] == {"zh": "只有中文条款。"}
    assert exported["pages"][0] == {
        "slug": "about",
        "title": {"en": "About", "zh": "简介"},
        "body": {"en": "Hello", "zh": "你好"},
    }
    phase = exported["phases"][0]
    assert phase["title"] == {"en": "Validation", "zh": "验证集"} and phase["description"] == {"zh": "只有中文说明。"}
    assert (
        phase["boards"][0]["title"] == {"en": "L1", "zh": "L1 · 视觉事实"} and "description" not in phase["boards"][0]
    )
    assert phase["boards"][1]["title"] == "Classic" and phase["boards"][1]["description"] == "BLEU and friends"

    text = dump_bundle(exported)
    assert "zh: 双语" in text  # readable, not \u escapes
    before = database_state()
    report = load_bundle(read(yaml.safe_load(text)))
    assert database_state() == before
    assert all(": unchanged" in line for line in report.lines), report.lines
    assert dump_bundle(challenge_bundle(Challenge.objects.get(slug="bi"))[0]) == text


def test_a_translation_set_in_the_admin_exports_and_loads_back(db):
    load_bundle(read(bundle()))
    board = Board.objects.get(key="classic")
    board.translations = {"zh": {"description": "BLEU 等指标"}}
    board.save()
    phase = Phase.objects.get(slug="val")
    phase.description = ""  # a Chinese description beside an empty English one
    phase.save()
    assert text_entry(phase, "description") == {"en": "", "zh": "只有中文说明。"}
    exported, _ = challenge_bundle(Challenge.objects.get(slug="bi"))
    assert exported["phases"][0]["boards"][1]["description"] == {"en": "BLEU and friends", "zh": "BLEU 等指标"}
    before = database_state()
    load_bundle(read(copy.deepcopy(exported)))
    assert database_state() == before


def test_the_showcase_round_trip_keeps_its_translations(db, tmp_path):
    from tests.service.test_bundles import copy_showcase

    run("load_challenge", str(copy_showcase(tmp_path)))
    test = Phase.objects.get(slug="test")
    assert test.title == "Test" and test.translations == {"zh": {"title": "测试集"}}
    run("export_challenge", "showcase", "-o", str(tmp_path / "exported"))
    exported = yaml.safe_load((tmp_path / "exported" / "challenge.yaml").read_text(encoding="utf-8"))
    assert exported["phases"][1]["title"] == {"en": "Test", "zh": "测试集"}
    assert exported["phases"][0]["title"] == "Validation"
    assert exported["phases"][0]["boards"][0]["description"]["zh"] == "环境与人物，评分 0–5。"


# -- readers ---------------------------------------------------------------------------------------


def test_localized_gives_the_chinese_text_on_chinese_pages_only(db):
    phase = Phase(title="Validation", description="", translations={"zh": {"title": "验证集"}})
    with translation.override("zh-hans"):
        assert localized(phase, "title") == "验证集"
        assert localized(phase, "description") == ""  # no Chinese description: the field
    with translation.override("en"):
        assert localized(phase, "title") == "Validation"
    assert localized(Phase(title="Only", translations={}), "title") == "Only"
    with translation.override("zh-hans"):
        assert localized(Phase(title="Only"), "title") == "Only"
        assert localized(None, "title") == ""


def test_the_demo_reads_in_chinese_and_in_english(demo_challenge):
    client = Client()
    chinese = page(client, "/", **CHINESE)
    assert "演示：四部虚构短片的解说" in chinese and "Demo: narration of four invented films" not in chinese
    assert "一个用来试用本服务的小挑战赛" in chinese and "验证集" in chinese
    english = page(client, "/", **ENGLISH)
    assert "Demo: narration of four invented films" in english and "演示" not in english

    detail = page(client, "/c/demo/", **CHINESE)
    assert "<title>演示：四部虚构短片的解说" in detail
    assert "验证集的 2 部影片。参考解说公开" in detail and "L1 · 视觉事实" in detail and "影片</a>" in detail
    assert "The 2 validation movies" not in detail
    detail = page(client, "/c/demo/", **ENGLISH)
    assert "The 2 validation movies. References are public" in detail and "L1 · visual facts" in detail
    assert "验证集" not in detail and "视觉事实" not in detail

    films = page(client, "/c/demo/pages/films/", **CHINESE)
    assert "<h1>影片</h1>" in films and "<strong>是为本项目虚构的</strong>" in films
    films = page(client, "/c/demo/pages/films/", **ENGLISH)
    assert "<h1>The films</h1>" in films and "<strong>invented for this project</strong>" in films

    board = page(client, "/c/demo/val/zh/l1/", **CHINESE)
    assert "L1 · 视觉事实" in board and "解说对环境和人物的描述是否与参考解说一致？" in board and "验证集" in board
    assert "L1 · visual facts" not in board
    board = page(client, "/c/demo/test/en/l2/", **ENGLISH)
    assert "L2 · plot" in board and "Test" in board and "情节" not in board


def test_the_filter_renders_under_an_override(demo_challenge):
    phase = demo_challenge.phases.get(slug="test")
    template = '{% load texts %}{{ phase|localized:"title" }} / {{ phase.challenge|localized:"title" }}'
    render = engines["django"].from_string(template).render
    with translation.override("zh-hans"):
        assert render({"phase": phase}) == "测试集 / 演示：四部虚构短片的解说"
    with translation.override("en"):
        assert render({"phase": phase}) == "Test / Demo: narration of four invented films"


def test_terms_given_in_chinese_only_show_on_both_pages(db):
    load_bundle(read(bundle()))
    client = Client()
    assert "只有中文条款。" in page(client, "/c/bi/", **CHINESE)
    assert "只有中文条款。" in page(client, "/c/bi/", **ENGLISH)
    assert "双语" in page(client, "/c/bi/", **CHINESE) and "双语" not in page(client, "/c/bi/", **ENGLISH)


def submit(user, phase, name: str) -> Submission:
    submission = intake.submit(
        user=user,
        phase=phase,
        language="zh",
        data=demo_file(name),
        filename="p.json",
        method=intake.MethodInfo(method_name="m", is_public=True),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return Submission.objects.get(pk=submission.pk)


def test_genres_are_named_in_the_page_language(alice, demo_val):
    Movie.objects.filter(movie_id=VAL_MOVIES[0]).update(genres=["喜剧", "爱情"])
    Movie.objects.filter(movie_id=VAL_MOVIES[1]).update(genres=["喜剧", "未知类型"])
    with translation.override("en"):
        assert genre_name("喜剧") == "Comedy" and genre_name("未知类型") == "未知类型"
        assert shown_genre("喜剧") == {"name": "Comedy", "lang": ""}
        assert shown_genre("未知类型") == {"name": "未知类型", "lang": "zh"}
    with translation.override("zh-hans"):
        assert genre_name("喜剧") == "喜剧" and genre_name("未知类型") == "未知类型"
        assert shown_genre("喜剧") == {"name": "喜剧", "lang": ""}
    assert genre_en("喜剧") == "Comedy"  # the exports' name, whatever the language

    submission = submit(alice, demo_val, "val-zh.json")
    client = Client()
    client.force_login(alice)
    chinese = page(client, f"/submissions/{submission.pk}/", **CHINESE)
    assert '<th scope="row">喜剧</th>' in chinese and "喜剧, 爱情" in chinese
    assert "Comedy" not in chinese and "Romance" not in chinese
    english = page(client, f"/submissions/{submission.pk}/", **ENGLISH)
    assert '<th scope="row">Comedy</th>' in english and "Comedy, Romance" in english and "爱情" not in english
    # The API keeps the stored Chinese key and the English name, whatever the language.
    body = APIClient().get(f"/api/v1/submissions/{submission.pk}/breakdown/", **CHINESE).json()
    assert {genre["genre"]: genre["genre_en"] for genre in body["genres"]}["喜剧"] == "Comedy"


def test_the_result_email_names_the_phase_in_the_recipients_language(alice, demo_val, monkeypatch):
    submission = intake.submit(
        user=alice, phase=demo_val, language="zh", data=demo_file("val-zh.json"), filename="p.json"
    )
    submission.error = "broken"
    alice.email = "alice@example.org"
    monkeypatch.setattr(notifications, "email_language", lambda user: "zh-hans")
    email = notifications.result_email(submission, NotificationKind.FAILED)
    assert "验证集" in email.body and "演示：四部虚构短片的解说" in email.body
    assert email.subject.startswith("演示：四部虚构短片的解说")
    monkeypatch.setattr(notifications, "email_language", lambda user: "en")
    email = notifications.result_email(submission, NotificationKind.FAILED)
    assert "Validation" in email.body and "验证集" not in email.body
    assert email.subject.startswith("Demo: narration of four invented films")


def test_the_api_gives_the_canonical_texts_and_the_translations(demo_challenge):
    body = APIClient().get("/api/v1/challenges/demo/", **CHINESE).json()
    assert body["title"] == "Demo: narration of four invented films"  # the field, whatever the language
    assert body["translations"] == {
        "zh": {
            "title": "演示：四部虚构短片的解说",
            "description": "一个用来试用本服务的小挑战赛：四部虚构的短片（demo/data），评分方式与 Movie101v2 完全相同。"
            "请提交 demo/predictions 中的文件。",
        }
    }
    val = next(phase for phase in body["phases"] if phase["slug"] == "val")
    assert val["title"] == "Validation" and val["translations"]["zh"]["title"] == "验证集"
    l1 = next(board for board in val["boards"] if board["key"] == "l1")
    assert l1["title"] == "L1 · visual facts" and l1["translations"]["zh"]["title"] == "L1 · 视觉事实"
    listing = APIClient().get("/api/v1/challenges/").json()
    rows = listing["results"] if isinstance(listing, dict) else listing
    assert (
        next(row for row in rows if row["slug"] == "demo")["translations"]["zh"]["title"] == "演示：四部虚构短片的解说"
    )

    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for name in ("Challenge", "Phase", "Board"):
        field = schema["components"]["schemas"][name]["properties"]["translations"]
        assert field["readOnly"] is True and "language -> field -> text" in field["description"], name
