"""The simulated users and the Celery worker of benchmarks/load_test.py: annotators, reviewers,
the lead's dashboard reloads and import, each a thread with its own HTTP connection that keeps
every call as (kind, wall-clock start, milliseconds, status); and a reader of gunicorn's access
log that stamps each line with the time it appeared."""

import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["billing", "technical", "account", "shipping", "feedback"]
# Answers that are not errors; anything else (or no answer at all, status 0) is one.
EXPECTED = {
    "next": {200, 204},
    "submit": {201},
    "review next": {200, 204},
    "review decide": {200},
    "dashboard": {200},
    "import upload": {202},
    "import status": {200},
}
LABELING = ("next", "submit")
ROUTES = [  # (kind, method, path) to sort gunicorn's access log
    ("next", "POST", re.compile(r"/api/projects/[^/]+/next/")),
    ("submit", "POST", re.compile(r"/api/items/\d+/annotations/")),
    ("review next", "POST", re.compile(r"/api/projects/[^/]+/reviews/next/")),
    ("review decide", "POST", re.compile(r"/api/projects/[^/]+/reviews/\d+/decision/")),
    ("dashboard", "GET", re.compile(r"/p/[^/]+/agreement/")),
    ("import upload", "POST", re.compile(r"/api/projects/[^/]+/imports/")),
    ("import status", "GET", re.compile(r"/api/jobs/\d+/")),
]


# --- the people -------------------------------------------------------------------------------


class Person(threading.Thread):
    """One simulated user with their own connection; every call is kept as (kind, wall-clock
    start, milliseconds, status)."""

    def __init__(self, run, auth: dict):
        super().__init__(daemon=True)
        self.run_, self.auth = run, auth
        self.rng = random.Random(str(auth))
        self.samples: list[tuple[str, float, float, int]] = []
        self.failures: list[str] = []
        self.connection = http.client.HTTPConnection("127.0.0.1", run.port, timeout=120)

    def call(self, kind: str, method: str, path: str, body=None, headers=None):
        if isinstance(body, dict):
            body, headers = json.dumps(body), {"Content-Type": "application/json"}
        wall, start = time.time(), time.perf_counter()
        try:
            self.connection.request(method, path, body, {**self.auth, **(headers or {})})
            response = self.connection.getresponse()
            status, data = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            status, data = 0, repr(exc).encode()
        self.samples.append((kind, wall, (time.perf_counter() - start) * 1000, status))
        if status not in EXPECTED[kind]:
            self.failures.append(f"{kind} {status} {data[:160]!r}")
        return status, data

    def think(self) -> bool:
        """Waits a think time; False when the run is over."""
        return not self.run_.stop.wait(self.rng.uniform(*self.run_.args.think))


class Annotator(Person):
    def __init__(self, run, auth):
        super().__init__(run, auth)
        self.keys: dict[str, int] = {}  # submission key -> status answered (0: no answer)

    def run(self):
        slug, args = self.run_.slug, self.run_.args
        self.run_.barrier.wait()
        for _ in range(args.iterations):
            time.sleep(self.rng.uniform(*args.think))  # the first call too: no herd at the start
            status, data = self.call("next", "POST", f"/api/projects/{slug}/next/", {})
            if status != 200:
                break
            item_id = json.loads(data)["item"]["id"]
            time.sleep(self.rng.uniform(*args.think))
            key = uuid.uuid4().hex
            body = {"value": {"label": self.rng.choice(LABELS)}, "submission_key": key,
                    "seconds_spent": round(self.rng.uniform(2, 30), 1)}  # fmt: skip
            self.keys[key] = self.call("submit", "POST", f"/api/items/{item_id}/annotations/",
                                       body)[0]  # fmt: skip


