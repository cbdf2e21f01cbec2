"""Every setting of the service, read from the environment in this one place.

The defaults run on a laptop with nothing else installed: SQLite, files on
local disk, and a Celery broker in a folder instead of Redis. Production sets
``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY``, ``DEBUG=0`` and
``ALLOWED_HOSTS``. docs/configuration.md lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from evaluation.judge.config import JudgeConfigError
from evaluation.judge.config import values_from_env as judge_values_from_env
from leaderboard.logging import LOG_FORMATS, formatter_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# -- core ---------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "development-only-key-never-use-in-production"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaderboard.accounts",
    "leaderboard.challenges",
    "leaderboard.teams",
    "leaderboard.submissions",
    "leaderboard.judging",
    "leaderboard.boards",
    "leaderboard.audit",
    "leaderboard.notifications",
    "leaderboard.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's choice (the language cookie), else Accept-Language; a signed-in account's own
    # choice overrides both once the account is known (accounts.middleware).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "leaderboard.accounts.middleware.AccountLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "leaderboard.web.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "leaderboard.urls"
WSGI_APPLICATION = "leaderboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# -- database -----------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # A file, not memory, so that a worker process the tests start sees the data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- files ----------------------------------------------------------------------

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served: uploads are private
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]


def default_storage_from(environ) -> dict:
    """Where uploads, reference archives and exports go: S3 when a bucket is named, else ``MEDIA_ROOT``.

    A function of the environment so that the tests configure themselves and
    the workers they start from the same variables. Credentials are not read
    here: boto3 takes them from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    AWS_SESSION_TOKEN, or from an instance or task role.
    """
    bucket = environ.get("AWS_STORAGE_BUCKET_NAME", "")
    if not bucket:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": environ.get("AWS_S3_ENDPOINT_URL") or None,  # MinIO and other S3-compatible stores
            "region_name": environ.get("AWS_S3_REGION_NAME") or None,
            "location": environ.get("AWS_LOCATION", "").strip("/"),
            "addressing_style": environ.get("AWS_S3_ADDRESSING_STYLE") or None,  # "path" for most MinIO set-ups
            # Predictions and hidden references: objects stay private (the
            # bucket's own settings decide, and the operator keeps it private),
            # any URL made for one is signed and expires, and a name in use is
            # never overwritten.
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }


STORAGES = {
    "default": default_storage_from(os.environ),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder

# Uploads: every file goes through the size-capped handler, which stops
# storing bytes at the cap instead of buffering an arbitrarily large body.
SUBMISSION_MAX_BYTES = env_int("SUBMISSION_MAX_BYTES", 20 * 1024 * 1024)
NARRATION_MAX_CHARS = env_int("NARRATION_MAX_CHARS", 2000)
FILE_UPLOAD_HANDLERS = ["leaderboard.uploads.SizeCappedUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# -- auth -----------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:challenge-list"
LOGOUT_REDIRECT_URL = "web:challenge-list"

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Every response's Content-Security-Policy (leaderboard/web/middleware.py): the pages load scripts and
# styles from files of this site only, with no inline code; the API docs set their own (leaderboard/urls.py).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# API tokens stop working this many days after they were made (the API token page makes a new one).
# Empty or 0: they never expire.
API_TOKEN_MAX_AGE_DAYS = env_int("API_TOKEN_MAX_AGE_DAYS", 0) or None
if API_TOKEN_MAX_AGE_DAYS is not None and API_TOKEN_MAX_AGE_DAYS < 0:
    raise ImproperlyConfigured(f"API_TOKEN_MAX_AGE_DAYS={API_TOKEN_MAX_AGE_DAYS}: a number of days, or empty")

# Throttles (leaderboard/throttling.py): requests per client and period, "N/second|minute|hour|day";
# empty turns one off. Sign-in and sign-up count per client address, uploads per user (the site's form
# and the API together, accepted or rejected). Over the rate: 429 with Retry-After.
THROTTLE_RATES = {
    "login": env_str("THROTTLE_LOGIN", "10/minute"),
    "signup": env_str("THROTTLE_SIGNUP", "10/hour"),
    "upload": env_str("THROTTLE_UPLOAD", "30/hour"),
}

# -- language and time ----------------------------------------------------------

# Every page, form, error, email and script string is in English and Simplified Chinese. The catalog's
# source is locale/zh_Hans/LC_MESSAGES/*.po; `manage.py compile_translations` builds the .mo files
# (run-dev, the image's build, the tests), which are never committed. docs/translating.md.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# -- API ------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "leaderboard.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # JSON with detail and code for every error, Django's request parsing limits included.
    "EXCEPTION_HANDLER": "leaderboard.api.errors.exception_handler",
    # Proxies whose X-Forwarded-For the throttles believe for the client's address (leaderboard/throttling.py).
    # 0: the connection's address, so a client cannot pick a new address per request with the header.
    "NUM_PROXIES": env_int("NUM_PROXIES", 1 if env_bool("BEHIND_TLS_PROXY", False) else 0),
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Movie101v2 leaderboard API",
    "DESCRIPTION": "Submit narrations, follow their scoring and read the stage leaderboards.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# -- Celery ---------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
# The throttles' counters are shared by every web process through Redis when there is one. The
# default cache (the status page's ten-second snapshot) stays in each process's memory, so a Redis
# outage cannot take that page down; the throttles let requests through when Redis does not answer.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttles": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "lb"}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttles"},
    # The boards generation (boards/public_cache.py): every web and worker process must see a write's
    # bump, so without Redis it lives in a folder all the machine's processes share.
    "boards": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "lb"}
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "boards"),
    },
}
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
# The hard limit kills a scoring run that ignores the soft one. The broker's
# visibility timeout must exceed it, or Redis hands a long run to a second
# worker while the first is still scoring.
SCORING_SOFT_TIME_LIMIT = env_int("SCORING_SOFT_TIME_LIMIT", 20 * 60)
SCORING_HARD_TIME_LIMIT = env_int("SCORING_HARD_TIME_LIMIT", SCORING_SOFT_TIME_LIMIT + 120)
SCORING_MAX_ATTEMPTS = env_int("SCORING_MAX_ATTEMPTS", 3)
# A scoring or judge attempt holds its row with a lease this long, renewed every third of it
# while the attempt's process lives (statemachine.LeaseHeartbeat): the run of a killed worker
# is free to be taken over this long after its last renewal (docs/reliability.md).
LEASE_SECONDS = env_int("LEASE_SECONDS", 30)
if LEASE_SECONDS < 3:
    raise ImproperlyConfigured(f"LEASE_SECONDS={LEASE_SECONDS}: at least 3 (it is renewed every third of it)")

# The LLM judge of L1 and L2 (docs/judge.md). JUDGE_BASE_URL, JUDGE_MODEL,
# JUDGE_API_KEY and the other JUDGE_* variables are read by the evaluation
# package's own parser, so the command line and the service agree; a phase can
# override the endpoint, model, key, temperature and templates.
try:
    JUDGE_DEFAULTS = judge_values_from_env()
except JudgeConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# A judge run stops at the soft limit and resumes later from its cache.
JUDGE_SOFT_TIME_LIMIT = env_int("JUDGE_SOFT_TIME_LIMIT", 2 * 60 * 60)
JUDGE_HARD_TIME_LIMIT = env_int("JUDGE_HARD_TIME_LIMIT", JUDGE_SOFT_TIME_LIMIT + 300)
JUDGE_MAX_ATTEMPTS = env_int("JUDGE_MAX_ATTEMPTS", 3)
# An incomplete run asks its failed clips again this often, this long apart.
JUDGE_AUTO_RESUMES = env_int("JUDGE_AUTO_RESUMES", 3)
JUDGE_RESUME_DELAY = env_int("JUDGE_RESUME_DELAY", 10 * 60)
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
else:
    # Not the recovery path (the lease and the sweep are): a killed worker's unacknowledged message comes back
    # only after this, and then finds its run done. Above the hard limits, so a live run is never handed over.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": max(SCORING_HARD_TIME_LIMIT, JUDGE_HARD_TIME_LIMIT) + 600}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool process whose peak RSS (KiB: its own, not its METEOR Java process's) passed this after a task
# is replaced by a fresh one, which loses its warm caches (workers/warmth.py). A classic pool process
# warmed on the test split in both languages peaks at about 300 MiB, 370 MiB once it has scored an
# upload (bench/upload_to_finished.py); judging the split peaks at 150 MiB (docs/benchmarks.md): well
# above that, only a leak or an outsized file trips it. 0 turns it off.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("WORKER_MAX_MEMORY_PER_CHILD", 640 * 1024)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "classic"
# Classic scores take seconds; the judge takes minutes to hours on its own workers.
CELERY_TASK_ROUTES = {
    "workers.tasks.score_submission": {"queue": "classic"},
    # Its own queue: a phase re-score queues one message per submission, and a
    # worker consuming both queues takes from each in turn, so new uploads are
    # not stuck behind a long re-score.
    "workers.tasks.rescore_submission": {"queue": "rescore"},
    "workers.tasks.judge_result": {"queue": "judge"},
    "workers.tasks.notify_submission": {"queue": "classic"},
    "workers.tasks.send_digests": {"queue": "classic"},
    "workers.tasks.requeue_waiting": {"queue": "classic"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A run in progress when the broker connection drops goes on and stores its result; its message,
# redelivered later, finds it done. Cancelled instead (Celery 6's default), the work done so far
# would be lost, and done again once the run's lease lapsed.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Logging is Django's LOGGING: workers/celery.py answers Celery's setup_logging signal.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery beat (Procfile ``beat``) sends organizers their digest of new submissions.
EMAIL_DIGEST_INTERVAL = env_int("EMAIL_DIGEST_INTERVAL", 24 * 60 * 60)
# Beat also sweeps for submissions and judge runs whose message was lost (a broker outage):
# whatever waited SWEEP_WAITING_AFTER seconds while its queue is empty is queued again, and
# a running one whose lease lapsed (its worker died) at once (submissions/requeue.py).
SWEEP_INTERVAL = env_int("SWEEP_INTERVAL", 30)
SWEEP_WAITING_AFTER = env_int("SWEEP_WAITING_AFTER", 120)
CELERY_BEAT_SCHEDULE = {
    "send-digests": {"task": "workers.tasks.send_digests", "schedule": EMAIL_DIGEST_INTERVAL},
    # A sweep that waited out its interval in a busy queue is dropped: the next one is on its way.
    "requeue-waiting": {
        "task": "workers.tasks.requeue_waiting",
        "schedule": SWEEP_INTERVAL,
        "options": {"expires": SWEEP_INTERVAL},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = env_str("CELERY_BEAT_SCHEDULE_FILENAME", str(VAR_DIR / "celerybeat-schedule"))

# -- email ----------------------------------------------------------------------

# Result emails to participants and digests to organizers, sent by the workers.
# The console backend prints them; production sets the SMTP backend and server.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
if env_str("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH")  # for the file-based backend
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Movie101v2 leaderboard <noreply@localhost>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# -- logging --------------------------------------------------------------------

# ``json`` in production: one object a line, with the task and submission id of worker lines
# (leaderboard/logging.py); ``plain`` reads better in a terminal.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not one of {', '.join(LOG_FORMATS)}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"default": formatter_config(LOG_FORMAT)},
    "filters": {"task_context": {"()": "leaderboard.logging.TaskContextFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["task_context"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per judge request at INFO: thousands per submission.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
    },
}
