"""The one ranking function every board uses."""

from datetime import datetime, timedelta

import pytest

from leaderboard.boards.ranking import Entry, rank_entries

T0 = datetime(2026, 1, 1)
COLUMNS = ["l1", "cider", "bleu_4"]


def entry(submission_id, team_id, minutes=0, **scores):
    return Entry(
        submission_id=submission_id, team_id=team_id, created_at=T0 + timedelta(minutes=minutes), scores=scores
    )


def ranks(entries, best_per_team=False, columns=COLUMNS):
    return [(r.rank, r.entry.submission_id) for r in rank_entries(entries, columns, best_per_team=best_per_team)]


def test_higher_primary_first():
    assert ranks([entry(1, 1, l1=2.0), entry(2, 2, l1=3.5)]) == [(1, 2), (2, 1)]


def test_ties_broken_by_secondary_columns_in_order():
    entries = [
        entry(1, 1, l1=3, cider=0.2, bleu_4=0.9),
        entry(2, 2, l1=3, cider=0.3, bleu_4=0.1),
        entry(3, 3, l1=3, cider=0.3, bleu_4=0.2),
    ]
    assert ranks(entries) == [(1, 3), (2, 2), (3, 1)]


def test_exactly_equal_scores_share_a_rank_earlier_listed_first():
    entries = [
        entry(1, 1, 5, l1=3, cider=0.3, bleu_4=0.2),
        entry(2, 2, 1, l1=3, cider=0.3, bleu_4=0.2),
        entry(3, 3, 0, l1=2, cider=0.9, bleu_4=0.9),
    ]
    assert ranks(entries) == [(1, 2), (1, 1), (3, 3)]


def test_missing_primary_ranks_after_every_entry_that_has_it():
    entries = [entry(1, 1, cider=5.0, bleu_4=1.0), entry(2, 2, l1=0.0, cider=0.0)]
    assert ranks(entries) == [(1, 2), (2, 1)]


def test_without_any_primary_the_next_columns_decide():
    entries = [entry(1, 1, cider=0.1, bleu_4=0.5), entry(2, 2, cider=0.4, bleu_4=0.1), entry(3, 3, bleu_4=0.9)]
    assert ranks(entries) == [(1, 2), (2, 1), (3, 3)]


def test_missing_secondary_sorts_after_present_secondary():
    entries = [entry(1, 1, l1=3, bleu_4=0.9), entry(2, 2, l1=3, cider=0.0)]
    assert ranks(entries) == [(1, 2), (2, 1)]


def test_nan_counts_as_missing():
    entries = [entry(1, 1, l1=float("nan"), cider=1.0), entry(2, 2, l1=1.0)]
    assert ranks(entries) == [(1, 2), (2, 1)]


def test_best_per_team_keeps_each_teams_best_entry():
    entries = [entry(1, 1, l1=1), entry(2, 1, l1=4), entry(3, 2, l1=3), entry(4, 2, l1=2), entry(5, 3, l1=0.5)]
    assert ranks(entries, best_per_team=True) == [(1, 2), (2, 3), (3, 5)]
    assert ranks(entries, best_per_team=False) == [(1, 2), (2, 3), (3, 4), (4, 1), (5, 5)]


def test_best_per_team_prefers_the_earlier_of_two_equal_entries():
    entries = [entry(1, 1, 9, l1=2), entry(2, 1, 3, l1=2)]
    assert ranks(entries, best_per_team=True) == [(1, 2)]


def test_a_board_needs_a_column():
    with pytest.raises(ValueError):
        rank_entries([], [])
