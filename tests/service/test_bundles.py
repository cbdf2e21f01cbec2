"""Challenge as code: validating, loading, exporting and re-loading YAML bundles."""

# ruff: noqa: E501  (the table of bad bundles reads best one case a line)

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from evaluation.movie101v2 import read_split
from evaluation.references import reference_hash
from leaderboard.audit.models import AuditEvent
from leaderboard.boards.models import Baseline, Board
from leaderboard.challenges.bundles import BundleError, validate_bundle
from leaderboard.challenges.models import Challenge, ChallengePage, JudgeSettings, Phase, ReferenceSet
from leaderboard.challenges.selectors import judge_settings_of
from leaderboard.challenges.services import load_bundle
from tests.support.admin import change_form_data, logged_in, make_organizer
from tests.support.data import DEMO_DATA, ROOT

SHOWCASE = ROOT / "demo" / "bundle"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_failing(*args) -> tuple[str, str]:
    """Run a command that must fail; its error message and what it wrote to stderr."""
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(*args, stdout=io.StringIO(), stderr=err)
    return str(failure.value), err.getvalue()


def database_state() -> dict[str, list[dict]]:
    """Every row a bundle can touch, timestamps included, to prove a reload wrote nothing."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Challenge, ChallengePage, Phase, JudgeSettings, ReferenceSet, Board, Baseline)
    }


def copy_showcase(tmp_path: Path) -> Path:
    """The example bundle in a folder of its own, with demo/data beside it as ../data expects."""
    folder = tmp_path / "bundle"
    shutil.copytree(SHOWCASE, folder)
    (tmp_path / "data").symlink_to(DEMO_DATA)
    return folder


# -- validation ----------------------------------------------------------------------------


def small_bundle() -> dict:
    """A valid bundle with two phases; the cases below break one thing each."""
    board = {"key": "l1", "title": "L1", "primary": "l1", "columns": ["cider", "bleu_4"]}
    return {
        "slug": "small",
        "title": "Small",
        "languages": ["zh", "en"],
        "pages": [{"slug": "about", "title": "About", "body": "Hello"}],
        "phases": [
            {
                "slug": "val",
                "title": "Validation",
                "starts_at": "2025-01-01T00:00:00Z",
                "ends_at": "2026-01-01T00:00:00Z",
                "references_public": True,
                "references": {"en": {"file": "val-en.json"}, "zh": {"narrations": {"1_0_1": "你好"}}},
                "boards": [board],
                "baselines": [
                    {"language": "en", "key": "b", "method_name": "B", "citation": "Invented", "scores": {"cider": 0.1}}
                ],
            },
            {
                "slug": "test",
                "title": "Test",
                "starts_at": "2025-01-01T00:00:00+08:00",
                "references": {"en": {"movie101v2": {"data": str(DEMO_DATA), "split": "test"}}},
                "boards": [dict(board)],
            },
        ],
    }


@pytest.fixture
def bundle_dir(tmp_path) -> Path:
    (tmp_path / "val-en.json").write_text(json.dumps({"1_0_1": "Hello there."}), encoding="utf-8")
    return tmp_path


def errors_of(data, base_dir) -> list[str]:
    with pytest.raises(BundleError) as failure:
        validate_bundle(data, base_dir=base_dir)
    return failure.value.errors


def test_the_small_bundle_is_valid(bundle_dir):
    spec = validate_bundle(small_bundle(), base_dir=bundle_dir)
    assert [phase.slug for phase in spec.phases] == ["val", "test"]
    assert spec.phases[0].references["en"].narrations == {"1_0_1": "Hello there."}
    assert spec.phases[1].fields["starts_at"].isoformat() == "2024-12-31T16:00:00+00:00"
    assert spec.phases[1].references["en"].narrations == read_split(DEMO_DATA, "test", "en")


def _set(path: str, value):
    """A change to the small bundle: set the value at a dotted path (``phases.0.title``)."""

    def change(data):
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _delete(path: str):
    def change(data):
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[last]

    return change


def _rename(path: str, old: str, new: str):
    def change(data):
        target = data
        for part in path.split("."):
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[new] = target.pop(old)

    return change


def _append(path: str, item):
    def change(data):
        target = data
        for part in path.split("."):
            target = target[int(part)] if isinstance(target, list) else target[part]
        target.append(copy.deepcopy(item))

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _set("phases.1.boards.0.primary", "ciderr"),
            'phases[1].boards[0].primary: unknown metric "ciderr"; did you mean "cider"?',
        ),
        (
            _set("phases.0.boards.0.columns", ["cider", "meteorr"]),
            'phases[0].boards[0].columns[1]: unknown metric "meteorr"',
        ),
        (_set("phases.0.boards.0.columns", ["l1"]), 'phases[0].boards[0].columns[0]: duplicate column "l1"'),
        (_set("phases.0.ends_at", "2024-06-01T00:00:00Z"), "phases[0].ends_at: must be after starts_at"),
        (_rename("phases.0", "boards", "bords"), 'phases[0].bords: unknown key; did you mean "boards"?'),
        (_set("titel", "x"), 'titel: unknown key; did you mean "title"?'),
        (_set("phases.0.judge", {"modle": "m"}), 'phases[0].judge.modle: unknown key; did you mean "model"?'),
        (
            _set("phases.0.max_submissions_per_day", "five"),
            "phases[0].max_submissions_per_day: must be a whole number or null, not text",
        ),
        (_set("phases.0.max_submissions_total", -1), "phases[0].max_submissions_total: must be at least 0"),
        (_set("phases.0.references_public", "yes"), "phases[0].references_public: must be true or false, not text"),
        (_set("phases.0.boards.0.precision", 11), "phases[0].boards[0].precision: must be between 0 and 10"),
        (_set("phases", {"val": {}}), "phases: must be a list, not a mapping"),
        (_set("phases.0.title", ["a"]), "phases[0].title: must be text, not a list"),
        (_delete("title"), "title: required"),
        (_delete("phases.0.starts_at"), "phases[0].starts_at: required"),
        (_set("phases", []), "phases: give at least one phase"),
        (_set("slug", "not a slug"), 'slug: "not a slug" is not a slug'),
        (_set("languages", ["zh", "fr"]), 'languages[1]: unknown language "fr"; expected one of zh, en'),
        (
            _set("phases.0.references.fr", {"narrations": {"1_0_1": "x"}}),
            'phases[0].references.fr: unknown language "fr"',
        ),
        (_set("languages", ["zh"]), 'phases[0].references.en: "en" is not one of the challenge\'s languages (zh)'),
        (_set("phases.0.baselines.0.language", "de"), 'phases[0].baselines[0].language: unknown language "de"'),
        (_set("phases.1.slug", "val"), 'phases[1].slug: duplicate phase slug "val" (also at phases[0].slug)'),
        (
            _append("pages", {"slug": "about", "title": "Again"}),
            'pages[1].slug: duplicate page slug "about" (also at pages[0].slug)',
        ),
        (
            _append("phases.0.boards", {"key": "l1", "title": "x", "primary": "l2"}),
            'phases[0].boards[1].key: duplicate board key "l1"',
        ),
        (
            _append(
                "phases.0.baselines",
                {"language": "en", "key": "b", "method_name": "C", "citation": "c", "scores": {"cider": 1}},
            ),
            'phases[0].baselines[1].key: duplicate baseline key "en/b"',
        ),
        (
            _set("phases.0.baselines.0.scores", {"ciderr": 1}),
            'phases[0].baselines[0].scores.ciderr: unknown metric "ciderr"',
        ),
        (
            _set("phases.0.baselines.0.scores", {"cider": "high"}),
            "phases[0].baselines[0].scores.cider: must be a number, not text",
        ),
        (
            _set("phases.0.baselines.0.url", "ftp://x"),
            "phases[0].baselines[0].url: must start with http:// or https://",
        ),
        (_set("phases.0.baselines.0.url", "http://exa mple"), "phases[0].baselines[0].url: Enter a valid URL."),
        (_set("phases.0.judge", {"max_tokens": 0}), "phases[0].judge.max_tokens: must be at least 1"),
        (
            _set("phases.0.references.en.file", "missing.json"),
            "phases[0].references.en.file: no such file: missing.json",
        ),
        (
            _set("phases.0.references.en", {"file": "val-en.json", "narrations": {"a": "b"}}),
            "phases[0].references.en: give one of file, movie101v2 or narrations, not file and narrations",
        ),
        (
            _set("phases.0.references.en", {"source": "somewhere"}),
            "phases[0].references.en: give file, movie101v2 or narrations (or the hash of the stored references",
        ),
        (
            _set("phases.0.references.en.hash", "sha256:" + "0" * 64),
            "phases[0].references.en.hash: the references read have hash sha256:",
        ),
        (
            _set("phases.1.references.en.movie101v2.split", "dev"),
            'phases[1].references.en.movie101v2.split: unknown split "dev"',
        ),
        (
            _set("phases.1.references.en.movie101v2.data", "nowhere"),
            "phases[1].references.en.movie101v2.data: nowhere is not a Movie101v2 folder",
        ),
        (
            _set("phases.0.references.zh.narrations", {"1_0_1": 5}),
            "phases[0].references.zh.narrations: clip ids and narrations must be text",
        ),
        (_set("phases.0.starts_at", "2025-01-01T00:00:00"), "phases[0].starts_at: give a timezone"),
        (
            _set("phases.0.starts_at", "next monday"),
            'phases[0].starts_at: "next monday" is not an ISO 8601 date and time',
        ),
        (_set("phases.0.frozen_at", 5), "phases[0].frozen_at: must be a date and time, not a number"),
        (_set("phases.0.board_visibility", "secret"), 'phases[0].board_visibility: unknown visibility "secret"'),
        (
            _set("phases.0.board_visibility", "hidden_until"),
            "phases[0].boards_public_from: required with board_visibility: hidden_until",
        ),
        (
            _set("phases.0.boards_public_from", "2025-02-01T00:00:00Z"),
            "phases[0].boards_public_from: only with board_visibility: hidden_until",
        ),
        (
            _set("phases.0.judge", {"templates": {"l1": {"en": {"user": "{reference} only"}}}}),
            "phases[0].judge.templates.l1.en.user: must contain the placeholder {prediction}",
        ),
        (_set("phases.0.judge", {"templates": {"l3": {}}}), "phases[0].judge.templates.l3: unknown stage"),
        (
            _set("phases.0.judge", {"templates": {"l2": {"en": {"user": "{reference}{prediction}", "parser": "xml"}}}}),
            "phases[0].judge.templates.l2.en.parser: unknown parser 'xml'",
        ),
        (_set("phases.0.judge", {"api_key": "sk-secret"}), "phases[0].judge.api_key: keys never go in a bundle"),
        (
            _set("phases.0.judge", {"api_key_env": "MY-KEY"}),
            'phases[0].judge.api_key_env: "MY-KEY" is not allowed: name JUDGE_API_KEY or JUDGE_API_KEY_<SUFFIX>',
        ),
        (
            _set("phases.0.judge", {"api_key_env": "DATABASE_URL"}),
            'phases[0].judge.api_key_env: "DATABASE_URL" is not allowed',
        ),
        (
            _set("phases.0.judge", {"api_key_env": "judge_api_key_x"}),
            'phases[0].judge.api_key_env: "judge_api_key_x" is not allowed',
        ),
        (
            _set("phases.0.judge", {"base_url": "localhost:8000"}),
            "phases[0].judge.base_url: must start with http:// or https://",
        ),
        (_set("phases.0.judge", {"temperature": 3}), "phases[0].judge.temperature: must be a number between 0 and 2"),
    ],
)
def test_a_bad_bundle_is_refused_with_the_path_of_the_problem(bundle_dir, change, expected):
    data = small_bundle()
    change(data)
    errors = errors_of(data, bundle_dir)
    assert any(error.startswith(expected) for error in errors), errors


def test_yaml_dates_naive_timestamps_and_bare_dates(bundle_dir):
    text = yaml.safe_dump(small_bundle()).replace("'2025-01-01T00:00:00Z'", "2025-01-01 00:00:00")
    text = text.replace("'2026-01-01T00:00:00Z'", "2026-01-01")
    errors = errors_of(yaml.safe_load(text), bundle_dir)
    assert "phases[0].starts_at: give a timezone, e.g. 2025-03-01T00:00:00Z or +08:00" in errors
    assert "phases[0].ends_at: give a time and a timezone too, e.g. 2025-03-01T00:00:00Z" in errors
    aware = yaml.safe_load(
        yaml.safe_dump(small_bundle()).replace("'2025-01-01T00:00:00Z'", "2025-01-01T08:00:00+08:00")
    )
    assert (
        validate_bundle(aware, base_dir=bundle_dir).phases[0].fields["starts_at"].isoformat()
        == "2025-01-01T00:00:00+00:00"
    )


def test_every_problem_is_reported_at_once(bundle_dir):
    data = small_bundle()
    data["phases"][0]["bords"] = data["phases"][0].pop("boards")
    data["phases"][1]["boards"][0]["primary"] = "ciderr"
    data["phases"][1]["ends_at"] = "2020-01-01T00:00:00Z"
    data["pages"][0]["slug"] = "a b"
    errors = errors_of(data, bundle_dir)
    assert len(errors) == 4, errors
    assert [error.split(":")[0] for error in errors] == [
        "pages[0].slug",
        "phases[0].bords",
        "phases[1].ends_at",
        "phases[1].boards[0].primary",
    ]


def test_a_bundle_that_is_not_yaml_or_not_a_mapping(db, tmp_path):
    (tmp_path / "challenge.yaml").write_text("slug: x\n  title: [unclosed\n", encoding="utf-8")
    message, stderr = run_failing("load_challenge", str(tmp_path))
    assert "challenge.yaml:2:" in stderr and "not valid YAML" in stderr
    (tmp_path / "challenge.yaml").write_text("- just a list\n", encoding="utf-8")
    message, stderr = run_failing("load_challenge", str(tmp_path))
    assert "the bundle: must be a mapping, not a list" in stderr


def test_nothing_is_loaded_when_anything_is_wrong(db, tmp_path):
    folder = copy_showcase(tmp_path)
    bundle = folder / "challenge.yaml"
    text = bundle.read_text(encoding="utf-8")
    bundle.write_text(
        text.replace("primary: cider", "primary: ciderr").replace("references/val-en.json", "references/missing.json"),
        encoding="utf-8",
    )
    message, stderr = run_failing("load_challenge", str(folder))
    assert "2 problem(s)" in message and "nothing was loaded" in message
    assert 'phases[0].boards[1].primary: unknown metric "ciderr"; did you mean "cider"?' in stderr
    assert "phases[0].references.en.file: no such file: references/missing.json" in stderr
    assert database_state() == {name: [] for name in database_state()}


def test_the_models_refuse_what_the_loader_refuses(db, bundle_dir):
    """An organizer cannot save in the admin a value that an exported bundle could not load back."""
    load_bundle(validate_bundle(small_bundle(), base_dir=bundle_dir))
    phase = Phase.objects.get(slug="val")
    assert phase.board_visibility == "public"
    phase.boards_public_from = phase.starts_at
    with pytest.raises(ValidationError) as refused:
        phase.full_clean()
    assert set(refused.value.message_dict) == {"boards_public_from"}
    judge = judge_settings_of(phase)
    judge.max_tokens = 0
    with pytest.raises(ValidationError) as refused:
        judge.full_clean()
    assert set(refused.value.message_dict) == {"max_tokens"}

    board = phase.boards.get()
    board.precision = 11
    with pytest.raises(ValidationError) as refused:
        board.full_clean()
    assert set(refused.value.message_dict) == {"precision"}


# -- loading -------------------------------------------------------------------------------


def test_the_showcase_bundle_loads_everything_it_states(db, tmp_path):
    output = run("load_challenge", str(copy_showcase(tmp_path)))
    assert "challenge showcase: created" in output
    challenge = Challenge.objects.get(slug="showcase")
    assert challenge.languages == ["zh", "en"] and "By submitting you agree" in challenge.terms
    assert [page.slug for page in challenge.pages.all()] == ["data", "evaluation"]
    val, test = challenge.phases.get(slug="val"), challenge.phases.get(slug="test")
    assert val.show_all_entries and val.max_submissions_per_day == 20 and val.ends_at.year == 2030
    assert (
        test.board_visibility == "hidden_until" and test.boards_public_from.isoformat() == "2030-01-02T00:00:00+00:00"
    )
    assert test.requires_approval and test.frozen_at.day == 25
    judge = judge_settings_of(test)
    assert judge.model == "qwen2.5:7b" and judge.api_key_env == "JUDGE_API_KEY_SHOWCASE"
    assert judge.templates["l2"]["en"]["parser"] == "comma" and judge.max_tokens == 64
    assert not JudgeSettings.objects.filter(phase=val).exists()  # no judge entry: the defaults, no row
    assert [board.key for board in val.boards.all()] == ["l1", "classic"]
    assert val.boards.get(key="l1").precision == 2
    assert val.boards.get(key="classic").columns == ["cider", "bleu_4", "meteor", "rouge_l"]
    baseline = Baseline.objects.get(phase=val, language="en")
    assert "FICTIONAL" in baseline.method_name and baseline.scores["cider"] == 0.0123
    assert Baseline.objects.get(phase=val, language="zh").citation.startswith("Demo baseline (invented numbers)")
    assert sorted(test.baselines.values_list("language", flat=True)) == ["en", "zh"]
    assert ReferenceSet.objects.get(phase=val, language="en").source == "file references/val-en.json"
    assert ReferenceSet.objects.get(phase=test, language="zh").narrations == read_split(DEMO_DATA, "test", "zh")
    assert output.count(": created") == 1 + 2 + 2 + 4 + 3 + 4  # challenge, pages, phases, references, boards, baselines


def test_loading_again_updates_in_place(db, tmp_path):
    folder = copy_showcase(tmp_path)
    run("load_challenge", str(folder))
    phase_ids = dict(Phase.objects.values_list("slug", "pk"))
    old_hash = ReferenceSet.objects.get(phase__slug="val", language="en").content_hash

    bundle = folder / "challenge.yaml"
    data = yaml.safe_load(bundle.read_text(encoding="utf-8"))
    data["title"] = "Showcase, renamed"
    data["pages"] = data["pages"][:1]
    val = data["phases"][0]
    val["ends_at"] = "2031-06-30T12:00:00Z"
    val["max_submissions_per_day"] = None
    val["boards"] = [val["boards"][1]]
    val["boards"][0]["title"] = "Classic"
    del val["baselines"]
    data["phases"][1]["judge"]["model"] = "another-model"
    bundle.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    references = json.loads((folder / "references" / "val-en.json").read_text(encoding="utf-8"))
    references[sorted(references)[0]] = "A changed reference."
    (folder / "references" / "val-en.json").write_text(json.dumps(references), encoding="utf-8")

    output = run("load_challenge", str(folder))
    assert "challenge showcase: updated (title)" in output
    assert "page showcase/evaluation: removed (not in the bundle)" in output
    assert "phase showcase/val: updated (ends_at, max_submissions_per_day)" in output
    assert "board showcase/val/l1: removed (not in the bundle)" in output
    assert "board showcase/val/classic: updated (title, order)" in output
    assert "baseline showcase/val/en/fictional-copy-baseline: removed (not in the bundle)" in output
    assert "baseline showcase/val/zh/demo-baseline: removed (not in the bundle)" in output
    assert "phase showcase/test: updated (judge_model)" in output
    new_hash = reference_hash(references)
    assert f"references showcase/val/en: updated, 10 clips, {old_hash} -> {new_hash}" in output
    assert "references showcase/val/zh: unchanged, 10 clips" in output

    assert dict(Phase.objects.values_list("slug", "pk")) == phase_ids
    val_phase = Phase.objects.get(slug="val")
    assert val_phase.max_submissions_per_day is None and val_phase.ends_at.year == 2031
    assert list(val_phase.boards.values_list("key", "order")) == [("classic", 0)]
    assert not Baseline.objects.filter(phase=val_phase).exists() and ChallengePage.objects.count() == 1
    assert ReferenceSet.objects.get(phase=val_phase, language="en").content_hash == new_hash


def test_a_dry_run_reports_and_saves_nothing(db, tmp_path):
    folder = copy_showcase(tmp_path)
    output = run("load_challenge", str(folder), "--dry-run")
    assert output.startswith("dry run: nothing was saved") and "challenge showcase: created" in output
    assert not Challenge.objects.exists()
    run("load_challenge", str(folder))
    before = database_state()
    bundle = folder / "challenge.yaml"
    bundle.write_text(
        bundle.read_text(encoding="utf-8").replace("max_submissions_total: 500", "max_submissions_total: 7"),
        encoding="utf-8",
    )
    output = run("load_challenge", str(folder), "--dry-run")
    assert "phase showcase/val: updated (max_submissions_total)" in output
    assert database_state() == before


def _add_a_second_baseline_with_a_bad_url(spec):
    spec.phases[0].baselines.append(
        {**spec.phases[0].baselines[0], "key": "second", "order": 1, "url": "http://exa mple"}
    )


@pytest.mark.parametrize("loaded_before", [False, True], ids=["creating", "updating"])
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_add_a_second_baseline_with_a_bad_url, "phases[0].baselines[1].url: Enter a valid URL."),
        (
            lambda spec: spec.phases[1].boards[0].update(secondary_metrics=["ciderr"]),
            "phases[1].boards[0]: Unknown metrics: ciderr",
        ),
        (
            lambda spec: spec.phases[0].judge.update(max_tokens=0),
            "phases[0].judge.max_tokens: Ensure this value is greater than or equal to 1.",
        ),
        (
            lambda spec: spec.pages[0].update(title="x" * 201),
            "pages[0].title: Ensure this value has at most 200 characters (it has 201).",
        ),
    ],
)
def test_what_a_model_refuses_after_validation_is_reported_at_its_yaml_path(
    db, bundle_dir, monkeypatch, loaded_before, change, expected
):
    """The models' own checks are a safety net behind the validator: a message with a YAML path, not a traceback."""
    if loaded_before:
        load_bundle(validate_bundle(small_bundle(), base_dir=bundle_dir))
    before = database_state()
    spec = validate_bundle(small_bundle(), base_dir=bundle_dir)
    change(spec)
    monkeypatch.setattr("leaderboard.challenges.management.commands.load_challenge.read_bundle", lambda path: spec)
    message, stderr = run_failing("load_challenge", str(bundle_dir))
    assert stderr.splitlines() == [expected]
    assert "1 problem(s)" in message and "nothing was loaded" in message
    assert database_state() == before


def test_a_reload_records_its_audited_changes_as_the_admin_does(db, tmp_path):
    folder = copy_showcase(tmp_path)
    organizer = make_organizer()
    run("load_challenge", str(folder), "--actor", organizer.username)
    assert not AuditEvent.objects.exists()  # what a load creates is not an audited change

    bundle = folder / "challenge.yaml"
    data = yaml.safe_load(bundle.read_text(encoding="utf-8"))
    val, test = data["phases"]
    val["title"] = "Validation, renamed"  # not an audited field
    val["ends_at"] = "2031-06-30T12:00:00Z"
    val["max_submissions_per_day"] = None
    test["frozen_at"] = None
    test["judge"]["max_tokens"] = 32
    bundle.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    references = json.loads((folder / "references" / "val-en.json").read_text(encoding="utf-8"))
    references[min(references)] = "A changed reference."
    (folder / "references" / "val-en.json").write_text(json.dumps(references), encoding="utf-8")
    old_hash = ReferenceSet.objects.get(phase__slug="val", language="en").content_hash

    dry_run = run("load_challenge", str(folder), "--dry-run", "--reason", "Just looking")
    assert "phase showcase/val: updated (title, ends_at, max_submissions_per_day)" in dry_run
    assert not AuditEvent.objects.exists()

    run("load_challenge", str(folder), "--actor", organizer.username, "--reason", "Extend the validation phase")
    events = {(event.action, event.target_label): event for event in AuditEvent.objects.all()}
    assert sorted(events) == [
        ("phase.change", "showcase/test"),
        ("phase.change", "showcase/val"),
        ("references.change", "showcase/val en (10 clips)"),
    ]
    assert {(event.actor, event.reason) for event in events.values()} == {(organizer, "Extend the validation phase")}
    assert events["phase.change", "showcase/val"].details == {
        "changes": {
            "ends_at": ["2030-01-01T00:00:00+00:00", "2031-06-30T12:00:00+00:00"],
            "max_submissions_per_day": [20, None],
        }
    }
    assert events["phase.change", "showcase/test"].details == {
        "changes": {
            "frozen_at": ["2029-12-25T00:00:00+00:00", None],
            "judge_max_tokens": [64, 32],
        }
    }
    reference_event = events["references.change", "showcase/val en (10 clips)"]
    assert reference_event.target_id == str(ReferenceSet.objects.get(phase__slug="val", language="en").pk)
    assert reference_event.details == {
        "hash": [old_hash, reference_hash(references)],
        "clips": [10, 10],
        "source": "file references/val-en.json",
    }
    assert "A changed reference." not in json.dumps(reference_event.details, ensure_ascii=False)

    run("load_challenge", str(folder))  # nothing changed: nothing recorded
    assert AuditEvent.objects.count() == 3

    bundle.write_text(
        bundle.read_text(encoding="utf-8").replace("max_submissions_total: 500", "max_submissions_total: 7"),
        encoding="utf-8",
    )
    run("load_challenge", str(folder))
    latest = AuditEvent.objects.first()
    assert (latest.actor, latest.actor_label, latest.reason) == (
        None,
        "command load_challenge",
        f"load_challenge {folder}",
    )
    assert latest.details == {"changes": {"max_submissions_total": [500, 7]}}

    message, _ = run_failing("load_challenge", str(folder), "--actor", "nobody")
    assert message == "no user 'nobody'"


