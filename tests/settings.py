"""Test settings: the service's own settings, with every file under var/test.

Only the location changes, so tests exercise the configuration that runs in
production. A worker process a test starts gets the same environment.
"""

import os
from pathlib import Path

os.environ.setdefault("VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from leaderboard.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
