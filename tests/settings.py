"""Test settings: the service's own settings, with test data kept apart.

Only locations change, so tests exercise the configuration that runs in
production. Worker and web processes that tests start inherit this environment.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
os.environ.setdefault("LOG_LEVEL", "WARNING")

# A development worker on the same Redis must not take the tests' tasks:
# tests use database 15 (or TEST_REDIS_DB, for a second run beside them) of
# whatever Redis server REDIS_URL names.
if os.environ.get("REDIS_URL"):
    parts = urlsplit(os.environ["REDIS_URL"])
    os.environ["REDIS_URL"] = urlunsplit(parts._replace(path="/" + os.environ.get("TEST_REDIS_DB", "15")))
    os.environ.pop("CELERY_BROKER_URL", None)

# A developer's own judge must not answer the tests: the tests' judge is a
# loopback server, passed to the processes they start with TEST_JUDGE_ENV=1.
if not os.environ.get("TEST_JUDGE_ENV"):
    for name in [name for name in os.environ if name.startswith("JUDGE_")]:
        del os.environ[name]

# Nor may tests write to a developer's bucket: the S3 tests start their own
# loopback S3 (tests/support/s3_server.py) and pass it on with TEST_STORAGE_ENV=1.
if not os.environ.get("TEST_STORAGE_ENV"):
    os.environ.pop("AWS_STORAGE_BUCKET_NAME", None)

from leaderboard.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

# Throttle counters outlive a test's rolled-back database (and a shared Redis outlives the run): the
# suite turns the throttles off; their tests turn them on with a cache of their own (test_web_hardening.py).
THROTTLE_RATES = {scope: "" for scope in THROTTLE_RATES}  # noqa: F405
