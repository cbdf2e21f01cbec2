"""Creating and updating challenges from a plain description.

``upsert_challenge`` serves every way a challenge gets in: the Movie101v2
import, the demo, and (later) YAML bundles. It is idempotent and returns a
line per thing it created or changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from evaluation.references import reference_hash

from .models import Board, Challenge, Phase, ReferenceSet

#: The stage boards of Movie101v2. Until a judge is configured the stage
#: metrics are absent, and the ranking falls through to the classic columns.
MOVIE101V2_BOARDS = [
    {
        "key": "l1",
        "title": "L1 · visual facts",
        "description": "Does the narration get the environment and the characters of the reference right?",
        "primary": "l1",
        "secondary": ["l1_environment", "l1_character", "cider", "bleu_4", "meteor", "rouge_l"],
    },
    {
        "key": "l2",
        "title": "L2 · plot",
        "description": "Does the narration convey the same plot as the reference?",
        "primary": "l2",
        "secondary": ["cider", "bleu_4", "meteor", "rouge_l"],
    },
]

# Set when a phase is created; an organizer's later edits survive a re-import.
_SCHEDULE_FIELDS = (
    "title",
    "description",
    "order",
    "starts_at",
    "ends_at",
    "max_submissions_per_day",
    "max_submissions_total",
    "board_visibility",
    "boards_public_from",
    "frozen_at",
    "requires_approval",
    "show_all_entries",
    "allow_partial",
)


@dataclass
class UpsertReport:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


@transaction.atomic
def upsert_challenge(spec: dict[str, Any]) -> UpsertReport:
    report = UpsertReport()
    challenge, created = Challenge.objects.get_or_create(
        slug=spec["slug"], defaults={"title": spec["title"], "description": spec.get("description", "")}
    )
    if created:
        report.add(f"challenge {challenge.slug}: created")
    elif (challenge.title, challenge.description) != (spec["title"], spec.get("description", "")):
        challenge.title, challenge.description = spec["title"], spec.get("description", "")
        challenge.save(update_fields=["title", "description"])
        report.add(f"challenge {challenge.slug}: title and description updated")
    else:
        report.add(f"challenge {challenge.slug}: unchanged")

    for order, phase_spec in enumerate(spec["phases"]):
        phase = _upsert_phase(challenge, {"order": order, **phase_spec}, report)
        for language, reference_spec in phase_spec.get("references", {}).items():
            _upsert_references(phase, language, reference_spec, report)
        for board_order, board_spec in enumerate(phase_spec.get("boards", [])):
            _upsert_board(phase, board_order, board_spec, report)
    return report


def _upsert_phase(challenge: Challenge, spec: dict[str, Any], report: UpsertReport) -> Phase:
    defaults = {name: spec[name] for name in _SCHEDULE_FIELDS if name in spec}
    defaults.setdefault("title", spec["slug"])
    defaults.setdefault("starts_at", timezone.now())
    phase, created = Phase.objects.get_or_create(
        challenge=challenge,
        slug=spec["slug"],
        defaults={**defaults, "references_public": spec["references_public"]},
    )
    label = f"phase {challenge.slug}/{phase.slug}"
    if created:
        report.add(f"{label}: created ({'public' if phase.references_public else 'hidden'} references)")
    elif phase.references_public != spec["references_public"]:
        phase.references_public = spec["references_public"]
        phase.save(update_fields=["references_public"])
        report.add(f"{label}: references are now {'public' if phase.references_public else 'hidden'}")
    else:
        report.add(f"{label}: kept (dates and limits are left as organizers set them)")
    return phase


def _upsert_references(phase: Phase, language: str, spec: dict[str, Any], report: UpsertReport) -> None:
    narrations = spec["narrations"]
    label = f"references {phase}/{language}"
    existing = ReferenceSet.objects.filter(phase=phase, language=language).first()
    if existing is None:
        created = ReferenceSet.objects.create(
            phase=phase, language=language, narrations=narrations, source=spec.get("source", "")
        )
        report.add(f"{label}: created, {created.clip_count:,} clips, {created.content_hash}")
        return
    new_hash = reference_hash(narrations)
    if existing.content_hash == new_hash:
        report.add(f"{label}: unchanged, {existing.clip_count:,} clips")
        return
    old_hash = existing.content_hash
    existing.narrations, existing.source = narrations, spec.get("source", existing.source)
    existing.save()
    report.add(f"{label}: updated, {existing.clip_count:,} clips, {old_hash} -> {existing.content_hash}")


def _upsert_board(phase: Phase, order: int, spec: dict[str, Any], report: UpsertReport) -> None:
    values = {
        "title": spec["title"],
        "description": spec.get("description", ""),
        "primary_metric": spec["primary"],
        "secondary_metrics": list(spec.get("secondary", [])),
        "order": order,
    }
    board = Board.objects.filter(phase=phase, key=spec["key"]).first()
    label = f"board {phase}/{spec['key']}"
    if board is None:
        board = Board(phase=phase, key=spec["key"], **values)
        board.full_clean()
        board.save()
        report.add(f"{label}: created, ranked by {board.primary_metric}")
        return
    if all(getattr(board, name) == value for name, value in values.items()):
        report.add(f"{label}: unchanged")
        return
    for name, value in values.items():
        setattr(board, name, value)
    board.full_clean()
    board.save()
    report.add(f"{label}: updated")


def movie101v2_spec(
    root: str,
    *,
    slug: str = "movie101v2",
    starts_at: datetime | None = None,
) -> dict[str, Any]:
    """The Movie101v2 challenge: a public val phase and a hidden test phase."""
    from evaluation.movie101v2 import read_split, split_movies

    def references(split: str) -> dict[str, Any]:
        return {
            language: {"narrations": read_split(root, split, language), "source": f"{root} ({split}, {language})"}
            for language in ("zh", "en")
        }

    starts_at = starts_at or timezone.now()
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
                "references_public": True,
                "starts_at": starts_at,
                "max_submissions_per_day": 20,
                "max_submissions_total": 500,
                "references": references("val"),
                "boards": MOVIE101V2_BOARDS,
            },
            {
                "slug": "test",
                "title": "Test",
                "description": f"The {len(split_movies(root, 'test'))} test movies. "
                "References are hidden; only split-level scores are shown.",
                "references_public": False,
                "starts_at": starts_at,
                "max_submissions_per_day": 5,
                "max_submissions_total": 100,
                "references": references("test"),
                "boards": MOVIE101V2_BOARDS,
            },
        ],
    }