def test_phases_and_references_left_out_of_a_bundle_are_kept(db, tmp_path):
    folder = copy_showcase(tmp_path)
    run("load_challenge", str(folder))
    bundle = folder / "challenge.yaml"
    data = yaml.safe_load(bundle.read_text(encoding="utf-8"))
    data["phases"] = data["phases"][:1]
    del data["phases"][0]["references"]["zh"]
    bundle.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    output = run("load_challenge", str(folder))
    assert "phase showcase/test: not in the bundle, kept" in output
    assert "references showcase/val/zh: not in the bundle, kept (10 clips, sha256:" in output
    assert Phase.objects.count() == 2 and ReferenceSet.objects.count() == 4


# -- export and the round trip --------------------------------------------------------------


def test_load_export_load_changes_nothing_and_exports_are_identical(db, tmp_path):
    run("load_challenge", str(copy_showcase(tmp_path)))
    first, second = tmp_path / "first", tmp_path / "second"
    run("export_challenge", "showcase", "-o", str(first))
    before = database_state()

    output = run("load_challenge", str(first))
    assert database_state() == before
    lines = output.strip().splitlines()
    assert all(line.endswith(": unchanged") or ": unchanged, " in line for line in lines), output
    assert len(lines) == 1 + 2 + 2 + 4 + 3 + 4

    run("export_challenge", "showcase", "-o", str(second))
    assert (first / "challenge.yaml").read_bytes() == (second / "challenge.yaml").read_bytes()
    assert sorted(path.name for path in first.iterdir()) == ["challenge.yaml"]


