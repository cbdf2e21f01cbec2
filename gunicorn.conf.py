"""gunicorn's settings for the Procfile's ``web`` process, from the environment (docs/configuration.md).

gunicorn reads ./gunicorn.conf.py from the directory it starts in, so ``gunicorn leaderboard.wsgi``
run from the project root uses this file; anything given on the command line wins over it.
"""

import os

from leaderboard.logging import formatter_config

# gunicorn's own default binds every interface once PORT is set; a proxy in front sets BIND_HOST=0.0.0.0.
bind = f"{os.environ.get('BIND_HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '8000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# Threads: a worker answering from memory mostly waits on its socket (a board is 150 kB); with threads
# the other requests of the process go on meanwhile, and kept-alive connections skip a TCP handshake
# per request. Measured against sync workers in docs/performance.md (Boards).
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 4)
# An upload of a full split is validated inside the request: 20 MB of narrations take seconds, not 30.
timeout = int(os.environ.get("WEB_TIMEOUT") or 120)
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT") or 30)
# Recycle each worker after this many requests (spread by the jitter so they do not all restart at
# once), bounding what a slow leak can grow to. 0 turns it off. At hundreds of requests a second a
# lower bound restarts a worker every few seconds: a boot's CPU, and its kept boards lost.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS") or 20000)
max_requests_jitter = int(os.environ.get("WEB_MAX_REQUESTS_JITTER") or 2000)
# Addresses whose X-Forwarded-* headers are believed (the proxy's); gunicorn's default is loopback only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"
accesslog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
# Runtime control through gunicornc is not used; no socket left in $XDG_RUNTIME_DIR or ~/.gunicorn.
control_socket_disable = True

if (os.environ.get("LOG_FORMAT") or "plain") == "json":
    # The same one-object-a-line format as Django's and Celery's lines: access lines to stdout,
    # gunicorn's own to stderr, as gunicorn does without this.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter_config("json")},
        "handlers": {
            "access": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
        "root": {"level": loglevel.upper(), "handlers": ["error"]},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }
