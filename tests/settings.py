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
