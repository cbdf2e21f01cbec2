"""Creating and updating challenges from a plain description.

``load_bundle`` loads a validated YAML bundle (``bundles.read_bundle``): the
``load_challenge`` command, the Movie101v2 preset and the demo all go through
it. It is idempotent and returns a line per thing created, updated or unchanged.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone

from evaluation.stats import movie_of
from leaderboard.audit.services import field_changes, record
from leaderboard.boards.models import Baseline, Board
from leaderboard.boards.services import refresh_boards

from .bundle_export import challenge_bundle, dump_bundle, dump_references, format_moment
from .bundles import BUNDLE_FILE, BundleError, BundleSpec, PhaseSpec, ReferenceSpec
from .models import AUDITED_PHASE_FIELDS, JUDGE_SETTINGS_FIELDS, Challenge, ChallengePage, Movie, Phase, ReferenceSet
from .selectors import judge_settings_of
from .texts import translation, translations_value

logger = logging.getLogger(__name__)

#: The stage boards of Movie101v2. Until a judge is configured the stage
#: metrics are absent, and the ranking falls through to the classic columns.
MOVIE101V2_BOARDS = [
    {
        "key": "l1",
        "title": "L1 · visual facts",
        "description": "Does the narration get the environment and the characters of the reference right?",
        "primary": "l1",
        "columns": ["l1_environment", "l1_character", "cider", "bleu_4", "meteor", "rouge_l"],
    },
    {
        "key": "l2",
        "title": "L2 · plot",
        "description": "Does the narration convey the same plot as the reference?",
        "primary": "l2",
        "columns": ["cider", "bleu_4", "meteor", "rouge_l"],
    },
]


@dataclass
class UpsertReport:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


@dataclass(frozen=True)
class LoadAudit:
    """Who loads a bundle and why: recorded with each audited change a reload makes."""

    actor: AbstractBaseUser | str
    reason: str


# -- bundles -------------------------------------------------------------------------

# A phase's settings a bundle states, compared field by field on a reload.
_PHASE_SETTINGS = (
    "order",
    "title",
    "description",
    "translations",
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
)


#: The audit log's actor and reason when a caller names none (tests, scripts).
DEFAULT_LOAD_ACTOR = "load_bundle"
DEFAULT_LOAD_REASON = "loaded from a bundle"


@transaction.atomic
def load_bundle(
    spec: BundleSpec,
    *,
    dry_run: bool = False,
    keep_organizer_edits: bool = False,
    actor: AbstractBaseUser | str = DEFAULT_LOAD_ACTOR,
    reason: str = DEFAULT_LOAD_REASON,
) -> UpsertReport:
    """Make the database say what the bundle says, in one transaction.

    The bundle is the source of truth for everything it states: a reload
    updates in place, and pages, boards and baselines it no longer lists are
    removed. Phases and reference sets it does not list are left alone (they
    carry submissions), and reported. Raises ``BundleError`` (nothing saved)
    when stored state contradicts the bundle, e.g. a kept reference set whose
    hash differs.

    ``keep_organizer_edits`` is the preset's mode (``import_movie101v2``): a
    phase's dates, limits, visibility and judge settings are set when it is
    created and left as organizers changed them afterwards, terms and
    languages are not touched, and nothing is removed.

    Changes to an existing phase's audited fields (``AUDITED_PHASE_FIELDS``:
    dates, limits, visibility, freeze, approval; and its ``JudgeSettings``) are recorded
    as one ``phase.change`` event per phase, old -> new, and a reference set
    whose narrations changed as one ``references.change`` event (hashes and
    clip counts, never the narrations), each naming ``actor`` and ``reason``,
    as the admin's change form does. Objects created are not events.

    ``dry_run`` does all of it and rolls back, so the report says exactly
    what a load would change; it records no events.
    """
    report = UpsertReport()
    errors: list[str] = []
    audit = None if dry_run else LoadAudit(actor=actor, reason=reason.strip() or DEFAULT_LOAD_REASON)
    challenge = _sync_challenge(spec, report, keep_organizer_edits)
    _sync_list(
        ChallengePage,
        {"challenge": challenge},
        challenge.pages.all(),
        spec.pages,
        ("slug",),
        what="page",
        label_prefix=challenge.slug,
        parent_path="",
        report=report,
        remove_absent=not keep_organizer_edits,
    )
    stated = set()
    for phase_spec in spec.phases:
        stated.add(phase_spec.slug)
        phase = _sync_phase(challenge, phase_spec, report, keep_organizer_edits, audit)
        for language, reference_spec in phase_spec.references.items():
            _sync_references(phase, language, reference_spec, report, errors, audit)
        if not keep_organizer_edits:
            for reference_set in phase.reference_sets.exclude(language__in=list(phase_spec.references)):
                report.add(
                    f"references {phase}/{reference_set.language}: not in the bundle, kept "
                    f"({reference_set.clip_count:,} clips, {reference_set.content_hash})"
                )
        _sync_list(
            Board,
            {"phase": phase},
            phase.boards.all(),
            phase_spec.boards,
            ("key",),
            what="board",
            label_prefix=str(phase),
            parent_path=phase_spec.path,
            report=report,
            remove_absent=not keep_organizer_edits,
        )
        _sync_list(
            Baseline,
            {"phase": phase},
            phase.baselines.all(),
            phase_spec.baselines,
            ("language", "key"),
            what="baseline",
            label_prefix=str(phase),
            parent_path=phase_spec.path,
            report=report,
            remove_absent=not keep_organizer_edits,
        )
    _sync_movies(spec, report, errors)
    if not keep_organizer_edits:
        for phase in challenge.phases.exclude(slug__in=stated):
            report.add(
                f"phase {phase}: not in the bundle, kept (delete a phase in the admin; "
                "it takes its submissions with it)"
            )
    if errors:
        raise BundleError(errors)
    if dry_run:
        transaction.set_rollback(True)
        return report
    for phase in challenge.phases.all():
        refresh_boards(phase)  # boards, baselines and phase settings may all have changed
    return report


def movie_metadata(path: Path) -> dict[str, Any]:
    """``Movie`` fields from a release's ``metadata/<movie_id>.json`` (``title``, ``year``, ``genre``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    year = data.get("year")
    try:
        year = int(year) if year not in (None, "") else None
    except (TypeError, ValueError):
        year = None  # the release writes years as text or numbers; anything else is left out
    genres = data.get("genre") or []
    if not isinstance(genres, list) or not all(isinstance(name, str) for name in genres):
        raise ValueError("genre is not a list of names")
    return {"title": str(data.get("title") or "")[:300], "year": year, "genres": genres}


