"""Settings come from the environment; production refuses to start without a real secret."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = secrets.token_urlsafe(60)
PRODUCTION = {
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "concord.example.org",
    "DATABASE_URL": "postgres://concord@db.example.org:5432/concord",
}


def run(args, env_vars, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATA_DIR": str(tmp_path / "data")}
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def settings_values(env_vars, tmp_path, *names):
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", **env_vars}
    result = run(["-c", code], env, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "key",
    [
        "",
        "change-me",
        "replace-with-a-long-random-string",
        "short-key",
        "django-insecure-" + "x" * 60,
    ],
    ids=["missing", "placeholder", "example-file-value", "too-short", "django-insecure"],
)
def test_production_refuses_to_start_without_a_real_secret_key(key, tmp_path):
    result = run(["manage.py", "check"], {**PRODUCTION, "SECRET_KEY": key}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    result = run(["manage.py", "check"], {**PRODUCTION, "ALLOWED_HOSTS": ""}, tmp_path)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_about_sqlite_in_production(tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != "DATABASE_URL"}
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode != 0
    assert "concord.W001" in result.stderr


def test_production_cookies_and_hsts_are_secure(tmp_path):
    values = settings_values(
        PRODUCTION,
        tmp_path,
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "SECURE_REFERRER_POLICY",
        "X_FRAME_OPTIONS",
    )
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
    }


def test_secret_key_can_come_from_a_file(tmp_path):
    key_file = tmp_path / "secret"
    key_file.write_text(STRONG_KEY + "\n")
    env = {**PRODUCTION, "SECRET_KEY": "", "SECRET_KEY_FILE": str(key_file)}
    assert settings_values(env, tmp_path, "SECRET_KEY") == {"SECRET_KEY": STRONG_KEY}


def test_without_a_broker_jobs_run_in_process_and_the_log_says_so(tmp_path):
    result = run(["manage.py", "check"], {"DEBUG": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "jobs run in-process" in result.stderr


def test_with_a_broker_jobs_go_to_celery_json_only(tmp_path):
    env = {**PRODUCTION, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15"}
    values = settings_values(
        env, tmp_path, "CELERY_TASK_ALWAYS_EAGER", "CELERY_ACCEPT_CONTENT", "CELERY_TASK_ACKS_LATE"
    )
    assert values == {
        "CELERY_TASK_ALWAYS_EAGER": False,
        "CELERY_ACCEPT_CONTENT": ["json"],
        "CELERY_TASK_ACKS_LATE": True,
    }


def test_a_boolean_variable_with_a_typo_is_refused(tmp_path):
    result = run(["manage.py", "check"], {"DEBUG": "ture"}, tmp_path)
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr
