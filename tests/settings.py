"""Settings for the test suite: the real settings, read from the environment as always, with
development defaults for what a test run does not configure, and a fast password hasher."""

import os

os.environ.setdefault("DEBUG", "true")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Jobs started without a broker finish before the call returns, so tests can assert on them.
JOBS_IN_PROCESS = "inline"

# The suite's in-process Celery workers run no reaper thread: tests call jobs_reap themselves.
JOB_REAP_SECONDS = 0

# Under pytest-xdist every worker process gets Redis databases of its own for the broker and the
# cache (the configured number plus 1 + the worker's index), so that one worker's messages, job
# progress and sign-in throttles never reach another.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _own_redis_db(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + 1 + int(_WORKER[2:])}"))


if _WORKER.startswith("gw"):
    if CELERY_BROKER_URL.startswith("redis"):  # noqa: F405
        CELERY_BROKER_URL = _own_redis_db(CELERY_BROKER_URL)  # noqa: F405
    if CACHES["default"].get("LOCATION", "").startswith("redis"):  # noqa: F405
        CACHES["default"]["LOCATION"] = _own_redis_db(CACHES["default"]["LOCATION"])  # noqa: F405
