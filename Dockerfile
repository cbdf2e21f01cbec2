# One image for every process of the Procfile: web (default), worker, release.
#   docker build -t movie101v2-leaderboard .
#   docker run -e DATABASE_URL=... -e REDIS_URL=... -e SECRET_KEY=... -e ALLOWED_HOSTS=... -p 8000:8000 movie101v2-leaderboard
#   docker run ... movie101v2-leaderboard celery -A workers worker --queues classic,rescore
FROM python:3.11-slim-bookworm

# Java runs METEOR and the PTB tokenizer.
RUN apt-get update \
 && apt-get install -y --no-install-recommends default-jre-headless \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DEBUG=0 \
    BIND_HOST=0.0.0.0 \
    PORT=8000 \
    VAR_DIR=/var/lib/movie101v2 \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v0 \
 && useradd --system --home /app leaderboard \
 && mkdir -p "$VAR_DIR" && chown leaderboard "$VAR_DIR"
USER leaderboard

EXPOSE 8000
CMD ["sh", "-c", "gunicorn leaderboard.wsgi --bind ${BIND_HOST}:${PORT} --workers ${WEB_CONCURRENCY:-2} --timeout 120 --no-control-socket --access-logfile -"]
