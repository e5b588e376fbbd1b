"""The production web server's settings (config/gunicorn.py), run for real: a slow client must
not hold up everyone else, as it did with sync workers."""

import contextlib
import http.client
import os
import re
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
    from gunicorn.workers.gthread import ThreadWorker as GThread

    from config import gunicorn
    from config.gunicorn_worker import ThreadWorker

    assert gunicorn.worker_class == "config.gunicorn_worker.ThreadWorker"
    assert issubclass(ThreadWorker, GThread)
    assert gunicorn.threads >= 2


def _raw(port: int, request: bytes) -> bytes:
    """The status line gunicorn answers `request` with, sent as is."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",  # which one ends the body?
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content Length: 5\r\n",  # a space in a header's name
        b"X-Note: a\x00b\r\nContent-Length: 5\r\n",
    ],
)
def test_the_parser_refuses_requests_that_could_be_read_two_ways(server, headers):
    """Requests a proxy in front and the server could split differently (request smuggling)
    get 400, from the Python parser as from the C one (the `fast` extra), whichever is installed;
    a plain one is served."""
    port, _ = server
    start = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    assert _raw(port, start + b"Content-Length: 5\r\n\r\nhello") == b"HTTP/1.1 200 OK"
    assert _raw(port, start + headers + b"\r\nhello") == b"HTTP/1.1 400 Bad Request"


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


def test_a_worker_with_no_free_thread_leaves_new_connections_to_the_others(tmp_path):
    """Two workers of one thread each. While one serves a slow request, every new connection
    goes to the other; gunicorn's own gthread worker would take some of them itself and make
    them wait behind the slow one."""
    app = tmp_path / "slow_app.py"
    app.write_text(
        "import os, time\n"
        "def app(environ, start_response):\n"
        "    if environ['PATH_INFO'] == '/slow':\n"
        "        time.sleep(3)\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [str(os.getpid()).encode()]\n"
    )
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "slow_app:app", "-c", "python:config.gunicorn",
         "--workers", "2", "--threads", "1", "--bind", f"127.0.0.1:{port}"],  # fmt: skip
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base, slow = f"http://127.0.0.1:{port}", None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(f"{base}/", timeout=2)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "no gunicorn"
                time.sleep(0.2)
        fetch = f"import urllib.request; urllib.request.urlopen('{base}/slow', timeout=30).read()"
        slow = subprocess.Popen([sys.executable, "-c", fetch])
        time.sleep(0.5)  # a worker has taken the slow request
        pids = set()
        for _ in range(8):
            started = time.monotonic()
            with urllib.request.urlopen(f"{base}/", timeout=10) as response:  # noqa: S310
                pids.add(response.read())
            assert time.monotonic() - started < 1.5, "a new connection waited for the busy worker"
        assert len(pids) == 1  # all served by the free worker
        assert slow.wait(timeout=30) == 0
    finally:
        if slow is not None and slow.poll() is None:
            slow.kill()
            slow.wait()
        process.terminate()
        process.wait(timeout=30)


_ANSWERS_APP = """
import os, tempfile
FILE = tempfile.NamedTemporaryFile(delete=False)
FILE.write(b"file body " * 50)
FILE.close()
def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/json":
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")])
        return [b'{"ok": true}'[:11]]
    if path == "/two-parts":
        start_response("201 Created", [("Content-Length", "10")])
        return [b"first", b"-last"]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/streamed":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"chunk one", b"chunk two"])
    if path == "/longer-than-said":
        start_response("200 OK", [("Content-Length", "3")])
        return [b"abcdef"]
    if path == "/read-body":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/ignore-body":
        start_response("200 OK", [("Content-Length", "7")])
        return [b"ignored"]
    if path == "/file":
        start_response("200 OK", [("Content-Length", str(os.path.getsize(FILE.name)))])
        return environ["wsgi.file_wrapper"](open(FILE.name, "rb"))
    start_response("404 Not Found", [("Content-Length", "0")])
    return [b""]
"""


def _exchange(port: int, request: bytes) -> bytes:
    """Everything the server sends back for `request` before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@contextlib.contextmanager