def _sync_movies(spec: BundleSpec, report: UpsertReport, errors: list[str]) -> None:
    """Read the metadata of the movies of the bundle's Movie101v2 references into ``Movie``.

    Only references read from a Movie101v2 folder (``movie101v2: {data, split}``) name a metadata
    folder; a movie without a metadata file is reported and left out of the breakdowns' names.
    """
    wanted: dict[str, Path] = {}
    for phase_spec in spec.phases:
        for reference_spec in phase_spec.references.values():
            if reference_spec.metadata_dir is None or reference_spec.narrations is None:
                continue
            for clip_id in reference_spec.narrations:
                wanted.setdefault(movie_of(clip_id), reference_spec.metadata_dir)
    if not wanted:
        return
    existing = {movie.movie_id: movie for movie in Movie.objects.filter(movie_id__in=list(wanted))}
    created, updated, missing = 0, 0, []
    for movie_id, folder in sorted(wanted.items()):
        path = folder / f"{movie_id}.json"
        if not path.is_file():
            missing.append(movie_id)
            continue
        try:
            values = movie_metadata(path)
        except (OSError, ValueError) as exc:
            errors.append(f"movie metadata {path}: {exc}")
            continue
        movie = existing.get(movie_id)
        if movie is None:
            Movie.objects.create(movie_id=movie_id, **values)
            created += 1
        elif _changed_fields(movie, values):
            for name, value in values.items():
                setattr(movie, name, value)
            movie.save()
            updated += 1
    unchanged = len(wanted) - created - updated - len(missing)
    parts = [f"{count} {what}" for count, what in ((created, "created"), (updated, "updated")) if count]
    line = f"movies: {', '.join([*parts, f'{unchanged} unchanged'])}"
    if missing:
        line += f"; no metadata for {len(missing)} ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
    report.add(line)


def _changed_fields(instance, values: dict[str, Any]) -> list[str]:
    return [name for name, value in values.items() if getattr(instance, name) != value]


def _validate(instance: models.Model, path: str) -> None:
    """``full_clean``, with what the model refuses reported as a ``BundleError`` at the object's YAML path.

    The bundle validator checks what the models check, so this is a safety net:
    a bundle problem it missed is still a message, not a traceback.
    """
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise BundleError.from_validation_error(exc, path, type(instance)) from exc


def _item_path(parent: str, key: str, order: int) -> str:
    """The YAML path of a list item; a board's, baseline's or page's ``order`` is its index in the list."""
    return f"{parent}.{key}[{order}]" if parent else f"{key}[{order}]"


def _sync_challenge(spec: BundleSpec, report: UpsertReport, keep_organizer_edits: bool) -> Challenge:
    challenge = Challenge.objects.filter(slug=spec.slug).first()
    values: dict[str, Any] = {
        "title": spec.title,
        "description": spec.description,
        "translations": _challenge_translations(spec, challenge, keep_organizer_edits),
    }
    if not keep_organizer_edits:
        values.update(terms=spec.terms, languages=list(spec.languages))
    if challenge is None:
        challenge = Challenge(slug=spec.slug, **values)
        _validate(challenge, "")
        challenge.save()
        report.add(f"challenge {challenge.slug}: created")
        return challenge
    _save_changes(challenge, values, f"challenge {challenge.slug}", report, "")
    return challenge


def _challenge_translations(spec: BundleSpec, stored: Challenge | None, keep_organizer_edits: bool) -> dict:
    """The challenge's ``translations`` after a load: the bundle's, but for the terms the preset leaves alone."""
    if not keep_organizer_edits:
        return spec.translations
    chinese = {name: text for name, text in spec.translations.get("zh", {}).items() if name != "terms"}
    if stored is not None and translation(stored, "terms"):
        chinese["terms"] = translation(stored, "terms")
    return translations_value(chinese)


def _sync_list(
    model: type[models.Model],
    parent: dict[str, Any],
    stored: models.QuerySet,
    items: list[dict[str, Any]],
    identity: tuple[str, ...],
    *,
    what: str,
    label_prefix: str,
    parent_path: str,
    report: UpsertReport,
    remove_absent: bool,
) -> None:
    """Make ``stored`` (a challenge's pages, a phase's boards or baselines) what the bundle lists.

    Rows are matched by ``identity`` (their key fields); a row the bundle no
    longer lists is removed when ``remove_absent``.
    """
    existing = {tuple(getattr(row, name) for name in identity): row for row in stored}
    for values in items:
        key = tuple(values[name] for name in identity)
        label = f"{what} {label_prefix}/{'/'.join(map(str, key))}"
        path = _item_path(parent_path, f"{what}s", values["order"])
        row = existing.pop(key, None)
        if row is None:
            row = model(**parent, **values)
            _validate(row, path)
            row.save()
            report.add(f"{label}: created")
            continue
        _save_changes(row, values, label, report, path)
    if remove_absent:
        for key, row in existing.items():
            row.delete()
            report.add(f"{what} {label_prefix}/{'/'.join(map(str, key))}: removed (not in the bundle)")


def _save_changes(instance, values: dict[str, Any], label: str, report: UpsertReport, path: str) -> None:
    _report_changes(report, label, _store_changes(instance, values, path))


def _store_changes(instance, values: dict[str, Any], path: str) -> list[str]:
    """Set ``values`` on ``instance`` and save it if any differ (an unsaved row is created then); the names that did."""
    changed = _changed_fields(instance, values)
    if changed:
        for name in changed:
            setattr(instance, name, values[name])
        _validate(instance, path)
        instance.save()
    return changed


def _report_changes(report: UpsertReport, label: str, changed: list[str]) -> None:
    report.add(f"{label}: updated ({', '.join(changed)})" if changed else f"{label}: unchanged")


def _sync_phase(
    challenge: Challenge, spec: PhaseSpec, report: UpsertReport, keep_organizer_edits: bool, audit: LoadAudit | None
) -> Phase:
    values = {name: spec.fields[name] for name in _PHASE_SETTINGS}
    phase = Phase.objects.filter(challenge=challenge, slug=spec.slug).first()
    label = f"phase {challenge.slug}/{spec.slug}"
    if phase is None:
        phase = Phase(challenge=challenge, slug=spec.slug, **values)
        _validate(phase, spec.path)
        phase.save()
        # Stored only when the bundle sets something: a phase without a row has the defaults.
        _store_changes(judge_settings_of(phase), spec.judge, spec.path)
        report.add(
            f"{label}: created ({'public' if phase.references_public else 'hidden'} references, "
            f"opens {format_moment(phase.starts_at)})"
        )
        return phase
    before = audited_phase_values(phase)
    if keep_organizer_edits:
        if phase.references_public != values["references_public"]:
            phase.references_public = values["references_public"]
            phase.save(update_fields=["references_public"])
            report.add(f"{label}: references are now {'public' if phase.references_public else 'hidden'}")
        else:
            report.add(f"{label}: kept (dates and limits are left as organizers set them)")
    else:
        changed = _store_changes(phase, values, spec.path)
        judge_changed = _store_changes(judge_settings_of(phase), spec.judge, spec.path)
        _report_changes(report, label, changed + [judge_audit_name(name) for name in judge_changed])
    _record_phase_changes(before, phase, audit)
    return phase


def _record_phase_changes(before: dict[str, Any], phase: Phase, audit: LoadAudit | None) -> None:
    if audit is not None:
        record_phase_change(audit.actor, before, phase, audit.reason)


def judge_audit_name(name: str) -> str:
    """A ``JudgeSettings`` field as audit events and load reports name it, beside the phase's own fields.

    The prefix keeps ``enabled`` or ``model`` from reading as the phase's, and keeps the names
    the audit log used when these were Phase fields, so old and new events compare.
    """
    return f"judge_{name}"


def audited_phase_values(phase: Phase) -> dict[str, Any]:
    """The audited settings of a phase and its judge, as of now: what ``record_phase_change`` compares."""
    judge = judge_settings_of(phase)
    values = {name: getattr(phase, name) for name in AUDITED_PHASE_FIELDS}
    values.update((judge_audit_name(name), getattr(judge, name)) for name in JUDGE_SETTINGS_FIELDS)
    # A copy: the templates are a mutable mapping the caller may change before comparing.
    return copy.deepcopy(values)


def record_phase_change(actor, before: dict[str, Any], phase: Phase, reason: str) -> dict[str, Any]:
    """One ``phase.change`` event with the audited values that changed since ``before``
    (``audited_phase_values`` then), old -> new; none if nothing did.

    What a bundle load and the admin's change form both record. Returns the changes.
    """
    changes = field_changes(before, audited_phase_values(phase))
    if changes:
        record(actor, "phase.change", phase, reason, changes=changes)
    return changes


def _sync_references(
    phase: Phase, language: str, spec: ReferenceSpec, report: UpsertReport, errors: list[str], audit: LoadAudit | None
) -> None:
    label = f"references {phase}/{language}"
    existing = ReferenceSet.objects.filter(phase=phase, language=language).first()
    if spec.narrations is None:
        # The bundle was exported without references: keep the stored ones, if they are the ones it names.
        if existing is None:
            errors.append(f"{spec.path}: there are no stored references to keep; give file, movie101v2 or narrations")
        elif existing.content_hash != spec.expected_hash:
            errors.append(
                f"{spec.path}.hash: the stored references have hash {existing.content_hash}, "
                f"the bundle names {spec.expected_hash}"
            )
        else:
            _keep_references(existing, spec, label, report)
        return
    if existing is None:
        created = ReferenceSet.objects.create(
            phase=phase, language=language, narrations=spec.narrations, source=spec.source
        )
        archive_references(created)
        report.add(f"{label}: created, {created.clip_count:,} clips, {created.content_hash}")
        return
    if existing.content_hash == spec.content_hash:
        _keep_references(existing, spec, label, report)
        return
    old_hash, old_clip_count = existing.content_hash, existing.clip_count
    existing.narrations, existing.source = spec.narrations, spec.source or existing.source
    existing.save()
    archive_references(existing)
    report.add(f"{label}: updated, {existing.clip_count:,} clips, {old_hash} -> {existing.content_hash}")
    if audit is not None:
        # Hashes and counts only: the narrations of a hidden test set stay out of the audit log.
        record(
            audit.actor,
            "references.change",
            existing,
            audit.reason,
            hash=[old_hash, existing.content_hash],
            clips=[old_clip_count, existing.clip_count],
            source=existing.source,
        )


def _keep_references(existing: ReferenceSet, spec: ReferenceSpec, label: str, report: UpsertReport) -> None:
    # Unchanged, but possibly stored before references were archived: a reload fills the gap.
    archive_references(existing)
    if spec.source and spec.source != existing.source:
        existing.source = spec.source
        existing.save(update_fields=["source", "updated_at"])
        report.add(f"{label}: source updated, {existing.clip_count:,} clips, {existing.content_hash}")
    else:
        report.add(f"{label}: unchanged, {existing.clip_count:,} clips")