def test_a_phase_edited_in_the_admin_exports_and_loads_back_unchanged(db, tmp_path):
    run("load_challenge", str(copy_showcase(tmp_path)))
    phase = Phase.objects.get(slug="test")
    client = logged_in(make_organizer(models=("phase", "board")))
    url = f"/admin/challenges/phase/{phase.pk}/change/"
    data = change_form_data(client.get(url))
    precision = next(
        name.replace("-key", "-precision")
        for name, value in data.items()
        if name.startswith("boards-") and name.endswith("-key") and value == "l2"
    )

    # What the loader would refuse, the change form refuses too.
    data.update(
        {
            "board_visibility": "public",
            "judge_settings-0-max_tokens": "0",
            precision: "11",
            "change_reason": "Boards public from now on",
        }
    )
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert set(refused.context["adminform"].form.errors) == {"boards_public_from"}
    judge_forms = next(
        inline.formset.forms
        for inline in refused.context["inline_admin_formsets"]
        if inline.formset.model is JudgeSettings
    )
    assert [set(form.errors) for form in judge_forms] == [{"max_tokens"}]
    board_forms = next(
        inline.formset.forms for inline in refused.context["inline_admin_formsets"] if inline.formset.model is Board
    )
    assert [form.errors for form in board_forms] == [{"precision": ["Ensure this value is less than or equal to 10."]}]
    assert Phase.objects.get(pk=phase.pk).board_visibility == "hidden_until"

    data.update(
        {"boards_public_from_0": "", "boards_public_from_1": "", "judge_settings-0-max_tokens": "1", precision: "10"}
    )
    saved = client.post(url, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    phase.refresh_from_db()
    assert (phase.board_visibility, phase.boards_public_from) == ("public", None)
    assert JudgeSettings.objects.get(phase=phase).max_tokens == 1
    assert phase.boards.get().precision == 10

    exported = tmp_path / "exported"
    run("export_challenge", "showcase", "-o", str(exported))
    before = database_state()
    output = run("load_challenge", str(exported))
    assert database_state() == before
    assert all(line.endswith(": unchanged") or ": unchanged, " in line for line in output.strip().splitlines()), output


def test_a_stray_boards_public_from_is_not_exported(db, tmp_path):
    """A date kept from before the models refused it: the export leaves it out, and a load clears it."""
    run("load_challenge", str(copy_showcase(tmp_path)))
    Phase.objects.filter(slug="val").update(boards_public_from="2030-01-02T00:00:00Z")
    exported = tmp_path / "exported"
    run("export_challenge", "showcase", "-o", str(exported))
    bundle = yaml.safe_load((exported / "challenge.yaml").read_text(encoding="utf-8"))
    assert "boards_public_from" not in bundle["phases"][0]
    assert bundle["phases"][1]["boards_public_from"] == "2030-01-02T00:00:00Z"  # hidden_until keeps its date
    assert "phase showcase/val: updated (boards_public_from)" in run("load_challenge", str(exported))
    assert Phase.objects.get(slug="val").boards_public_from is None


def test_pages_baselines_and_judge_templates_survive_the_round_trip(db, tmp_path):
    source = copy_showcase(tmp_path)
    run("load_challenge", str(source))
    exported = tmp_path / "exported"
    run("export_challenge", "showcase", "-o", str(exported), "--with-references")
    Challenge.objects.all().delete()

    run("load_challenge", str(exported))
    original = yaml.safe_load((source / "challenge.yaml").read_text(encoding="utf-8"))
    challenge = Challenge.objects.get(slug="showcase")
    assert [(page.slug, page.title, page.body) for page in challenge.pages.all()] == [
        (page["slug"], page["title"], page["body"]) for page in original["pages"]
    ]
    assert challenge.terms == original["terms"] and challenge.description == original["description"]
    val, test = challenge.phases.get(slug="val"), challenge.phases.get(slug="test")
    # Texts in English and Chinese ({en, zh}) come back as stated (tests/service/test_bilingual_texts.py).
    assert (test.title, test.translations) == ("Test", {"zh": {"title": "测试集"}})
    assert val.description == original["phases"][0]["description"]["en"]
    assert val.translations == {"zh": {"description": original["phases"][0]["description"]["zh"]}}
    assert val.boards.get(key="l1").translations == {
        "zh": {"title": "L1 · 视觉事实", "description": "环境与人物，评分 0–5。"}
    }
    judge = judge_settings_of(test)
    assert judge.templates == original["phases"][1]["judge"]["templates"]
    assert judge.temperature == 0 and judge.base_url == "http://127.0.0.1:11434/v1"
    stored = Baseline.objects.filter(phase__challenge=challenge).order_by("phase__slug", "order")
    assert [(b.phase.slug, b.language, b.key, b.method_name, b.citation, b.url, b.scores) for b in stored] == [
        (phase["slug"], b["language"], b["key"], b["method_name"], b["citation"], b.get("url", ""), b["scores"])
        for phase in sorted(original["phases"], key=lambda phase: phase["slug"])
        for b in phase["baselines"]
    ]
    assert ReferenceSet.objects.get(phase=val, language="en").narrations == json.loads(
        (source / "references" / "val-en.json").read_text(encoding="utf-8")
    )
    # the source survives too, though the narrations now come from the exported files
    assert ReferenceSet.objects.get(phase=val, language="en").source == "file references/val-en.json"

    again = tmp_path / "again"
    run("export_challenge", "showcase", "-o", str(again), "--with-references")
    for name in ("challenge.yaml", "references/val-en.json", "references/test-zh.json"):
        assert (exported / name).read_bytes() == (again / name).read_bytes(), name


def test_export_leaves_references_out_unless_asked_and_never_holds_a_key(db, tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_API_KEY_SHOWCASE", "sk-very-secret-value")
    run("load_challenge", str(copy_showcase(tmp_path)))
    text = run("export_challenge", "showcase")
    narrations = [text_ for reference_set in ReferenceSet.objects.all() for text_ in reference_set.narrations.values()]
    assert not [narration for narration in narrations if narration in text]
    assert "api_key_env: JUDGE_API_KEY_SHOWCASE" in text and "sk-very-secret-value" not in text
    exported = yaml.safe_load(text)
    test_zh = exported["phases"][1]["references"]["zh"]
    stored = ReferenceSet.objects.get(phase__slug="test", language="zh")
    assert test_zh == {"source": stored.source, "hash": stored.content_hash, "clips": 10}

    folder = tmp_path / "with"
    run("export_challenge", "showcase", "-o", str(folder / "showcase.yaml"), "--with-references")
    assert sorted(path.name for path in (folder / "references").iterdir()) == [
        "test-en.json",
        "test-zh.json",
        "val-en.json",
        "val-zh.json",
    ]
    assert "sk-very-secret-value" not in "".join(path.read_text() for path in folder.rglob("*.*"))
    assert "file: references/test-zh.json" in (folder / "showcase.yaml").read_text(encoding="utf-8")
    message, _ = run_failing("export_challenge", "showcase", "--with-references")
    assert "give -o FOLDER" in message


def test_a_kept_reference_set_must_still_be_the_one_exported(db, tmp_path):
    run("load_challenge", str(copy_showcase(tmp_path)))
    exported = tmp_path / "exported"
    run("export_challenge", "showcase", "-o", str(exported))
    stored = ReferenceSet.objects.get(phase__slug="val", language="zh")
    stored.narrations = {**stored.narrations, "9100000000000000001_0_1": "added in the admin"}
    stored.save()
    before = database_state()
    message, stderr = run_failing("load_challenge", str(exported))
    assert f"phases[0].references.zh.hash: the stored references have hash {stored.content_hash}" in stderr
    assert database_state() == before

    Challenge.objects.all().delete()
    message, stderr = run_failing("load_challenge", str(exported))
    assert "phases[0].references.en: there are no stored references to keep" in stderr
    assert not Challenge.objects.exists()


# -- the Movie101v2 preset and the demo --------------------------------------------------------


def test_the_movie101v2_preset_writes_a_bundle_that_points_at_the_data(db, tmp_path, real_data):
    folder = tmp_path / "m2"
    first = run("import_movie101v2", str(real_data), "--write-bundle", str(folder))
    assert f"bundle written to {folder / 'challenge.yaml'}" in first and "challenge movie101v2: created" in first
    text = (folder / "challenge.yaml").read_text(encoding="utf-8")
    bundle = yaml.safe_load(text)
    assert bundle["phases"][0]["references"]["zh"] == {"movie101v2": {"data": str(real_data.resolve()), "split": "val"}}
    assert [phase["slug"] for phase in bundle["phases"]] == ["val", "test"]
    assert [board["key"] for board in bundle["phases"][1]["boards"]] == ["l1", "l2"]
    some_reference = next(iter(read_split(real_data, "test", "en").values()))
    assert some_reference not in text and len(text) < 5000  # the data stays in the data folder

    before = database_state()
    output = run("load_challenge", str(folder))
    assert database_state() == before
    assert "updated" not in output and "created" not in output
    assert output.count(": unchanged") == 1 + 2 + 4 + 4  # challenge, phases, reference sets, boards

    # the bundle is the organizer's to edit: a change of dates loads through load_challenge
    (folder / "challenge.yaml").write_text(
        text.replace(bundle["phases"][1]["starts_at"], "2030-01-01T00:00:00Z"), encoding="utf-8"
    )
    assert "phase movie101v2/test: updated (starts_at)" in run("load_challenge", str(folder))
    # while the preset itself leaves dates and limits as they now are
    again = run("import_movie101v2", str(real_data))
    assert "phase movie101v2/test: kept (dates and limits are left as organizers set them)" in again
    assert Phase.objects.get(slug="test").starts_at.year == 2030


def test_the_movie101v2_preset_records_what_it_changes(db, real_data):
    run("import_movie101v2", str(real_data))
    assert not AuditEvent.objects.exists()
    Phase.objects.filter(slug="val").update(references_public=False)
    run("import_movie101v2", str(real_data))
    event = AuditEvent.objects.get()
    assert (event.action, event.target_label, event.actor_label) == (
        "phase.change",
        "movie101v2/val",
        "command import_movie101v2",
    )
    assert event.reason == f"import_movie101v2 {real_data}"
    assert event.details == {"changes": {"references_public": [False, True]}}


def test_load_demo_loads_the_demo_bundle(db):
    run("load_demo", "--no-user")
    demo = Challenge.objects.get(slug="demo")
    assert [page.slug for page in demo.pages.all()] == ["films"]
    assert demo.phases.get(slug="val").max_submissions_per_day == 20
    assert demo.phases.get(slug="test").references_public is False
    assert all(phase.is_open() for phase in demo.phases.all())


# -- rendering pages and terms -------------------------------------------------------------------


def test_pages_and_terms_render_as_sanitized_markdown(db, client):
    challenge = Challenge.objects.create(
        slug="md",
        title="Markdown <i>title</i>",
        description="**Bold** intro",
        terms="1. Be *kind*\n2. <script>alert('terms')</script>",
    )
    ChallengePage.objects.create(
        challenge=challenge,
        slug="rules",
        title="Rules & <b>more</b>",
        body="# Heading\n\n<img src=x onerror=alert(1)> [site](https://example.org) [bad](javascript:alert(1))\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
    )
    detail = client.get("/c/md/").content.decode()
    assert "<strong>Bold</strong> intro" in detail and "Markdown &lt;i&gt;title&lt;/i&gt;" in detail
    assert "<li>Be <em>kind</em></li>" in detail and "<script>alert" not in detail
    assert "&lt;script&gt;alert" in detail
    assert 'href="/c/md/pages/rules/"' in detail and "Rules &amp; &lt;b&gt;more&lt;/b&gt;" in detail

    page = client.get("/c/md/pages/rules/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Heading</h1>" in html and "<td>1</td>" in html
    assert '<a href="https://example.org" rel="nofollow noopener">site</a>' in html
    assert "javascript:" not in html and "<img" not in html and "&lt;img src=x" in html
    assert client.get("/c/md/pages/nothing/").status_code == 404
