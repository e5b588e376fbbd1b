# Concord's production image. One image, two roles: gunicorn serves the web app (the default
# command) and the same image runs the Celery worker (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric id, so Kubernetes' runAsNonRoot can verify it and volume ownership is stable.
RUN groupadd --system --gid 10001 concord \
 && useradd --system --uid 10001 --gid concord --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin concord

WORKDIR /app
COPY . .
RUN pip install .

# Run the source tree in /app rather than the installed copy: settings find templates/ and
# static/ next to config/, which only holds here.
ENV PYTHONPATH=/app \
    DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    WEB_CONCURRENCY=2 \
    GUNICORN_CMD_ARGS="--timeout 120 --graceful-timeout 30 --worker-tmp-dir /dev/shm --access-logfile -"

# Settings refuse to load without a strong SECRET_KEY. collectstatic gets a random one that lives
# only for this step: it is in no layer, no ENV and no running container.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput

# Uploads live in /data/media; a named volume mounted there takes this ownership.
RUN mkdir -p /data/media && chown -R concord:concord /data

USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "python:config.gunicorn", "--bind", "0.0.0.0:8000"]
