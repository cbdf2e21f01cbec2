"""Files on S3: uploads, archived references and exports land as private objects in the operator's bucket.

The bucket is on moto's standalone S3 server, reached over loopback HTTP with
boto3 as AWS would be (tests/support/s3_server.py says what moto checks); the storage
is configured from the AWS_* variables by the same function production uses.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError
from django.core.management import call_command

from evaluation.references import reference_hash
from leaderboard.challenges.bundle_export import dump_references
from leaderboard.challenges.models import ReferenceSet
from leaderboard.challenges.services import load_bundle
from leaderboard.settings import default_storage_from
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Status, Submission
from tests.support.data import ROOT
from tests.support.processes import WorkerProcess, purge_queues, wait_for_status
from tests.support.s3_server import public_grants
from tests.support.service import api_client_for, demo_file, load_test_challenge, upload


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def test_an_upload_is_a_private_object_in_the_bucket(s3, alice, demo_val, settings):
    data = demo_file("val-en.json")
    response = upload(api_client_for(alice), demo_val, "en", data)
    assert response.status_code == 201, response.content

    submission = Submission.objects.get(pk=response.json()["id"])
    key = s3.key(submission.predictions_file.name)
    parsed_key = s3.key(submission.parsed_file.name)
    assert key.startswith("leaderboard/submissions/demo/val/")
    assert s3.keys() == sorted([key, parsed_key])
    assert s3.read(key) == data
    assert json.loads(s3.read(parsed_key)) == json.loads(data)
    assert files_under(Path(settings.MEDIA_ROOT)) == []

    client = s3.server.client()
    for private in (key, parsed_key):
        assert public_grants(client.get_object_acl(Bucket=s3.bucket, Key=private)) == []
    anonymous = requests.get(f"{s3.server.endpoint}/{s3.bucket}/{key}", timeout=10)
    assert anonymous.status_code == 403 and data not in anonymous.content
    # Nor at the bucket level: no public grant, no policy, which is what makes S3 refuse anonymous
    # listings (moto itself lets anyone list a bucket: tests/support/s3_server.py).
    assert public_grants(client.get_bucket_acl(Bucket=s3.bucket)) == []
    with pytest.raises(ClientError) as no_policy:
        client.get_bucket_policy(Bucket=s3.bucket)
    assert no_policy.value.response["Error"]["Code"] == "NoSuchBucketPolicy"

    # A link the service makes is signed, and only the signed link reads the object.
    url = submission.predictions_file.url
    assert "Signature=" in url
    assert requests.get(url, timeout=10).content == data


def test_a_worker_scores_a_file_in_the_bucket_as_one_on_disk(transactional_db, s3, alice, demo_val, settings, tmp_path):
    data = demo_file("val-zh.json")
    worker = WorkerProcess(tmp_path / "worker.log", **s3.env)
    worker.start()
    try:
        response = upload(api_client_for(alice), demo_val, "zh", data)
        assert response.status_code == 201, response.content
        from_s3 = wait_for_status(response.json()["id"], timeout=120)
    finally:
        worker.stop()
    assert from_s3.status == Status.FINISHED, (from_s3.error, worker.output()[-3000:])
    assert s3.key(from_s3.predictions_file.name) in s3.keys("leaderboard/submissions/")

    # The same file, stored on disk and scored in this process.
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_from({})}
    on_disk = intake.submit(user=alice, phase=demo_val, language="zh", data=data, filename="val-zh.json")
    purge_queues()  # no worker takes it: it is scored here
    assert scoring.score_submission(on_disk.pk).outcome == scoring.Outcome.FINISHED
    on_disk.refresh_from_db()
    assert files_under(Path(settings.MEDIA_ROOT)) == sorted(
        Path(settings.MEDIA_ROOT) / name for name in (on_disk.predictions_file.name, on_disk.parsed_file.name)
    )

    assert from_s3.current_result.metrics == on_disk.current_result.metrics
    assert from_s3.current_result.reference_hash == on_disk.current_result.reference_hash


REFERENCES = {"clip_1_0_4": "A man opens the door.", "clip_2_4_9": "她走进房间，关上了灯。"}


def archived(s3) -> dict[str, bytes]:
    return {key: s3.read(key) for key in s3.keys("leaderboard/references/")}


def test_reference_sets_are_archived_under_their_hash_once_committed(transactional_db, s3, settings):
    load_test_challenge({"en": REFERENCES}, slug="archive", public=True)
    first = ReferenceSet.objects.get(phase__challenge__slug="archive", language="en")
    first_key = s3.key(f"references/archive/val/en/{first.content_hash}.json")
    assert archived(s3) == {first_key: dump_references(REFERENCES).encode("utf-8")}
    assert reference_hash(json.loads(s3.read(first_key))) == first.content_hash

    # A fix to the references: a second copy under the new hash; the first stays for the results scored on it.
    fixed = {**REFERENCES, "clip_2_4_9": "她走进房间。"}
    load_test_challenge({"en": fixed}, slug="archive", public=True)
    second = ReferenceSet.objects.get(pk=first.pk)
    assert second.content_hash != first.content_hash
    second_key = s3.key(f"references/archive/val/en/{second.content_hash}.json")
    assert archived(s3) == {
        first_key: dump_references(REFERENCES).encode("utf-8"),
        second_key: dump_references(fixed).encode("utf-8"),
    }

    # Loading the same references again writes nothing new.
    load_test_challenge({"en": fixed}, slug="archive", public=True)
    assert sorted(archived(s3)) == sorted([first_key, second_key])
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_a_load_that_rolls_back_archives_nothing(transactional_db, s3):
    from leaderboard.challenges.bundles import BundleError, validate_bundle

    def bundle(narrations, *, keep_missing_test_set=False):
        phases = [
            {
                "slug": "val",
                "title": "Validation",
                "starts_at": "2025-01-01T00:00:00Z",
                "references_public": True,
                "references": {"en": {"narrations": narrations}},
            }
        ]
        if keep_missing_test_set:
            # "Keep the stored references" of a phase that has none: the whole load fails.
            phases.append(
                {
                    "slug": "test",
                    "title": "Test",
                    "starts_at": "2025-01-01T00:00:00Z",
                    "references": {"en": {"hash": reference_hash(narrations), "source": "elsewhere"}},
                }
            )
        return validate_bundle({"slug": "rollback", "title": "Rollback", "phases": phases}, base_dir=ROOT)

    load_bundle(bundle(REFERENCES), dry_run=True)
    assert not ReferenceSet.objects.exists()
    with pytest.raises(BundleError, match="no stored references to keep"):
        load_bundle(bundle(REFERENCES, keep_missing_test_set=True))
    assert not ReferenceSet.objects.exists()
    assert s3.keys() == []

    load_bundle(bundle(REFERENCES))
    assert len(s3.keys("leaderboard/references/rollback/val/en/")) == 1


def test_export_to_storage_writes_the_bundle_files(s3, demo_challenge, settings, tmp_path):
    out = io.StringIO()
    call_command("export_challenge", "demo", "--to-storage", "--with-references", stdout=out)
    names = out.getvalue().split()
    folder = "/".join(names[0].split("/")[:3])  # exports/demo/<UTC time>
    assert folder.startswith("exports/demo/") and folder.endswith("Z")
    assert all(name.startswith(folder + "/") for name in names)
    assert sorted(s3.keys("leaderboard/exports/")) == sorted(s3.key(name) for name in names)

    # The same files, byte for byte, as an export to a folder.
    call_command("export_challenge", "demo", "-o", str(tmp_path / "local"), "--with-references", stderr=io.StringIO())
    local = {str(path.relative_to(tmp_path / "local")): path.read_bytes() for path in files_under(tmp_path / "local")}
    stored = {name.removeprefix(folder + "/"): s3.read(s3.key(name)) for name in names}
    assert stored == local
    assert sorted(stored) == [
        "challenge.yaml",
        "references/test-en.json",
        "references/test-zh.json",
        "references/val-en.json",
        "references/val-zh.json",
    ]
    assert files_under(Path(settings.MEDIA_ROOT)) == []
