"""A predictions file is parsed and validated once, on upload; scoring and the judge read its parsed form.

The parsed form (``Submission.parsed_file``) is stored beside the untouched upload. Only the clip ids
are checked again when it is read, against the phase's references as they are then. An upload stored
before the parsed form existed is parsed at its first read, and the form kept.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import DatabaseError

import evaluation
import evaluation.predictions
from leaderboard.challenges.models import ReferenceSet
from leaderboard.submissions import files, intake, scoring
from leaderboard.submissions.files import FILE_MISSING, ScoringFailed, read_predictions
from leaderboard.submissions.models import Result, Status, Submission
from tests.support.service import demo_file

#: A clip the demo references do not have.
NEW_CLIP = "9100000000000000001_900_901"


@pytest.fixture
def media(settings, tmp_path):
    """An empty MEDIA_ROOT, so a test sees every file the service writes."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The file name of every parse of a predictions file, the validator's and any other."""
    calls = []
    real = evaluation.predictions.parse_narration_file

    def counting(data, **kwargs):
        calls.append(kwargs.get("filename"))
        return real(data, **kwargs)

    monkeypatch.setattr(evaluation.predictions, "parse_narration_file", counting)
    monkeypatch.setattr(files, "parse_narration_file", counting)
    return calls


def stored_files(media) -> list[str]:
    return sorted(str(path.relative_to(media)) for path in media.rglob("*") if path.is_file())


def submit(user, phase, data: bytes | None = None, filename: str = "val-zh.json") -> Submission:
    data = demo_file("val-zh.json") if data is None else data
    return intake.submit(user=user, phase=phase, language="zh", data=data, filename=filename)


def references(phase) -> ReferenceSet:
    return ReferenceSet.objects.get(phase=phase, language="zh")


def as_stored_before_the_parsed_form(submission: Submission) -> Submission:
    """An upload as this service stored it before it kept the parsed form: the file alone."""
    submission.parsed_file.delete(save=False)
    Submission.objects.filter(pk=submission.pk).update(parsed_file="")
    submission.refresh_from_db()
    return submission


def assert_scored_as_the_reference_scorer(submission: Submission, predictions: dict[str, str], **options) -> None:
    expected = evaluation.score(references(submission.phase).narrations, predictions, "zh", **options)
    for result in Result.objects.filter(submission=submission).only("metrics", "per_clip", "missing_clips"):
        assert result.metrics == expected.metrics
        assert result.per_clip == expected.per_clip
        assert result.missing_clips == expected.missing_clips


def test_the_upload_is_parsed_once_and_scoring_reads_its_parsed_form(alice, demo_val, media, parses):
    data = demo_file("val-zh.json")
    submission = submit(alice, demo_val)
    assert parses == ["val-zh.json"]

    # Beside the upload, which stays as it came: compact UTF-8 JSON, what the validator read.
    assert submission.parsed_file.name == submission.predictions_file.name.removesuffix(".json") + ".parsed.json"
    assert stored_files(media) == sorted([submission.predictions_file.name, submission.parsed_file.name])
    with submission.predictions_file.open("rb") as handle:
        assert handle.read() == data
    with submission.parsed_file.open("rb") as handle:
        assert handle.read() == json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":")).encode()

    # Scoring would fail if it read the upload again.
    (media / submission.predictions_file.name).write_bytes(b"not the file that was validated")
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    assert scoring.rescore(submission.pk) is not None
    submission.refresh_from_db()
    assert read_predictions(submission, references(demo_val).narrations) == json.loads(data)  # the judge's way in
    assert parses == ["val-zh.json"]
    assert Result.objects.filter(submission=submission).count() == 2
    assert_scored_as_the_reference_scorer(submission, json.loads(data))


def test_a_json_lines_upload_is_kept_as_the_same_parsed_form(alice, demo_val):
    predictions = json.loads(demo_file("val-zh.json"))
    lines = "".join(
        json.dumps({"clip_id": clip_id, "narration": text}, ensure_ascii=False) + "\n"
        for clip_id, text in predictions.items()
    )
    submission = submit(alice, demo_val, lines.encode(), "p.jsonl")
    assert submission.file_format == "jsonl"
    with submission.parsed_file.open("rb") as handle:
        assert json.loads(handle.read()) == predictions
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    assert_scored_as_the_reference_scorer(submission, predictions)


def test_any_text_the_validator_accepts_reads_back_unchanged(alice, demo_val, media):
    """Controls, format and bidi characters, astral ones: the parsed form is strict UTF-8, and holds them all."""
    predictions = json.loads(demo_file("val-zh.json"))
    odd = ["\x00\x1b[0m", "a\u200bb\u202ec\ufeff", "🎬\u2028", " \t\u3000", "{reference} %s"]
    predictions.update(zip(list(predictions), odd, strict=False))
    submission = submit(alice, demo_val, json.dumps(predictions).encode())
    assert read_predictions(submission, references(demo_val).narrations) == predictions


def test_a_lone_surrogate_is_refused_before_anything_is_stored(alice, demo_val, media):
    """Half of a UTF-16 pair (a JSON escape) is not text: the judge could never hash it, so the upload is refused."""
    predictions = json.loads(demo_file("val-zh.json"))
    first = next(iter(predictions))
    predictions[first] = "half a pair: \ud800"
    with pytest.raises(intake.SubmissionRejected) as rejected:
        submit(alice, demo_val, json.dumps(predictions).encode())
    assert [problem.code for problem in rejected.value.problems] == ["not_unicode"]
    assert f"{first} (narration, line 1)" in rejected.value.problems[0].message
    assert stored_files(media) == [] and not Submission.objects.exists()


