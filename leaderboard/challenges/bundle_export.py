"""Writing a stored challenge back as a YAML bundle, in the shape ``bundles`` reads,
so that load -> export -> load changes nothing.

``challenge_bundle`` + ``dump_bundle`` give the bundle, ``dump_references`` a
reference file; ``services.export_files`` and ``export_to_storage`` write them to
a folder or to the file storage.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import yaml

from .bundles import JUDGE_KEYS, judge_defaults
from .models import BoardVisibility
from .selectors import judge_settings_of
from .texts import text_entry

REFERENCES_FOLDER = "references"


def format_moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reference_file_name(phase_slug: str, language: str) -> str:
    return f"{REFERENCES_FOLDER}/{phase_slug}-{language}.json"


def challenge_bundle(challenge, *, with_references: bool = False) -> tuple[dict[str, Any], dict[str, dict]]:
    """The bundle of a stored challenge, and the reference files to write beside it.

    Without references each reference entry carries its source and hash, which
    a reload reads as "keep the stored references" (and checks the hash).
    API keys are never in the database, so never here: only the variable name.
    """
    reference_files: dict[str, dict] = {}
    bundle: dict[str, Any] = {"slug": challenge.slug}
    _put_texts(bundle, challenge, ("title", "description", "terms"))
    if challenge.languages:
        bundle["languages"] = list(challenge.languages)
    pages = [_page_entry(page) for page in challenge.pages.all()]
    if pages:
        bundle["pages"] = pages
    bundle["phases"] = []
    for phase in challenge.phases.all():
        entry: dict[str, Any] = {"slug": phase.slug}
        _put_texts(entry, phase, ("title", "description"))
        entry["starts_at"] = format_moment(phase.starts_at)
        entry["ends_at"] = format_moment(phase.ends_at)
        entry["references_public"] = phase.references_public
        entry["max_submissions_per_day"] = phase.max_submissions_per_day
        entry["max_submissions_total"] = phase.max_submissions_total
        entry["board_visibility"] = phase.board_visibility
        if phase.board_visibility == BoardVisibility.HIDDEN_UNTIL:
            # The loader takes the date with this visibility only; a date left over from it is not exported.
            entry["boards_public_from"] = format_moment(phase.boards_public_from)
        entry["frozen_at"] = format_moment(phase.frozen_at)
        entry["requires_approval"] = phase.requires_approval
        entry["show_all_entries"] = phase.show_all_entries
        entry["allow_partial"] = phase.allow_partial
        entry["bootstrap_unit"] = phase.bootstrap_unit
        entry["public_movie_breakdown"] = phase.public_movie_breakdown
        if phase.min_changed_clips is not None:  # empty: the default, which the loader gives a bundle without it
            entry["min_changed_clips"] = phase.min_changed_clips
        judge = _judge_entry(phase)
        if judge:
            entry["judge"] = judge
        references = {}
        for reference_set in phase.reference_sets.all():
            if with_references:
                name = reference_file_name(phase.slug, reference_set.language)
                reference_files[name] = reference_set.narrations
                references[reference_set.language] = {"file": name, "source": reference_set.source}
            else:
                references[reference_set.language] = {
                    "source": reference_set.source,
                    "hash": reference_set.content_hash,
                    "clips": reference_set.clip_count,
                }
        if references:
            entry["references"] = references
        boards = [_board_entry(board) for board in phase.boards.all()]
        if boards:
            entry["boards"] = boards
        baselines = [_baseline_entry(baseline) for baseline in phase.baselines.all()]
        if baselines:
            entry["baselines"] = baselines
        bundle["phases"].append(entry)
    return bundle, reference_files


def _put_texts(entry: dict[str, Any], obj, fields: tuple[str, ...]) -> None:
    """Write ``obj``'s texts readers see into ``entry`` as a bundle states them (``texts.text_entry``):
    one string, or ``{en, zh}`` where there is a Chinese text. An empty one is left out, but a title."""
    for name in fields:
        value = text_entry(obj, name)
        if value is not None or name == "title":
            entry[name] = value if value is not None else ""


def _page_entry(page) -> dict[str, Any]:
    entry: dict[str, Any] = {"slug": page.slug}
    _put_texts(entry, page, ("title",))
    # The body, even empty, as before: a page's entry always carried one.
    entry["body"] = text_entry(page, "body") or ""
    return entry


def _judge_entry(phase) -> dict[str, Any]:
    """The judge settings that differ from the defaults (a phase without any has no judge entry)."""
    settings, defaults = judge_settings_of(phase), judge_defaults()
    return {key: getattr(settings, key) for key in JUDGE_KEYS if getattr(settings, key) != defaults[key]}


def _board_entry(board) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": board.key}
    _put_texts(entry, board, ("title", "description"))
    entry["primary"] = board.primary_metric
    entry["columns"] = list(board.secondary_metrics)
    entry["precision"] = board.precision
    return entry


def _baseline_entry(baseline) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "language": baseline.language,
        "key": baseline.key,
        "method_name": baseline.method_name,
        "citation": baseline.citation,
    }
    if baseline.url:
        entry["url"] = baseline.url
    entry["scores"] = dict(baseline.scores)
    return entry


class _BundleDumper(yaml.SafeDumper):
    """Block style, with multi-line text as literal blocks so Markdown stays readable."""


def _represent_text(dumper: yaml.SafeDumper, value: str):
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_BundleDumper.add_representer(str, _represent_text)


def dump_bundle(bundle: dict[str, Any]) -> str:
    return yaml.dump(
        bundle, Dumper=_BundleDumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def dump_references(narrations: dict[str, str]) -> str:
    return json.dumps(narrations, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