def _answers_server(tmp_path, *options):
    """gunicorn serving _ANSWERS_APP with `options`, once it takes connections: its port."""
    (tmp_path / "answers_app.py").write_text(_ANSWERS_APP)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "answers_app:app", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", *options],  # fmt: skip
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_workers_answers_are_gunicorns_byte_for_byte(tmp_path):
    """The one-write response (config/gunicorn_worker.py) against gunicorn's own gthread
    worker: the same bytes for a body in one part or two, no body, HEAD, a streamed (chunked)
    body, a body longer than its Content-Length, and a file sent with sendfile."""
    paths = ["/json", "/two-parts", "/empty", "/streamed", "/longer-than-said", "/file", "/nope"]
    requests = [f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                for method, path in [*(("GET", p) for p in paths), ("HEAD", "/json")]]  # fmt: skip
    answers = {}
    for worker in ("gthread", "config.gunicorn_worker.ThreadWorker"):
        with _answers_server(tmp_path, "--worker-class", worker, "--threads", "2") as port:
            answer = b"".join(_exchange(port, request) for request in requests)
        answers[worker] = re.sub(rb"Date: [^\r]*\r\n", b"", answer)
    ours, theirs = answers["config.gunicorn_worker.ThreadWorker"], answers["gthread"]
    assert ours.count(b"HTTP/1.1 ") == len(requests)
    assert b"file body file body" in ours and b"9\r\nchunk one\r\n" in ours
    assert ours == theirs


def test_a_kept_alive_connection_serves_after_bodies_read_or_not(tmp_path):
    """The worker skips gthread's drain of a request body only when nothing is left of it: a
    body the application did not read is still drained before the next request is parsed."""
    calls = [("POST", "/read-body", b"x" * 3000), ("POST", "/ignore-body", b"y" * 3000),
             ("GET", "/json", None), ("POST", "/ignore-body", b"z" * 10),
             ("POST", "/read-body", b'{"a": 1}'), ("GET", "/json", None)]  # fmt: skip
    answers = []
    with _answers_server(tmp_path, "-c", "python:config.gunicorn") as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for method, path, body in calls:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            answers.append((response.status, response.read()))
        connection.close()
    assert answers == [(200, b"x" * 3000), (200, b"ignored"), (200, b'{"ok": true'),
                       (200, b"ignored"), (200, b'{"a": 1}'), (200, b'{"ok": true')]  # fmt: skip


@pytest.mark.parametrize("first", ["/ignore-body", "/read-body"])
def test_a_request_that_arrives_with_the_one_before_is_answered(tmp_path, first):
    """A request read from the socket together with the end of the one before (here sent right
    behind it) waits in the parser's buffer, not in the socket: gthread handed the connection
    to its poller, which waited on the socket until the keep-alive timeout closed it, and the
    request was lost. It happened to a client that sent its next call while the server was
    still draining a body the application had not read."""
    second = b"GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    head = f"POST {first} HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n".encode()
    with _answers_server(tmp_path, "-c", "python:config.gunicorn") as port:
        answer = _exchange(port, head + b"y" * 3000 + second)
    assert answer.count(b"HTTP/1.1 200 OK") == 2, answer
    assert answer.endswith(b'{"ok": true')


@pytest.mark.parametrize(
    ("left", "buffered", "drained"),
    [(0, b"", False), (5, b"", True), (0, b"rest", True)],
)
def test_the_drain_is_skipped_only_when_nothing_is_left_of_the_body(monkeypatch, left,
                                                                    buffered, drained):  # fmt: skip
    """gthread's drain (bounded in time, for slow clients) still runs whenever any of the body
    is unread, in the socket (`left`) or read ahead (`buffered`)."""
    import io
    from types import SimpleNamespace

    from gunicorn.http.body import Body, LengthReader
    from gunicorn.workers import gthread

    from config.gunicorn_worker import ThreadWorker

    calls = []

    def gthreads(self, conn, keepalive):
        calls.append(keepalive)
        return "drained"

    monkeypatch.setattr(gthread.ThreadWorker, "_keepalive_after", gthreads)
    body = Body(LengthReader(io.BytesIO(), left))
    body.buf.write(buffered)
    conn = SimpleNamespace(parser=SimpleNamespace(mesg=SimpleNamespace(body=body)))
    worker = ThreadWorker.__new__(ThreadWorker)
    assert worker._keepalive_after(conn, True) == ("drained" if drained else True)
    assert calls == ([True] if drained else [])
    assert worker._keepalive_after(conn, False) == "drained"  # not kept alive: gthread decides
