"""Challenge as code: reading and validating a YAML bundle that states a whole challenge.

Reading a bundle (``read_bundle``) validates all of it and reports every
problem at once, each prefixed with its YAML path
(``phases[1].boards[0].primary: unknown metric "ciderr"``), so an organizer
fixes a bundle in one pass. Nothing here writes to the database: the
validated ``BundleSpec`` goes to ``services.load_bundle``.

``bundle_export`` writes a challenge back in the same shape, so that
load -> export -> load changes nothing.

The texts readers see (the challenge's title, description and terms, a page's title and body, a
phase's and a board's title and description) are one string, for every language, or a mapping
``{en: "...", zh: "..."}`` (``texts``): the English goes to the model's field (the Chinese too when
it is the only text), the Chinese to its ``translations``.

Datetimes must carry a timezone (``2025-03-01T00:00:00Z`` or a YAML
timestamp with an offset); a naive one is an error, because guessing UTC
silently shifts a deadline for an organizer who meant local time.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import URLValidator

from evaluation.classic import LANGUAGES
from evaluation.errors import EvaluationError
from evaluation.judge.prompts import TemplateError, templates_from_data
from evaluation.metrics import METRICS
from evaluation.movie101v2 import SPLITS, read_split
from evaluation.references import load_references, reference_hash
from leaderboard.boards.models import Board

from .models import (
    BOARD_PRECISION_MAX,
    JUDGE_API_KEY_ENV_HELP,
    JUDGE_MAX_TOKENS_MIN,
    JUDGE_SETTINGS_FIELDS,
    BoardVisibility,
    BootstrapUnit,
    JudgeSettings,
    Phase,
    is_judge_api_key_env,
)
from .texts import TEXT_LANGUAGES, translations_value

BUNDLE_FILE = "challenge.yaml"
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
VISIBILITIES = tuple(BoardVisibility.values)

CHALLENGE_KEYS = ("slug", "title", "description", "terms", "languages", "pages", "phases")
PAGE_KEYS = ("slug", "title", "body")
PHASE_KEYS = (
    "slug",
    "title",
    "description",
    "starts_at",
    "ends_at",
    "references_public",
    "max_submissions_per_day",
    "max_submissions_total",
    "board_visibility",
    "boards_public_from",
    "frozen_at",
    "requires_approval",
    "show_all_entries",
    "allow_partial",
    "min_changed_clips",
    "bootstrap_unit",
    "public_movie_breakdown",
    "judge",
    "references",
    "boards",
    "baselines",
)
#: A phase's ``judge`` entry names the fields of its JudgeSettings.
JUDGE_KEYS = JUDGE_SETTINGS_FIELDS
BOARD_KEYS = ("key", "title", "description", "primary", "columns", "precision")
BASELINE_KEYS = ("language", "key", "method_name", "citation", "url", "scores")
REFERENCE_KEYS = ("file", "movie101v2", "narrations", "source", "hash", "clips")
MOVIE101V2_KEYS = ("data", "split")

#: A model field -> its key in a bundle, where the two differ; for the models' own complaints.
BUNDLE_KEYS_OF_FIELDS = {
    JudgeSettings: {key: f"judge.{key}" for key in JUDGE_KEYS},
    Board: {"primary_metric": "primary", "secondary_metrics": "columns"},
}


def phase_default(name: str) -> Any:
    """What a Phase field holds when a bundle leaves it out: the model field's own default."""
    return Phase._meta.get_field(name).get_default()


def judge_defaults() -> dict[str, Any]:
    """The judge settings of a phase whose bundle has no ``judge`` entry (or leaves keys of it out)."""
    return {key: JudgeSettings._meta.get_field(key).get_default() for key in JUDGE_KEYS}