class Reviewer(Person):
    def __init__(self, run, auth):
        super().__init__(run, auth)
        self.decided: list[int] = []

    def run(self):
        base = f"/api/projects/{self.run_.slug}/reviews/"
        self.run_.barrier.wait()
        while self.think():
            status, data = self.call("review next", "POST", base + "next/", {})
            if status != 200:
                continue
            review = json.loads(data)
            if not self.think():
                break
            body = {"value": {"label": self.rng.choice(LABELS)}, "version": review["version"],
                    "rationale": "Decided by the load test."}  # fmt: skip
            path = f"{base}{review['id']}/decision/"
            if self.call("review decide", "POST", path, body)[0] == 200:
                self.decided.append(review["id"])


class Dashboard(Person):
    def run(self):
        self.run_.barrier.wait()
        while True:
            self.call("dashboard", "GET", f"/p/{self.run_.slug}/agreement/")
            if self.run_.stop.wait(self.run_.args.dashboard_every):
                break


class Importer(Person):
    """Uploads the file as one multipart request, then follows the job once a second."""

    def __init__(self, run, auth, path: Path):
        super().__init__(run, auth)
        self.path, self.job, self.upload_wall = path, None, None

    def run(self):
        boundary = uuid.uuid4().hex
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{self.path.name}"\r\nContent-Type: application/x-ndjson\r\n\r\n'
                ).encode()  # fmt: skip
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body():
            yield head
            with open(self.path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk
            yield tail

        size = len(head) + self.path.stat().st_size + len(tail)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Content-Length": str(size)}  # fmt: skip
        self.run_.barrier.wait()
        # The lead adds a batch once people are at work, as in practice: the import's window
        # then holds labeling at its usual pace, not the server's first requests.
        time.sleep(self.run_.args.import_after)
        self.upload_wall = time.time()
        path = f"/api/projects/{self.run_.slug}/imports/"
        status, data = self.call("import upload", "POST", path, body(), headers)
        if status != 202:
            return
        self.job = json.loads(data)
        deadline = time.monotonic() + self.run_.args.import_timeout
        while self.job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(1)
            status, data = self.call("import status", "GET", f"/api/jobs/{self.job['id']}/")
            if status == 200:
                self.job = json.loads(data)


# --- the servers ------------------------------------------------------------------------------


def start_worker(log: Path) -> subprocess.Popen:
    """`celery worker --concurrency 1`, in its own process group, ready to take jobs."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
               "--loglevel", "info", "--hostname", "load@%h", "--without-gossip",
               "--without-mingle", "--without-heartbeat"]  # fmt: skip
    env = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1"}
    with open(log, "w") as out:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text():
        if time.monotonic() > deadline or worker.poll() is not None:
            sys.exit(f"the Celery worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    return worker


class LogTail(threading.Thread):
    """Reads gunicorn's access log as it grows and stamps each line with the time it appeared
    (within a quarter second), so that server times can be split by the import's window."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.lines, self.stopping = path, [], threading.Event()

    def run(self):
        partial = ""  # a line gunicorn is still writing: kept until its newline arrives
        with open(self.path) as fh:
            while True:
                stopping = self.stopping.is_set()
                now = time.time()
                *whole, partial = (partial + fh.read()).split("\n")
                self.lines += [(now, line.split()) for line in whole if line.strip()]
                if stopping:
                    return
                self.stopping.wait(0.25)

    def server_times(self) -> dict[str, list[tuple[float, float, int]]]:
        """kind -> [(wall-clock seen, milliseconds inside gunicorn, status)]."""
        found: dict[str, list] = {kind: [] for kind in EXPECTED}
        for seen, (method, path, code, micros) in self.lines:
            for kind, verb, pattern in ROUTES:
                if method == verb and pattern.fullmatch(path):
                    found[kind].append((seen, int(micros) / 1000, int(code)))
                    break
        return found


# --- the run ----------------------------------------------------------------------------------


class Run:
    def __init__(self, args, slug: str, port: int, people: list):
        self.args, self.slug, self.port = args, slug, port
        self.stop = threading.Event()
        self.barrier = threading.Barrier(people + 1)
