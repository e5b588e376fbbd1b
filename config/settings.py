"""Concord settings. Every value comes from the environment; see .env.example."""

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("DATA_DIR", str(BASE_DIR / "data")))

DEBUG = envbool("DEBUG", False)

# Keys that were ever published (examples, docs) never count as secret.
_KNOWN_KEYS = {"", "change-me", "changeme", "secret", "replace-with-a-long-random-string"}


def _secret_key() -> str:
    key = envstr("SECRET_KEY")
    if key and key not in _KNOWN_KEYS:
        if not DEBUG and (len(key) < 50 or key.startswith("django-insecure")):
            raise ImproperlyConfigured(
                "SECRET_KEY is too weak: use at least 50 random characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
            )
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set (or is a published example value). Concord refuses to start "
            "in production without one; set SECRET_KEY, or DEBUG=true for local development."
        )
    # Development only: a random key kept in the data folder so sessions survive restarts.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty: list the host names Concord is served on.")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_htmx",
    "template_partials",
    "curation",
    "annotation",
    "adjudication",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Plain labeling calls answered here, after the middleware that sets response headers.
    "annotation.middleware.ShortPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.LazyMessageMiddleware",  # Django's, building the storage on use
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'concord.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that costs no round trip (config/postgresql).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
if "postgresql" in DATABASES["default"]["ENGINE"] and envbool("DB_PREPARED_STATEMENTS", True):
    # Prepared on first use, for the hot path's statements only (`curation.rows.cursor`):
    # Django's own cursors bind on the client and are never prepared. Set it to false behind a
    # connection pooler in transaction mode that cannot keep prepared statements.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["prepare_threshold"] = 0
    # And planned once: PostgreSQL otherwise plans a prepared statement afresh on every run
    # when its generic plan looks costlier than the plans made for the values at hand, which
    # the progress count of "next" did (a range of times): 1 to 2 ms of planning a call for a
    # statement that runs in 0.1. The hot path's statements look rows up by equality, where the
    # generic plan is the plan. Only prepared statements have plans to keep: Django's own
    # queries are planned each time, whatever this says.
    options["options"] = f"{options.get('options', '')} -c plan_cache_mode=force_generic_plan"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL and IMMEDIATE transactions let the web process and in-process jobs write
        # without "database is locked" errors.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "curation:project_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# In development static files are served from their sources (WHITENOISE_USE_FINDERS).
STATIC_ROOT = envstr("STATIC_ROOT", "" if DEBUG else str(BASE_DIR / "staticfiles")) or None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(DATA_DIR / "media")))
WHITENOISE_USE_FINDERS = DEBUG

# --- security headers and cookies -------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if envbool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- uploads ----------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
IMPORT_MAX_UPLOAD_BYTES = envint("IMPORT_MAX_UPLOAD_BYTES", 2 * 1024 * 1024 * 1024)
# Most bytes one project's files may take under MEDIA_ROOT (uploads being read, exports kept for
# download); 0 means no quota. See curation/storage.py.
PROJECT_STORAGE_QUOTA_BYTES = envint("PROJECT_STORAGE_QUOTA_BYTES", 20 * 1024 * 1024 * 1024)

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "curation.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "curation.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Concord API",
    "DESCRIPTION": "Projects, members, items, annotations, adjudication and quality jobs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs page are for signed-in users only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Interactive docs use the vendored Swagger UI, never a CDN.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": "/static/favicon.svg",
}

# --- jobs (Celery) ----------------------------------------------------------------------------
_BROKER = envstr("CELERY_BROKER_URL")
# The in-memory transport keeps Celery quiet when jobs run in-process; it carries nothing.
CELERY_BROKER_URL = _BROKER or "memory://localhost/"
# No broker configured at all = the embedded default: jobs run in-process. A configured broker
# that is down is an error, never a reason to fall back to running jobs inline.
CELERY_TASK_ALWAYS_EAGER = not _BROKER
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_SOFT_TIME_LIMIT = envint("JOB_SOFT_TIME_LIMIT", 1800)
CELERY_TASK_TIME_LIMIT = envint("JOB_TIME_LIMIT", 1900)
JOB_LEASE_SECONDS = envint("JOB_LEASE_SECONDS", 600)
# Without a broker: "thread" runs each job on a background thread of the web process, so pages
# can show its progress; "inline" runs it before the request returns.
JOBS_IN_PROCESS = envstr("JOBS_IN_PROCESS", "thread")
JOB_MAX_ATTEMPTS = envint("JOB_MAX_ATTEMPTS", 3)
# How often each worker looks for runs whose worker died (the reaper).
JOB_REAP_SECONDS = envint("JOB_REAP_SECONDS", 30)
# How often each worker deletes expired exports, finished imports' uploads and expired sessions.
HOUSEKEEPING_SECONDS = envint("HOUSEKEEPING_SECONDS", 3600)
# Most texts an uploaded reference set (an external evaluation set) may hold.
REFERENCE_MAX_TEXTS = envint("REFERENCE_MAX_TEXTS", 200_000)
# How long a worker's claim on a chunk of a parallel job lasts before another worker may take it.
QUALITY_CHUNK_SECONDS = envint("QUALITY_CHUNK_SECONDS", 300)

# --- cache (job progress, cached statistics) --------------------------------------------------
# Job progress travels through the cache so the web process sees it while a job's transaction is
# still open. With a Redis broker the cache defaults to the same Redis; without one it is local
# to the process, which is where in-process jobs run.
CACHE_URL = envstr("CACHE_URL", _BROKER if _BROKER.startswith("redis") else "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
         "KEY_PREFIX": "concord"}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}  # fmt: skip

# --- import and export ------------------------------------------------------------------------
IMPORT_MAX_ERRORS_KEPT = envint("IMPORT_MAX_ERRORS_KEPT", 1000)
IMPORT_MAX_LINE_BYTES = envint("IMPORT_MAX_LINE_BYTES", 8 * 1024 * 1024)
IMPORT_MAX_ROWS = envint("IMPORT_MAX_ROWS", 20_000_000)
IMPORT_CHUNK_ROWS = envint("IMPORT_CHUNK_ROWS", 5000)
IMPORT_MAX_FIELDS = envint("IMPORT_MAX_FIELDS", 1000)  # per row: JSON keys, CSV or Parquet columns
IMPORT_MAX_PARQUET_BYTES = envint("IMPORT_MAX_PARQUET_BYTES", 16 * 1024 * 1024 * 1024)
IMPORT_MAX_ROW_GROUP_BYTES = envint("IMPORT_MAX_ROW_GROUP_BYTES", 512 * 1024 * 1024)
EXPORT_RETENTION_HOURS = envint("EXPORT_RETENTION_HOURS", 72)

# --- logging ----------------------------------------------------------------------------------
# LOG_FORMAT: "plain" lines for people (the default with DEBUG), or "json", one object per line
# for a log collector (the default in production, where logs are read by machines first). Either
# way no request body, cookie, header, token or item text is written (LOG-2).
LOG_FORMAT = envstr("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
