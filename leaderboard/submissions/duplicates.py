"""Near-duplicate refusal: an upload that barely differs from one of the team's earlier ones is refused.

Two files that differ in one clip give two totals whose difference is that clip's score over the clip
count: on a phase with hidden references, pairs of nearly equal files rebuild hidden per-clip scores
(docs/reliability.md, "Hidden scores"). So an upload whose narrations differ from one of the team's
earlier charged submissions of the same phase and language in fewer than :func:`min_changed_clips`
clips is refused, in ``intake._accept`` under the team's row lock, before anything is stored or charged.

The cost is bounded: the new file is compared with the team's ``COMPARED_SUBMISSIONS`` latest earlier
submissions only (each one parsed form read, one ``json.loads``), a comparison is a walk over the clip ids
(raw strings first; only narrations that differ as written are normalized) and it stops as soon as
enough clips differ.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping

from django.utils.translation import ngettext

from evaluation.text import normalize
from leaderboard.challenges.models import Phase
from leaderboard.teams.models import Team

from .files import ScoringFailed, read_parsed
from .models import Submission
from .rules import Refusal

logger = logging.getLogger(__name__)

#: The default threshold on a phase with hidden references and a full split (``Phase.min_changed_clips`` empty).
DEFAULT_MIN_CHANGED_CLIPS = 50
#: The default's floor on a small split: one changed clip is exactly the attack's step.
DEFAULT_MIN_CHANGED_CLIPS_FLOOR = 2
#: The default is a tenth of the split's clips (between the floor and ``DEFAULT_MIN_CHANGED_CLIPS``).
DEFAULT_MIN_CHANGED_FRACTION = 10
#: How many of the team's earlier submissions (the latest) an upload is compared with.
COMPARED_SUBMISSIONS = 20


def min_changed_clips(phase: Phase, clip_count: int) -> int:
    """How many clips an upload must change from each earlier one of the team (0: no check).

    ``Phase.min_changed_clips`` when the organizers set it; otherwise off with public references, and
    with hidden ones a tenth of the split's ``clip_count`` clips, at least 2 and at most 50 (50 on the
    2,227 clips of Movie101v2's test split), never more than the split has.
    """
    if phase.min_changed_clips is not None:
        return phase.min_changed_clips
    if phase.references_public:
        return 0
    default = max(DEFAULT_MIN_CHANGED_CLIPS_FLOOR, clip_count // DEFAULT_MIN_CHANGED_FRACTION)
    return min(DEFAULT_MIN_CHANGED_CLIPS, default, clip_count)


def comparable(text: str) -> str:
    """A narration as the metrics see it, near enough: normalized, lowercased, without punctuation and spaces.

    Edits the scorer cannot see (spacing, case, punctuation, width) do not count as changes, so they cannot
    make a near-duplicate look changed. Joining words errs the same way: it can only count fewer changes.
    """
    return "".join(char for char in normalize(text).lower() if unicodedata.category(char)[0] not in "PZC")


def changed_clips(new: Mapping[str, str], old: Mapping[str, str], *, enough: int | None = None) -> int:
    """In how many clips ``new`` and ``old`` differ (a clip one lacks counts as an empty narration).

    Stops counting at ``enough``.
    """
    changed = 0
    for clip_id in new.keys() | old.keys():
        before, after = old.get(clip_id, ""), new.get(clip_id, "")
        if before == after or comparable(before) == comparable(after):
            continue
        changed += 1
        if enough is not None and changed >= enough:
            break
    return changed


def near_duplicate_refusal(
    team: Team, phase: Phase, language: str, predictions: Mapping[str, str], clip_count: int
) -> Refusal | None:
    """Why the upload of ``predictions`` is refused as a near-duplicate of one of ``team``'s earlier
    submissions, or None. Call it with the team's row locked, so that racing uploads see each other."""
    threshold = min_changed_clips(phase, clip_count)
    if threshold <= 0:
        return None
    earlier = (
        Submission.objects.charged()
        .filter(team=team, phase=phase, language=language)
        .select_related("phase")
        .order_by("-created_at", "-id")[:COMPARED_SUBMISSIONS]
    )
    for submission in earlier:
        try:
            narrations = read_parsed(submission)
        except ScoringFailed:
            logger.warning("submission %s: its file cannot be read for the near-duplicate check", submission.pk)
            continue
        changed = changed_clips(predictions, narrations, enough=threshold)
        if changed < threshold:
            message = ngettext(
                "This file differs from your team's submission #%(id)s in %(changed)d clip only; "
                "this phase needs at least %(threshold)d changed clips between two submissions of a team "
                "(nearly equal files would reveal the hidden per-clip scores). "
                "The upload was refused: nothing was stored and no limit was used.",
                "This file differs from your team's submission #%(id)s in %(changed)d clips only; "
                "this phase needs at least %(threshold)d changed clips between two submissions of a team "
                "(nearly equal files would reveal the hidden per-clip scores). "
                "The upload was refused: nothing was stored and no limit was used.",
                changed,
            ) % {"id": submission.pk, "changed": changed, "threshold": threshold}
            return Refusal("near_duplicate", message, 403)
    return None
