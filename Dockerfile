# One image for every process of the Procfile, chosen by the command:
#   docker run IMAGE web | worker | judge | beat | release      (default: web)
#   docker run IMAGE python manage.py createsuperuser           (anything else runs as given)
# Build it with scripts/build-image, which passes the machine's CA bundle as a build secret and,
# on machines without an image registry, a base built from Debian packages (scripts/build-base-image).
# Plain `docker build .` works too (BuildKit, the default since Docker 23) where
# python:3.11-slim-bookworm can be pulled.
# docs/deploy.md has the whole deployment.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# -- build: the virtualenv, with nothing of the build left in the final image ------------------
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# A CA bundle given as the build secret `ca_bundle` (for a TLS-inspecting egress) is used for PyPI
# during this step only; it is not stored in any layer. SPICE (30 MB of jars) is not one of the
# benchmark's metrics and nothing imports it.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    /opt/venv/bin/pip install -r /tmp/requirements.txt \
 && /opt/venv/bin/pip check \
 && rm -rf /opt/venv/lib/python3*/site-packages/pycocoevalcap/spice

# -- runtime ------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# Java runs METEOR and the PTB tokenizer. Slim Debian images drop /usr/share/man, which the JRE's
# post-install step needs to exist.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends default-jre-headless \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DEBUG=0 \
    LOG_FORMAT=json \
    BIND_HOST=0.0.0.0 \
    PORT=8000 \
    VAR_DIR=/var/lib/movie101v2 \
    STATIC_ROOT=/app/staticfiles

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . .
# Static files are collected and the translations compiled once, at build time; the app's files stay
# root's and read-only to the service user, which can write only to VAR_DIR (local uploads, beat's
# schedule, the folder broker).
RUN python -m compileall -q /app >/dev/null \
 && SECRET_KEY=build-only python manage.py collectstatic --noinput -v0 \
 && SECRET_KEY=build-only python manage.py compile_translations \
 && useradd --system --uid 10001 --home-dir /var/lib/movie101v2 --shell /usr/sbin/nologin leaderboard \
 && mkdir -p "$VAR_DIR" && chown leaderboard:leaderboard "$VAR_DIR"
USER leaderboard
EXPOSE 8000
ENTRYPOINT ["/app/scripts/run-process"]
CMD ["web"]