def test_an_upload_stored_before_the_parsed_form_is_parsed_once_and_kept(alice, demo_val, media, parses, settings):
    predictions = json.loads(demo_file("val-zh.json"))
    submission = as_stored_before_the_parsed_form(submit(alice, demo_val))
    assert stored_files(media) == [submission.predictions_file.name]
    parses.clear()
    settings.NARRATION_MAX_CHARS = 5  # caps lowered since the upload do not fail a file that passed them

    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    assert parses == ["val-zh.json"]
    submission.refresh_from_db()
    assert stored_files(media) == sorted([submission.predictions_file.name, submission.parsed_file.name])
    with submission.parsed_file.open("rb") as handle:
        assert json.loads(handle.read()) == predictions

    # From then on it is read like any other.
    assert scoring.rescore(submission.pk) is not None
    assert parses == ["val-zh.json"]
    assert_scored_as_the_reference_scorer(submission, predictions)


def test_two_readers_of_an_old_upload_keep_one_parsed_form(alice, demo_val, media):
    submission = as_stored_before_the_parsed_form(submit(alice, demo_val))
    narrations = references(demo_val).narrations
    # Classic scoring and a re-score (or the judge), each with the submission as it was before either kept the form.
    first, second = (Submission.objects.select_related("phase").get(pk=submission.pk) for _ in range(2))
    assert (
        read_predictions(first, narrations)
        == read_predictions(second, narrations)
        == json.loads(demo_file("val-zh.json"))
    )
    submission.refresh_from_db()
    assert submission.parsed_file.name == first.parsed_file.name
    assert stored_files(media) == sorted([submission.predictions_file.name, submission.parsed_file.name])


def test_an_old_upload_whose_parsed_form_cannot_be_stored_is_still_scored(alice, demo_val, media, monkeypatch):
    submission = as_stored_before_the_parsed_form(submit(alice, demo_val))
    real_save = FileSystemStorage._save

    def full_for_parsed_forms(storage, name, content):
        if name.endswith(".parsed.json"):
            raise OSError("No space left on device")
        return real_save(storage, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", full_for_parsed_forms)
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    submission.refresh_from_db()
    assert not submission.parsed_file
    assert stored_files(media) == [submission.predictions_file.name]
    assert_scored_as_the_reference_scorer(submission, json.loads(demo_file("val-zh.json")))


@pytest.mark.parametrize("stored", ["parsed", "before the parsed form"])
def test_a_lost_file_fails_with_a_reason(alice, demo_val, stored):
    submission = submit(alice, demo_val)
    if stored == "parsed":
        submission.parsed_file.delete(save=False)  # what scoring reads; the upload alone does not help
    else:
        as_stored_before_the_parsed_form(submission).predictions_file.delete(save=False)
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FAILED
    submission.refresh_from_db()
    assert submission.status == Status.FAILED and submission.error == FILE_MISSING


@pytest.mark.parametrize("stored", ["parsed", "before the parsed form"])
def test_references_changed_after_the_upload_fail_with_the_clip_ids(alice, demo_val, stored):
    submission = submit(alice, demo_val)
    if stored != "parsed":
        as_stored_before_the_parsed_form(submission)
    reference_set = references(demo_val)
    reference_set.narrations = {**reference_set.narrations, NEW_CLIP: "新片段"}
    reference_set.save()
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FAILED
    submission.refresh_from_db()
    assert submission.error.startswith(
        "The phase's references changed after your upload, and the file no longer matches them: "
    )
    assert NEW_CLIP in submission.error and "does not count against your team's limits" in submission.error


@pytest.mark.parametrize("stored", ["parsed", "before the parsed form"])
def test_a_partial_phase_scores_a_file_without_the_clips_added_since(alice, demo_val, stored):
    demo_val.allow_partial = True
    demo_val.save()
    predictions = json.loads(demo_file("val-zh.json"))
    submission = submit(alice, demo_val)
    if stored != "parsed":
        as_stored_before_the_parsed_form(submission)
    reference_set = references(demo_val)
    removed = next(iter(predictions))
    original = dict(reference_set.narrations)

    # A clip of the file that the references lost still fails, partial or not; the added one does not.
    reference_set.narrations = {**{k: v for k, v in original.items() if k != removed}, NEW_CLIP: "新片段"}
    reference_set.save()
    with pytest.raises(ScoringFailed) as failed:
        read_predictions(submission, reference_set.narrations)
    assert removed in failed.value.reason and NEW_CLIP not in failed.value.reason

    reference_set.narrations = {**original, NEW_CLIP: "新片段"}
    reference_set.save()
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    assert Result.objects.get(submission=submission).missing_clips == 1
    assert_scored_as_the_reference_scorer(submission, predictions, allow_partial=True)


def test_a_failed_save_leaves_no_file_behind(alice, demo_val, media, monkeypatch):
    def save_fails(submission, *args, **kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(Submission, "save", save_fails)
    with pytest.raises(DatabaseError):
        submit(alice, demo_val)
    assert stored_files(media) == []
    assert not Submission.objects.exists()


def test_a_failed_write_of_the_parsed_form_leaves_no_file_behind(alice, demo_val, media, monkeypatch):
    real_save = FileSystemStorage._save

    def full_for_parsed_forms(storage, name, content):
        if name.endswith(".parsed.json"):
            raise OSError("No space left on device")
        return real_save(storage, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", full_for_parsed_forms)
    with pytest.raises(OSError):
        submit(alice, demo_val)
    assert stored_files(media) == []
    assert not Submission.objects.exists()