class BundleError(Exception):
    """A bundle that cannot be loaded; ``errors`` lists every problem, each with its YAML path."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))

    @classmethod
    def from_validation_error(cls, error: ValidationError, path: str, model: type) -> BundleError:
        """A model's ``full_clean`` complaints about the object at ``path``, each at its key's YAML path."""
        keys = BUNDLE_KEYS_OF_FIELDS.get(model, {})
        by_field = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
        errors = []
        for name, messages in by_field.items():
            where = path if name == NON_FIELD_ERRORS else _join(path, keys.get(name, name))
            errors.extend(f"{where}: {message}" if where else message for message in messages)
        return cls(errors)


@dataclass
class ReferenceSpec:
    """The references of one phase and language: read now, or kept as stored (``narrations`` None)."""

    path: str  # the YAML path, for messages
    narrations: dict[str, str] | None
    source: str
    expected_hash: str | None = None
    #: A Movie101v2 folder's ``metadata/`` (``movie101v2`` references): the movies of these clips are read
    #: from it into ``Movie`` when the bundle loads. None for references from a file or inline.
    metadata_dir: Path | None = None

    @property
    def content_hash(self) -> str | None:
        return reference_hash(self.narrations) if self.narrations is not None else None


@dataclass
class PhaseSpec:
    slug: str
    fields: dict[str, Any]  # Phase model field -> value
    judge: dict[str, Any]  # JudgeSettings model field -> value (the defaults when the bundle has no judge entry)
    path: str = ""  # the YAML path, for messages: phases[0]
    references: dict[str, ReferenceSpec] = field(default_factory=dict)
    boards: list[dict[str, Any]] = field(default_factory=list)  # Board model fields, in order
    baselines: list[dict[str, Any]] = field(default_factory=list)  # Baseline model fields, in order


@dataclass
class BundleSpec:
    slug: str
    title: str
    description: str = ""
    terms: str = ""
    #: The Chinese texts of title, description and terms, as ``Challenge.translations`` keeps them.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)  # ChallengePage fields, in order
    phases: list[PhaseSpec] = field(default_factory=list)


# -- reading -------------------------------------------------------------------------


def bundle_file(path: str | Path) -> Path:
    """The YAML file of a bundle given as the file itself or the folder holding challenge.yaml."""
    path = Path(path)
    return path / BUNDLE_FILE if path.is_dir() else path


def read_bundle(path: str | Path) -> BundleSpec:
    """Parse and validate the bundle at ``path``; raises ``BundleError`` listing every problem."""
    file = bundle_file(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleError([f"{file}: cannot read the bundle: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise BundleError([f"{file}: not UTF-8 text: {exc.reason} at byte {exc.start}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        problem = getattr(exc, "problem", None) or str(exc)
        raise BundleError([f"{where}: not valid YAML: {problem}"]) from exc
    return validate_bundle(data, base_dir=file.parent)


def validate_bundle(data: Any, *, base_dir: str | Path) -> BundleSpec:
    """Check a parsed bundle; paths to files inside it are relative to ``base_dir``."""
    validator = _Validator(Path(base_dir))
    spec = validator.challenge(data)
    if validator.errors:
        raise BundleError(validator.errors)
    assert spec is not None
    return spec


_MISSING = object()


class _Validator:
    """Walks the bundle once, collecting every error instead of stopping at the first."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}" if path else message)

    # -- generic checks; each returns the value, or _MISSING after reporting why

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict | None:
        if not isinstance(value, dict):
            self.error(path or "the bundle", f"must be a mapping, not {_type_name(value)}")
            return None
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = f'; did you mean "{hint[0]}"?' if hint else f"; expected one of {', '.join(allowed)}"
                self.error(_join(path, str(key)), f"unknown key{suggestion}")
        for key in required:
            if value.get(key) is None:
                self.error(_join(path, key), "required")
        return value

    def text(self, data: dict, key: str, path: str, *, default: str = "", max_length: int | None = None) -> str:
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.error(_join(path, key), f"must be text, not {_type_name(value)}")
            return default
        if max_length is not None and len(value) > max_length:
            self.error(_join(path, key), f"at most {max_length} characters (has {len(value)})")
        return value

    def translated(
        self,
        data: dict,
        key: str,
        path: str,
        chinese: dict[str, str],
        *,
        default: str = "",
        max_length: int | None = None,
    ) -> str:
        """A text readers see: one string for every language, or ``{en: ..., zh: ...}`` (either one, or both).

        Returns what the model's field holds: the English, else the only text given. The Chinese text
        goes to ``chinese`` (field -> text, for ``translations_value``).
        """
        value = data.get(key)
        if not isinstance(value, dict):
            if value is not None and not isinstance(value, str):
                self.error(
                    _join(path, key), f"must be text, not {_type_name(value)} (or a mapping {{en: ..., zh: ...}})"
                )
                return default
            return self.text(data, key, path, default=default, max_length=max_length)
        where = _join(path, key)
        texts: dict[str, str] = {}
        unknown = False
        for language, text in value.items():
            if language not in TEXT_LANGUAGES:
                self.error(where, f'unknown language "{language}"; use {" and ".join(TEXT_LANGUAGES)}')
                unknown = True
                continue
            if text is None:
                continue
            if not isinstance(text, str):
                self.error(_join(where, language), f"must be text, not {_type_name(text)}")
                unknown = True
                continue
            if max_length is not None and len(text) > max_length:
                self.error(_join(where, language), f"at most {max_length} characters (has {len(text)})")
            texts[language] = text
        if not texts and not unknown:
            self.error(where, f"give the text in {' or '.join(TEXT_LANGUAGES)}, or both")
        if texts.get("zh"):
            chinese[key] = texts["zh"]
        return texts.get("en", texts.get("zh", default))

    def slug(self, data: dict, key: str, path: str) -> str:
        value = self.text(data, key, path, max_length=50)
        if value and not SLUG.match(value):
            self.error(_join(path, key), f'"{value}" is not a slug: use letters, digits, "-" and "_"')
        return value

    def boolean(self, data: dict, key: str, path: str, default: bool) -> bool:
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(_join(path, key), f"must be true or false, not {_type_name(value)}")
            return default
        return value

    def integer(
        self,
        data: dict,
        key: str,
        path: str,
        default: int | None,
        *,
        minimum: int = 0,
        maximum: int | None = None,
        nullable: bool = True,
    ) -> int | None:
        if key not in data or (data[key] is None and nullable):
            return default if key not in data else None
        value = data[key]
        if not isinstance(value, int) or isinstance(value, bool):
            or_null = " or null" if nullable else ""
            self.error(_join(path, key), f"must be a whole number{or_null}, not {_type_name(value)}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.error(_join(path, key), f"must be {bound}")
        return value

    def moment(self, data: dict, key: str, path: str) -> datetime | None:
        value = data.get(key)
        where = _join(path, key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                self.error(where, f'"{value}" is not an ISO 8601 date and time, e.g. 2025-03-01T00:00:00Z')
                return None
        elif isinstance(value, date) and not isinstance(value, datetime):
            self.error(where, "give a time and a timezone too, e.g. 2025-03-01T00:00:00Z")
            return None
        if not isinstance(value, datetime):
            self.error(where, f"must be a date and time, not {_type_name(value)}")
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            self.error(where, "give a timezone, e.g. 2025-03-01T00:00:00Z or +08:00")
            return None
        return value.astimezone(UTC)

    def language(self, value: Any, path: str, languages: list[str]) -> bool:
        if value not in LANGUAGES:
            self.error(path, f'unknown language "{value}"; expected one of {", ".join(LANGUAGES)}')
            return False
        if languages and value not in languages:
            self.error(path, f'"{value}" is not one of the challenge\'s languages ({", ".join(languages)})')
            return False
        return True

    def metric(self, value: Any, path: str) -> bool:
        if not isinstance(value, str):
            self.error(path, f"must be a metric name, not {_type_name(value)}")
            return False
        if value not in METRICS:
            hint = difflib.get_close_matches(value, list(METRICS), n=1)
            self.error(
                path,
                f'unknown metric "{value}"'
                + (f'; did you mean "{hint[0]}"?' if hint else f"; expected one of {', '.join(METRICS)}"),
            )
            return False
        return True

    def url(self, value: str, path: str) -> bool:
        """Checked as the model's URLField checks it, so a bundle that passes here also saves."""
        try:
            URLValidator()(value)
        except ValidationError as exc:
            for message in exc.messages:
                self.error(path, message)
            return False
        return True

    def items(self, data: dict, key: str, path: str, *, required: bool = False) -> list[tuple[str, Any]]:
        value = data.get(key)
        if value is None:
            if required:
                self.error(_join(path, key), "required")
            return []
        if not isinstance(value, list):
            self.error(_join(path, key), f"must be a list, not {_type_name(value)}")
            return []
        return [(f"{_join(path, key)}[{index}]", item) for index, item in enumerate(value)]

    def unique(self, seen: dict, value: Any, path: str, what: str) -> None:
        if value in (None, "", ()):
            return
        if value in seen:
            self.error(path, f'duplicate {what} "{_show(value)}" (also at {seen[value]})')
        else:
            seen[value] = path

    # -- the bundle's parts

    def challenge(self, data: Any) -> BundleSpec | None:
        top = self.mapping(data, "", CHALLENGE_KEYS, required=("slug", "title", "phases"))
        if top is None:
            return None
        languages = self.languages(top)
        chinese: dict[str, str] = {}
        spec = BundleSpec(
            slug=self.slug(top, "slug", ""),
            title=self.translated(top, "title", "", chinese, max_length=200),
            description=self.translated(top, "description", "", chinese),
            terms=self.translated(top, "terms", "", chinese),
            translations=translations_value(chinese),
            languages=languages,
        )
        slugs: dict = {}
        for order, (path, item) in enumerate(self.items(top, "pages", "")):
            page = self.mapping(item, path, PAGE_KEYS, required=("slug", "title"))
            if page is None:
                continue
            slug = self.slug(page, "slug", path)
            self.unique(slugs, slug, _join(path, "slug"), "page slug")
            chinese = {}
            spec.pages.append(
                {
                    "slug": slug,
                    "title": self.translated(page, "title", path, chinese, max_length=200),
                    "body": self.translated(page, "body", path, chinese),
                    "translations": translations_value(chinese),
                    "order": order,
                }
            )
        slugs = {}
        for order, (path, item) in enumerate(self.items(top, "phases", "", required=False)):
            phase = self.phase(item, path, order, languages)
            if phase is not None:
                self.unique(slugs, phase.slug, _join(path, "slug"), "phase slug")
                spec.phases.append(phase)
        if isinstance(top.get("phases"), list) and not top["phases"]:
            self.error("phases", "give at least one phase")
        return spec

    def languages(self, top: dict) -> list[str]:
        value = top.get("languages")
        if value is None:
            return []
        if not isinstance(value, list):
            self.error("languages", f"must be a list such as [zh, en], not {_type_name(value)}")
            return []
        languages, seen = [], {}
        for index, language in enumerate(value):
            path = f"languages[{index}]"
            if self.language(language, path, []):
                self.unique(seen, language, path, "language")
                languages.append(language)
        return languages

    def phase(self, item: Any, path: str, order: int, languages: list[str]) -> PhaseSpec | None:
        data = self.mapping(item, path, PHASE_KEYS, required=("slug", "title", "starts_at"))
        if data is None:
            return None
        chinese: dict[str, str] = {}
        fields: dict[str, Any] = {
            "order": order,
            "title": self.translated(data, "title", path, chinese, max_length=200),
            "description": self.translated(data, "description", path, chinese, default=phase_default("description")),
            "translations": translations_value(chinese),
            "starts_at": self.moment(data, "starts_at", path),
            "ends_at": self.moment(data, "ends_at", path),
            "references_public": self.boolean(data, "references_public", path, phase_default("references_public")),
            "max_submissions_per_day": self.integer(
                data, "max_submissions_per_day", path, phase_default("max_submissions_per_day")
            ),
            "max_submissions_total": self.integer(
                data, "max_submissions_total", path, phase_default("max_submissions_total")
            ),
            "board_visibility": self.text(
                data, "board_visibility", path, default=str(phase_default("board_visibility"))
            ),
            "boards_public_from": self.moment(data, "boards_public_from", path),
            "frozen_at": self.moment(data, "frozen_at", path),
            "requires_approval": self.boolean(data, "requires_approval", path, phase_default("requires_approval")),
            "show_all_entries": self.boolean(data, "show_all_entries", path, phase_default("show_all_entries")),
            "allow_partial": self.boolean(data, "allow_partial", path, phase_default("allow_partial")),
            "min_changed_clips": self.integer(data, "min_changed_clips", path, phase_default("min_changed_clips")),
            "bootstrap_unit": self.text(data, "bootstrap_unit", path, default=str(phase_default("bootstrap_unit"))),
            "public_movie_breakdown": self.boolean(
                data, "public_movie_breakdown", path, phase_default("public_movie_breakdown")
            ),
        }
        if fields["bootstrap_unit"] not in BootstrapUnit.values:
            self.error(
                _join(path, "bootstrap_unit"),
                f'unknown unit "{fields["bootstrap_unit"]}"; expected one of {", ".join(BootstrapUnit.values)}',
            )
        if fields["starts_at"] and fields["ends_at"] and fields["ends_at"] <= fields["starts_at"]:
            self.error(_join(path, "ends_at"), "must be after starts_at")
        visibility = fields["board_visibility"]
        if visibility not in VISIBILITIES:
            self.error(
                _join(path, "board_visibility"),
                f'unknown visibility "{visibility}"; expected one of {", ".join(VISIBILITIES)}',
            )
        elif visibility == BoardVisibility.HIDDEN_UNTIL and data.get("boards_public_from") is None:
            self.error(_join(path, "boards_public_from"), "required with board_visibility: hidden_until")
        elif visibility != BoardVisibility.HIDDEN_UNTIL and data.get("boards_public_from") is not None:
            self.error(_join(path, "boards_public_from"), "only with board_visibility: hidden_until")
        judge = self.judge(data.get("judge"), _join(path, "judge"))
        phase = PhaseSpec(slug=self.slug(data, "slug", path), fields=fields, judge=judge, path=path)
        phase.references = self.references(data.get("references"), _join(path, "references"), languages)
        phase.boards = self.boards(data, path)
        phase.baselines = self.baselines(data, path, languages)
        return phase

    def judge(self, value: Any, path: str) -> dict[str, Any]:
        defaults = judge_defaults()
        if value is None:
            return defaults
        if isinstance(value, dict) and "api_key" in value:
            self.error(
                _join(path, "api_key"),
                "keys never go in a bundle; name the environment variable holding it with api_key_env",
            )
            value = {key: item for key, item in value.items() if key != "api_key"}
        data = self.mapping(value, path, JUDGE_KEYS)
        if data is None:
            return defaults
        base_url = self.text(data, "base_url", path, default=defaults["base_url"], max_length=300)
        if base_url and not base_url.startswith(("http://", "https://")):
            self.error(_join(path, "base_url"), "must start with http:// or https://")
        api_key_env = self.text(data, "api_key_env", path, default=defaults["api_key_env"], max_length=100)
        if api_key_env and not is_judge_api_key_env(api_key_env):
            self.error(_join(path, "api_key_env"), f'"{api_key_env}" is not allowed: name {JUDGE_API_KEY_ENV_HELP}')
        temperature = data.get("temperature")
        if temperature is not None and (
            not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not 0 <= temperature <= 2
        ):
            self.error(_join(path, "temperature"), "must be a number between 0 and 2")
            temperature = None
        templates = data.get("templates") or {}
        try:
            templates_from_data(templates)
        except TemplateError as exc:
            # The template checker names paths from "templates"; put the bundle's path in front.
            message = str(exc)
            self.error("", f"{path}.{message}" if message.startswith("templates") else f"{path}.templates: {message}")
        return {
            "enabled": self.boolean(data, "enabled", path, defaults["enabled"]),
            "base_url": base_url,
            "model": self.text(data, "model", path, default=defaults["model"], max_length=200),
            "api_key_env": api_key_env,
            "temperature": float(temperature) if temperature is not None else defaults["temperature"],
            "max_tokens": self.integer(data, "max_tokens", path, defaults["max_tokens"], minimum=JUDGE_MAX_TOKENS_MIN),
            "templates": templates if isinstance(templates, dict) else defaults["templates"],
        }

    def references(self, value: Any, path: str, languages: list[str]) -> dict[str, ReferenceSpec]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping of language -> references, not {_type_name(value)}")
            return {}
        specs = {}
        for language, item in value.items():
            where = _join(path, str(language))
            if not self.language(language, where, languages):
                continue
            spec = self.reference(item, where, language)
            if spec is not None:
                specs[language] = spec
        return specs

    def reference(self, value: Any, path: str, language: str) -> ReferenceSpec | None:
        data = self.mapping(value, path, REFERENCE_KEYS)
        if data is None:
            return None
        kinds = [kind for kind in ("file", "movie101v2", "narrations") if data.get(kind) is not None]
        expected_hash = self.text(data, "hash", path) or None
        if expected_hash and not HASH.match(expected_hash):
            self.error(_join(path, "hash"), 'must look like "sha256:" and 64 hex digits')
            expected_hash = None
        self.integer(data, "clips", path, None)
        source = self.text(data, "source", path, max_length=300)
        if len(kinds) > 1:
            self.error(path, f"give one of file, movie101v2 or narrations, not {' and '.join(kinds)}")
            return None
        if not kinds:
            if expected_hash is None:
                self.error(
                    path, "give file, movie101v2 or narrations (or the hash of the stored references to keep them)"
                )
                return None
            return ReferenceSpec(path=path, narrations=None, source=source, expected_hash=expected_hash)
        kind = kinds[0]
        narrations, default_source = None, ""
        if kind == "file":
            narrations, default_source = self.reference_file(data["file"], _join(path, "file"))
        elif kind == "movie101v2":
            narrations, default_source = self.movie101v2_references(
                data["movie101v2"], _join(path, "movie101v2"), language
            )
        else:
            narrations, default_source = self.inline_narrations(data["narrations"], _join(path, "narrations"))
        if narrations is None:
            return None
        if expected_hash and reference_hash(narrations) != expected_hash:
            self.error(
                _join(path, "hash"), f"the references read have hash {reference_hash(narrations)}, not {expected_hash}"
            )
        metadata_dir = None
        if kind == "movie101v2":
            metadata_dir = (self.base_dir / data["movie101v2"]["data"] / "metadata").resolve()
        return ReferenceSpec(
            path=path,
            narrations=narrations,
            source=source or default_source,
            expected_hash=expected_hash,
            metadata_dir=metadata_dir,
        )

    def reference_file(self, value: Any, path: str) -> tuple[dict | None, str]:
        if not isinstance(value, str) or not value:
            self.error(path, "must be the path of a JSON file, relative to the bundle")
            return None, ""
        file = self.base_dir / value
        if not file.is_file():
            self.error(path, f"no such file: {value} (looked for {file})")
            return None, ""
        try:
            narrations = load_references(file)
        except EvaluationError as exc:
            self.error(path, str(exc))
            return None, ""
        if not narrations:
            self.error(path, f"{value} holds no clips")
            return None, ""
        return narrations, f"file {value}"

    def movie101v2_references(self, value: Any, path: str, language: str) -> tuple[dict | None, str]:
        data = self.mapping(value, path, MOVIE101V2_KEYS, required=("data", "split"))
        if data is None or data.get("data") is None or data.get("split") is None:
            return None, ""
        folder, split = data["data"], data["split"]
        if not isinstance(folder, str):
            self.error(_join(path, "data"), "must be the path of a Movie101v2 folder, relative to the bundle")
            return None, ""
        if split not in SPLITS:
            self.error(_join(path, "split"), f'unknown split "{split}"; expected one of {", ".join(SPLITS)}')
            return None, ""
        root = self.base_dir / folder
        if not (root / "splits.json").is_file():
            self.error(_join(path, "data"), f"{folder} is not a Movie101v2 folder: no splits.json in {root}")
            return None, ""
        try:
            narrations = read_split(root, split, language)
        except EvaluationError as exc:
            self.error(path, str(exc))
            return None, ""
        return narrations, f"{root.resolve()} ({split}, {language})"

    def inline_narrations(self, value: Any, path: str) -> tuple[dict | None, str]:
        if not isinstance(value, dict) or not value:
            self.error(path, "must be a non-empty mapping of clip id -> narration")
            return None, ""
        bad = [str(clip) for clip, text in value.items() if not isinstance(clip, str) or not isinstance(text, str)]
        if bad:
            self.error(path, f"clip ids and narrations must be text (see {', '.join(bad[:3])})")
            return None, ""
        return dict(value), "inline in the bundle"

    def boards(self, data: dict, path: str) -> list[dict[str, Any]]:
        boards, keys = [], {}
        for order, (where, item) in enumerate(self.items(data, "boards", path)):
            board = self.mapping(item, where, BOARD_KEYS, required=("key", "title", "primary"))
            if board is None:
                continue
            key = self.slug(board, "key", where)
            self.unique(keys, key, _join(where, "key"), "board key")
            primary = board.get("primary")
            if primary is not None:
                self.metric(primary, _join(where, "primary"))
            columns = board.get("columns") or []
            if not isinstance(columns, list):
                self.error(_join(where, "columns"), f"must be a list of metric names, not {_type_name(columns)}")
                columns = []
            seen: dict = {primary: _join(where, "primary")} if isinstance(primary, str) else {}
            for index, column in enumerate(columns):
                if self.metric(column, f"{_join(where, 'columns')}[{index}]"):
                    self.unique(seen, column, f"{_join(where, 'columns')}[{index}]", "column")
            chinese: dict[str, str] = {}
            boards.append(
                {
                    "key": key,
                    "title": self.translated(board, "title", where, chinese, max_length=200),
                    "description": self.translated(board, "description", where, chinese),
                    "translations": translations_value(chinese),
                    "primary_metric": primary if isinstance(primary, str) else "",
                    "secondary_metrics": [column for column in columns if isinstance(column, str)],
                    "precision": self.integer(
                        board,
                        "precision",
                        where,
                        Board._meta.get_field("precision").get_default(),
                        maximum=BOARD_PRECISION_MAX,
                        nullable=False,
                    ),
                    "order": order,
                }
            )
        return boards

    def baselines(self, data: dict, path: str, languages: list[str]) -> list[dict[str, Any]]:
        baselines, keys = [], {}
        for order, (where, item) in enumerate(self.items(data, "baselines", path)):
            baseline = self.mapping(
                item, where, BASELINE_KEYS, required=("language", "key", "method_name", "citation", "scores")
            )
            if baseline is None:
                continue
            language = baseline.get("language")
            if language is not None:
                self.language(language, _join(where, "language"), languages)
            key = self.slug(baseline, "key", where)
            if isinstance(language, str):
                self.unique(keys, (language, key), _join(where, "key"), "baseline key")
            url = self.text(baseline, "url", where, max_length=500)
            if url and not url.startswith(("http://", "https://")):
                self.error(_join(where, "url"), "must start with http:// or https://")
            elif url:
                self.url(url, _join(where, "url"))
            scores = baseline.get("scores")
            if scores is not None and not isinstance(scores, dict):
                self.error(_join(where, "scores"), f"must be a mapping of metric -> number, not {_type_name(scores)}")
                scores = {}
            for metric, value in (scores or {}).items():
                score_path = _join(_join(where, "scores"), str(metric))
                if self.metric(metric, score_path) and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                    self.error(score_path, f"must be a number, not {_type_name(value)}")
            if isinstance(scores, dict) and "scores" in baseline and not scores:
                self.error(_join(where, "scores"), "give at least one score")
            baselines.append(
                {
                    "language": language,
                    "key": key,
                    "method_name": self.text(baseline, "method_name", where, max_length=200),
                    "citation": self.text(baseline, "citation", where, max_length=500),
                    "url": url,
                    "scores": dict(scores or {}),
                    "order": order,
                }
            )
        return baselines


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    return "/".join(value) if isinstance(value, tuple) else str(value)


def _type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
