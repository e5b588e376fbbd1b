"""System checks for misconfiguration that `check --deploy` should catch."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_celery_serializer(app_configs, **kwargs):
    if list(settings.CELERY_ACCEPT_CONTENT) != ["json"]:
        return [Error("CELERY_ACCEPT_CONTENT must be ['json'] (FILE-5).", id="concord.E001")]
    return []


@register(Tags.security, deploy=True)
def check_production_database(app_configs, **kwargs):
    engine = settings.DATABASES["default"]["ENGINE"]
    if not settings.DEBUG and engine.endswith("sqlite3"):
        return [
            Warning(
                "Production is running on SQLite.",
                hint="Set DATABASE_URL to a PostgreSQL database (see docker-compose.yml).",
                id="concord.W001",
            )
        ]
    return []
