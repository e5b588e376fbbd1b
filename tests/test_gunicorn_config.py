"""The production web server's settings (config/gunicorn.py), run for real: a slow client must
not hold up everyone else, as it did with sync workers."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own server)
        return response.status


@pytest.fixture
def server(tmp_path):
    """gunicorn with the production config file, one worker process and two threads."""
    port, log = _free_port(), tmp_path / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(WEB_CONCURRENCY="1", GUNICORN_THREADS="2", DEBUG="true", DATA_DIR=str(tmp_path),
               LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="config.settings")  # fmt: skip
    errors = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "python:config.gunicorn",
         "--bind", f"127.0.0.1:{port}", "--timeout", "60"],  # fmt: skip
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + 30
    while True:
        try:
            assert _get(url, timeout=2) == 200
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
    yield port, url
    process.terminate()
    process.wait(timeout=30)
    errors.close()


def test_the_config_asks_for_threaded_workers():
    from config import gunicorn

    assert gunicorn.worker_class == "gthread"
    assert gunicorn.threads >= 2


def test_the_image_and_the_compose_file_use_the_config():
    assert '"-c", "python:config.gunicorn"' in (ROOT / "Dockerfile").read_text()
    assert (
        "gunicorn config.wsgi -c python:config.gunicorn"
        in (ROOT / "docker-compose.yml").read_text()
    )


def test_a_slow_client_holds_one_thread_and_others_are_still_served(server):
    """A client that sends half a request and stalls (a slow upload, a slow link) holds one
    thread. With one sync worker every other request would wait until it timed out."""
    port, url = server
    slow = socket.create_connection(("127.0.0.1", port))
    try:
        slow.sendall(b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n")
        time.sleep(0.5)  # the worker has taken the connection and waits for the rest
        started = time.monotonic()
        assert _get(url, timeout=10) == 200
        assert time.monotonic() - started < 5
    finally:
        slow.close()
