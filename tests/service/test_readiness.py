"""/readyz: the database, the broker and the file storage, each named when it does not answer."""

from __future__ import annotations

from django.db import connections
from rest_framework.test import APIClient

from leaderboard.settings import default_storage_from

ALL_OK = {"status": "ok", "checks": {"database": {"ok": True}, "broker": {"ok": True}, "storage": {"ok": True}}}


def readyz():
    response = APIClient().get("/readyz")
    return response.status_code, response.json()


def test_ready_when_everything_answers(db):
    assert readyz() == (200, ALL_OK)


def test_ready_on_s3(db, s3):
    assert readyz() == (200, ALL_OK)


def test_a_broker_that_does_not_answer_is_named_without_its_password(db, settings):
    settings.CELERY_BROKER_URL = "redis://:broker-secret-pass@127.0.0.1:1/0"  # nothing listens on port 1
    status, body = readyz()
    assert status == 503 and body["status"] == "error"
    assert body["checks"]["database"] == {"ok": True} and body["checks"]["storage"] == {"ok": True}
    broker = body["checks"]["broker"]
    assert broker["ok"] is False and "ConnectionError" in broker["error"] and "127.0.0.1:1" in broker["error"]
    assert "broker-secret-pass" not in str(body)


def test_a_missing_bucket_is_named_without_the_secret_key(db, s3, settings):
    env = {**s3.env, "AWS_STORAGE_BUCKET_NAME": "no-such-bucket-here"}
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_from(env)}
    status, body = readyz()
    assert status == 503 and body["status"] == "error"
    assert body["checks"]["database"] == {"ok": True} and body["checks"]["broker"] == {"ok": True}
    storage = body["checks"]["storage"]
    assert storage["ok"] is False and "no-such-bucket-here" in storage["error"] and "NoSuchBucket" in storage["error"]
    assert s3.env["AWS_SECRET_ACCESS_KEY"] not in str(body)


def test_a_database_that_does_not_answer_is_named(db, monkeypatch, tmp_path):
    # The checks run on their own threads, which open new connections from these settings.
    database = connections.settings["default"]
    if database["ENGINE"].endswith("sqlite3"):
        monkeypatch.setitem(database, "NAME", str(tmp_path / "missing" / "db.sqlite3"))
    else:
        monkeypatch.setitem(database, "HOST", "127.0.0.1")
        monkeypatch.setitem(database, "PORT", "1")
        monkeypatch.setitem(database, "PASSWORD", "database-secret-pass")
    status, body = readyz()
    assert status == 503 and body["checks"]["broker"] == {"ok": True}
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["error"]
    assert "database-secret-pass" not in str(body)