# -- copies in storage ----------------------------------------------------------------------


def reference_archive_name(reference_set: ReferenceSet) -> str:
    phase = reference_set.phase
    return f"references/{phase.challenge.slug}/{phase.slug}/{reference_set.language}/{reference_set.content_hash}.json"


def archive_references(reference_set: ReferenceSet) -> None:
    """Keep the narrations behind ``content_hash`` as a private file in storage, once the change commits.

    Every result names the hash of the references it was scored against; the
    database keeps only the current narrations, so this copy is what still
    shows, after a fix, what an old result was scored against. Call it
    wherever narrations are stored or changed. The write waits for the commit,
    so a load that rolls back (an error, a dry run) leaves nothing behind. A
    copy already stored is left alone: the name says what the content is.
    """
    name = reference_archive_name(reference_set)
    # Read now: by the time the transaction commits the object may have changed again.
    content = dump_references(reference_set.narrations).encode("utf-8")

    def write() -> None:
        if default_storage.exists(name):
            return
        # Two loads racing here both write the same bytes; the second copy gets a suffixed name.
        stored = default_storage.save(name, ContentFile(content))
        logger.info("references archived as %s", stored)

    transaction.on_commit(write)


def export_files(challenge: Challenge, *, with_references: bool = False) -> dict[str, str]:
    """A challenge as files, name -> text: ``challenge.yaml`` and, with references, the files it names."""
    bundle, reference_files = challenge_bundle(challenge, with_references=with_references)
    files = {BUNDLE_FILE: dump_bundle(bundle)}
    files.update((name, dump_references(narrations)) for name, narrations in reference_files.items())
    return files


def export_to_storage(challenge: Challenge, *, with_references: bool = False) -> list[str]:
    """Write a challenge's export under ``exports/<slug>/<UTC time>/`` in storage; the names written.

    The time has microseconds so that two exports never share a folder: the
    bundle names its reference files relative to itself.
    """
    folder = f"exports/{challenge.slug}/{timezone.now().strftime('%Y%m%dT%H%M%S.%fZ')}"
    return [
        default_storage.save(f"{folder}/{name}", ContentFile(text.encode("utf-8")))
        for name, text in export_files(challenge, with_references=with_references).items()
    ]


# -- the Movie101v2 preset ----------------------------------------------------------------


def movie101v2_bundle(
    root: str,
    *,
    slug: str = "movie101v2",
    starts_at: datetime | None = None,
) -> dict[str, Any]:
    """The Movie101v2 challenge as a bundle: a public val phase and a hidden test phase.

    The references point at the data folder (``root``, absolute), so the
    bundle can be written out and loaded again without copying the data.
    Raises ``DatasetError`` when ``root`` is not a Movie101v2 folder.
    """
    from evaluation.movie101v2 import split_movies

    root = str(root)
    boards = [{**board, "columns": list(board["columns"])} for board in MOVIE101V2_BOARDS]

    def references(split: str) -> dict[str, Any]:
        return {language: {"movie101v2": {"data": root, "split": split}} for language in ("zh", "en")}

    opens = format_moment(starts_at or timezone.now())
    return {
        "slug": slug,
        "title": "Movie101v2 movie narration",
        "description": (
            "Write audio description for movie clips, in Chinese and English. Narrations are scored in stages: "
            "L1 visual facts (environment and characters) and L2 plot, with BLEU, METEOR, ROUGE-L and CIDEr "
            "beside them. Annotations: Yue et al., Movie101v2 (ACL 2025), CC BY 4.0."
        ),
        "phases": [
            {
                "slug": "val",
                "title": "Validation",
                "description": f"The {len(split_movies(root, 'val'))} validation movies. "
                "References are public; per-clip scores are shown to the team.",
                "starts_at": opens,
                "references_public": True,
                "max_submissions_per_day": 20,
                "max_submissions_total": 500,
                "references": references("val"),
                "boards": boards,
            },
            {
                "slug": "test",
                "title": "Test",
                "description": f"The {len(split_movies(root, 'test'))} test movies. "
                "References are hidden; only split-level scores are shown.",
                "starts_at": opens,
                "references_public": False,
                "max_submissions_per_day": 5,
                "max_submissions_total": 100,
                "references": references("test"),
                "boards": boards,
            },
        ],
    }
