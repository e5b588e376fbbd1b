"""Labeling under load: API clients, each its own annotator, loop next -> submit against a live
gunicorn on 127.0.0.1, on a project of 100,000 items that already holds 300,000 annotations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord python benchmarks/labeling_bench.py
    python benchmarks/labeling_bench.py --worker-class sync --threads 1   # sync workers instead
    python benchmarks/labeling_bench.py --take-next    # one call per item: submit leases the next

The project (slug bench-label-<N>) is built once with COPY and reused by later runs: five
annotators per item, the existing annotations spread at random over the items and over 60
annotators, so most items are partly labeled and the clients (the first of those annotators) must
pass over items they did before. Prints client-side latency percentiles of next and submit,
submits/s, the same requests' time inside gunicorn (its access log), the labeling page's server
time and size when that page exists, the floor (the same clients sending the server's cheapest
request, `GET /healthz`, as fast as it answers) and the share of it reached, then checks the
database: no item over its overlap, no (item, annotator) twice, counters equal to the rows, one
stored annotation per 201.
"""

import argparse
import http.client
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from config import gunicorn as gunicorn_config  # noqa: E402 - the image's worker model

LABELS = ["billing", "technical", "account", "shipping", "feedback"]
OVERLAP = 5
ANNOTATORS = 60


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    # One key for this process and the server, so the session made here signs the page in.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database: this benchmark needs COPY.")


def _annotator_names() -> list[str]:
    return [f"bench-labeler-{i:02d}" for i in range(ANNOTATORS)]


def build(n_items: int, n_annotations: int) -> str:
    """Creates the benchmark project with COPY unless it exists; returns its slug."""
    slug = f"bench-label-{n_items}"
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from curation.models import Project

    if not Project.objects.filter(slug=slug, items__isnull=False).exists():
        User = get_user_model()
        lead, _ = User.objects.get_or_create(username="bench")
        users = [User.objects.get_or_create(username=name)[0] for name in _annotator_names()]
        with transaction.atomic():
            Project.objects.filter(slug=slug).delete()
            _build_project(slug, lead, users, n_items, n_annotations)
    with connection.cursor() as cursor:  # a steady state, as autovacuum would leave it
        cursor.execute("VACUUM ANALYZE curation_item, annotation_annotation, annotation_lease")
    return slug


def _build_project(slug, lead, users, n_items, n_annotations) -> None:
    import orjson
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.json import set_json_dumps

    from annotation.models import LabelSchema
    from annotation.services import items_recount
    from benchmarks._corpus import message
    from curation.models import Membership, Role
    from curation.services import project_create

    rng, now = random.Random(4), timezone.now()
    project = project_create(user=lead, name=slug, slug=slug, annotators_per_item=OVERLAP)
    LabelSchema.objects.create(project=project, config={"labels": [{"value": v} for v in LABELS]})
    Membership.objects.bulk_create(
        [Membership(project=project, user=u, role=Role.ANNOTATOR) for u in users]
    )
    with connection.cursor() as cursor:
        raw = cursor.cursor
        set_json_dumps(orjson.dumps, context=raw)
        sql = ("COPY curation_item (project_id, external_id, data, metadata, content_hash, "
               "split, source, priority, created_at) FROM STDIN (FORMAT BINARY)")  # fmt: skip
        with raw.copy(sql) as copy:
            copy.set_types(["int8", "varchar", "jsonb", "jsonb", "varchar", "varchar",
                            "varchar", "int4", "timestamptz"])  # fmt: skip
            for i in range(n_items):
                m = message(rng, i)
                copy.write_row((project.pk, m["id"], {"text": m["text"]}, m["metadata"],
                                f"{i:064x}", "train", m["source"], 0, now))  # fmt: skip
        cursor.execute("SELECT id FROM curation_item WHERE project_id = %s ORDER BY id",
                       [project.pk])  # fmt: skip
        ids = [row[0] for row in cursor.fetchall()]
        # n_annotations of the items' n_items * OVERLAP places, at random: most items end up
        # partly labeled (binomial), a few full, a few untouched.
        taken = [0] * n_items
        for place in rng.sample(range(n_items * OVERLAP), n_annotations):
            taken[place // OVERLAP] += 1
        sql = ("COPY annotation_annotation (item_id, annotator_id, value, presentation, "
               "seconds_spent, submission_key, version, created_at, updated_at) "
               "FROM STDIN (FORMAT BINARY)")  # fmt: skip
        with raw.copy(sql) as copy:
            copy.set_types(["int8", "int4", "jsonb", "jsonb", "float8", "varchar", "int4",
                            "timestamptz", "timestamptz"])  # fmt: skip
            for item_id, k in zip(ids, taken, strict=True):
                for user in rng.sample(users, k):
                    when = now - timedelta(days=1 + rng.random() * 30)
                    copy.write_row((item_id, user.pk, {"label": rng.choice(LABELS)}, {},
                                    rng.uniform(2, 40), "", 1, when, when))  # fmt: skip
    items_recount(project=project)


# --- the server -------------------------------------------------------------------------------


# Production settings (DEBUG off) over plain http://127.0.0.1.
PRODUCTION = {"DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
              "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
              "SECURE_HSTS_SECONDS": "0", "LOG_LEVEL": "WARNING"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, args, log: Path, static_root: Path):
    """gunicorn with production settings (DEBUG off) on plain http://127.0.0.1:port."""
    env = {**os.environ, **PRODUCTION, "STATIC_ROOT": str(static_root)}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                   cwd=ROOT, env=env, check=True)  # fmt: skip
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers), "--threads", str(args.threads),
        "--worker-class", args.worker_class, "--keep-alive", "30", "--access-logfile", str(log),
        "--access-logformat", "%(m)s %(U)s %(s)s %(D)s", "--http-parser", args.http_parser,
        "--logger-class", args.logger_class,
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not start")


# --- the clients ------------------------------------------------------------------------------


class Wire:
    """One kept-alive HTTP/1.1 connection that costs its client as little as it can: requests
    are written as bytes, answers read by their Content-Length. The clients share the server's
    two cores, and http.client spent about 0.2 ms of CPU a request, mostly parsing headers;
    real annotators' clients run elsewhere."""

    def __init__(self, port: int, headers: dict[str, str]):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self.buffer = b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        start = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method.encode(), path.encode())
        self.sock.sendall(b"%s%sContent-Length: %d\r\n\r\n%s" % (start, self.head, len(body), body))
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._more()
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._more()
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(head[9:12]), data

    def close(self) -> None:
        self.sock.close()


class Client(threading.Thread):
    """One annotator: next -> submit, `submits` times or until the queue is empty for them."""

    def __init__(self, port: int, token: str, slug: str, submits: int, barrier, take_next=False):
        super().__init__()
        self.take_next = take_next
        self.port, self.slug, self.submits, self.barrier = port, slug, submits, barrier
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.next_ms: list[float] = []
        self.submit_ms: list[float] = []
        self.created = 0
        self.errors: list[str] = []
        self.rng = random.Random(token)

    def call(self, connection, path: str, body: dict) -> tuple[int, bytes, float]:
        start = time.perf_counter()
        status, data = connection.request("POST", path, json.dumps(body).encode())
        return status, data, (time.perf_counter() - start) * 1000

    def run(self):
        connection = Wire(self.port, self.headers)
        self.barrier.wait()
        following = None  # with take_next, the next item came with the last submit
        for _ in range(self.submits):
            if following is None:
                status, data, ms = self.call(connection, f"/api/projects/{self.slug}/next/", {})
                self.next_ms.append(ms)
                if status == 204:
                    break
                if status != 200:
                    self.errors.append(f"next {status} {data[:200]!r}")
                    break
                following = json.loads(data)
            item = following["item"]
            body = {
                "value": {"label": self.rng.choice(LABELS)},
                "seconds_spent": round(self.rng.uniform(2, 30), 1),
                "submission_key": os.urandom(16).hex(),
                **({"take_next": True} if self.take_next else {}),
            }
            status, data, ms = self.call(connection, f"/api/items/{item['id']}/annotations/", body)
            self.submit_ms.append(ms)
            following = None
            if status == 201:
                self.created += 1
                if self.take_next:
                    following = json.loads(data)["next"]
                    if following is None:
                        break
            else:
                self.errors.append(f"submit {status} {data[:200]!r}")
        connection.close()


class FloorClient(threading.Thread):
    """The floor: the same kind of client sending `GET /healthz` (Django answering after one
    `SELECT 1`), the cheapest request the server has, as fast as it is answered."""

    def __init__(self, port: int, calls: int, barrier):
        super().__init__()
        self.port, self.calls, self.barrier = port, calls, barrier
        self.errors = 0

    def run(self):
        connection = Wire(self.port, {})
        self.barrier.wait()
        for _ in range(self.calls):
            status, _ = connection.request("GET", "/healthz")
            self.errors += status != 200
        connection.close()


def floor(port: int, server_pid: int, clients: int, calls: int) -> tuple[float, float]:
    """(requests/s, CPU ms per request of gunicorn and the clients) for `clients` FloorClients
    of `calls` requests each, against the same server."""
    barrier = threading.Barrier(clients + 1)
    threads = [FloorClient(port, calls, barrier) for _ in range(clients)]
    for thread in threads:
        thread.start()
    workers = _children(server_pid)
    before = _cpu_seconds(workers) + time.process_time()
    barrier.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - t0
    if any(t.errors for t in threads):
        print(f"floor: {sum(t.errors for t in threads)} health checks failed")
    requests = clients * calls
    cpu = _cpu_seconds(workers) + time.process_time() - before
    return requests / seconds, 1000 * cpu / requests


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:6.1f}  p95 {cuts[94]:6.1f}  p99 {cuts[98]:6.1f} ms"


def server_times(log: Path) -> dict[str, list[float]]:
    """Milliseconds inside gunicorn per route kind, from the access log."""
    times: dict[str, list[float]] = {"next": [], "submit": [], "page": []}
    for line in log.read_text().splitlines():
        method, path, _, micros = line.split()
        kind = (
            "next" if path.endswith("/next/")
            else "submit" if path.endswith("/annotations/") and method == "POST"
            else "page" if path.endswith("/label/") else None
        )  # fmt: skip
        if kind:
            times[kind].append(int(micros) / 1000)
    return times


def tokens_for(slug: str, n: int) -> list[tuple[object, str]]:
    """(user, token key) for the first n annotators; their leftover leases are released."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from annotation.services import leases_release_member
    from curation.models import Project

    project = Project.objects.get(slug=slug)
    users = list(get_user_model().objects.filter(username__in=_annotator_names()[:n]))
    for user in users:
        leases_release_member(project=project, user=user)
    return [(u, Token.objects.get_or_create(user=u)[0].key) for u in users]


def label_page(port: int, slug: str, user, rounds: int) -> tuple[int, int, int] | None:
    """(status, body bytes, header bytes) of the labeling page, fetched `rounds` times one after
    the other with a session; None when the page does not exist yet."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.urls import NoReverseMatch, reverse

    try:
        path = reverse("annotation:label", kwargs={"slug": slug})
    except NoReverseMatch:
        return None
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(rounds):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    connection.close()
    head = sum(len(f"{name}: {value}\r\n") for name, value in response.getheaders())
    return response.status, len(body), head


# --- checks -----------------------------------------------------------------------------------

CHECKS = {
    "items over their overlap (annotations + live leases)": """
        SELECT count(*) FROM curation_item i
        WHERE i.project_id = %(project)s
          AND (SELECT count(*) FROM annotation_annotation a WHERE a.item_id = i.id)
            + (SELECT count(*) FROM annotation_lease l
               WHERE l.item_id = i.id AND l.expires_at > now()) > %(overlap)s""",
    "(item, annotator) pairs annotated twice": """
        SELECT count(*) FROM (
            SELECT a.item_id, a.annotator_id FROM annotation_annotation a
            JOIN curation_item i ON i.id = a.item_id WHERE i.project_id = %(project)s
            GROUP BY 1, 2 HAVING count(*) > 1) AS twice""",
    "items whose counters differ from their rows": """
        SELECT count(*) FROM curation_item i
        WHERE i.project_id = %(project)s
          AND (i.annotation_count <> (SELECT count(*) FROM annotation_annotation a
                                      WHERE a.item_id = i.id)
               OR i.lease_count <> (SELECT count(*) FROM annotation_lease l
                                    WHERE l.item_id = i.id))""",
    "leases held on items their annotator already did": """
        SELECT count(*) FROM annotation_lease l JOIN annotation_annotation a
          ON a.item_id = l.item_id AND a.annotator_id = l.annotator_id
        WHERE l.project_id = %(project)s""",
}


def violations(project) -> dict[str, int]:
    from django.db import connection

    params = {"project": project.pk, "overlap": project.annotators_per_item}
    with connection.cursor() as cursor:
        found = {}
        for name, sql in CHECKS.items():
            cursor.execute(sql, params)
            found[name] = cursor.fetchone()[0]
    return found


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used (from /proc: this machine only)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _database_backends() -> tuple[int, list[int]]:
    """(the PostgreSQL process of this thread's connection, those of all other connections to
    this database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, pid = pg_backend_pid() FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_type = 'client backend'"
        )
        rows = cursor.fetchall()
    return next(pid for pid, own in rows if own), [pid for pid, own in rows if not own]


class DatabaseCpu(threading.Thread):
    """Samples the CPU seconds of the PostgreSQL processes serving gunicorn, twice a second: a
    backend that exits (gunicorn closes connections after DB_CONN_MAX_AGE) keeps its last
    sample. The script's own connections are left out."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen: dict[int, float] = {}
        self.own = {_database_backends()[0]}
        self.stopping = threading.Event()

    def sample(self) -> None:
        own, others = _database_backends()
        self.own.add(own)
        for pid in set(others) - self.own:
            self.seen[pid] = max(self.seen.get(pid, 0.0), _cpu_seconds([pid]))

    def run(self):
        from django.db import connection

        try:
            while not self.stopping.wait(0.5):
                self.sample()
        finally:
            connection.close()

    def stop(self) -> float:
        self.stopping.set()
        self.join()
        self.sample()
        return self.total()

    def total(self) -> float:
        return sum(cpu for pid, cpu in self.seen.items() if pid not in self.own)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotations", type=int, default=300_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--submits", type=int, default=200, help="per client")
    parser.add_argument("--workers", type=int, default=gunicorn_config.workers,
                        help="gunicorn workers (as in Docker)")  # fmt: skip
    parser.add_argument("--worker-class", default=gunicorn_config.worker_class,
                        choices=["sync", "gthread", gunicorn_config.worker_class])  # fmt: skip
    parser.add_argument("--threads", type=int, default=gunicorn_config.threads,
                        help="threads per gthread worker")  # fmt: skip
    parser.add_argument("--logger-class", default=gunicorn_config.logger_class,
                        help="gunicorn's logger (gunicorn.glogging.Logger: its own)")  # fmt: skip
    parser.add_argument("--http-parser", default="auto", choices=["auto", "fast", "python"],
                        help="gunicorn HTTP parser: C (fast) or Python")  # fmt: skip
    parser.add_argument("--page-rounds", type=int, default=200)
    parser.add_argument("--take-next", action="store_true",
                        help="submit with take_next: one call per item instead of two")  # fmt: skip
    args = parser.parse_args()
    if not 1 <= args.clients <= ANNOTATORS:
        parser.error(f"--clients must be between 1 and {ANNOTATORS}")
    args.load_before = os.getloadavg()[0]  # other work on the machine skews the figures
    _django()
    from django.utils import timezone

    from annotation.models import Annotation
    from curation.models import Project

    start = time.perf_counter()
    slug = build(args.items, args.annotations)
    project = Project.objects.get(slug=slug)
    print(f"project {slug} ready in {time.perf_counter() - start:.0f} s: "
          f"{project.items.count():,} items, "
          f"{Annotation.objects.filter(item__project=project).count():,} annotations, "
          f"{project.annotators_per_item} annotators per item")  # fmt: skip
    clients = tokens_for(slug, args.clients)
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        server = start_server(port, args, log, Path(tmp) / "static")
        try:
            log.write_text("")  # forget the health checks
            began = timezone.now()
            barrier = threading.Barrier(len(clients) + 1)
            threads = [Client(port, key, slug, args.submits, barrier, args.take_next)
                       for _, key in clients]  # fmt: skip
            for thread in threads:
                thread.start()
            workers, database = _children(server.pid), DatabaseCpu()
            database.sample()
            before = (_cpu_seconds(workers), database.total(), time.process_time(),
                      _machine_busy_seconds())  # fmt: skip
            database.start()
            barrier.wait()
            t0 = time.perf_counter()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - t0
            cpu = {
                "gunicorn": _cpu_seconds(workers) - before[0],
                "PostgreSQL": database.stop() - before[1],
                "clients": time.process_time() - before[2],
            }
            others = _machine_busy_seconds() - before[3] - sum(cpu.values())
            page = label_page(port, slug, clients[0][0], args.page_rounds)
            # The same clients and server on the cheapest request, for the ratio.
            floor_rate = floor(port, server.pid, len(clients), 2 * args.submits)
        finally:
            server.terminate()
            server.wait(timeout=30)
        times = server_times(log)
    print(f"other work on the machine during the run: {max(0.0, others) / seconds:.2f} cores")
    _report(args, project, threads, seconds, times, page, began, cpu, floor_rate)


def _report(args, project, threads, seconds, times, page, began, cpu, floor_rate) -> None:
    from annotation.models import Annotation

    created = sum(t.created for t in threads)
    next_ms = [ms for t in threads for ms in t.next_ms]
    submit_ms = [ms for t in threads for ms in t.submit_ms]
    print(f"gunicorn: {args.workers} {args.worker_class} workers x {args.threads} threads; "
          f"{len(threads)} clients x {args.submits} submits"
          f"{' with take_next' if args.take_next else ''}; load average before: "
          f"{args.load_before:.1f}")  # fmt: skip
    print(f"next    (client)  {percentiles(next_ms)}   ({len(next_ms)} calls)")
    print(f"submit  (client)  {percentiles(submit_ms)}   ({len(submit_ms)} calls)")
    print(f"next    (server)  {percentiles(times['next'])}")
    print(f"submit  (server)  {percentiles(times['submit'])}"
          + ("  (each also leases the next item)" if args.take_next else ""))  # fmt: skip
    print(f"throughput        {created / seconds:,.0f} submits/s "
          f"({created} stored in {seconds:.1f} s)")  # fmt: skip
    if created:
        shares = ", ".join(f"{name} {1000 * s / created:.1f}" for name, s in cpu.items())
        total = sum(cpu.values()) / created
        print(f"CPU per submit    {shares} ms (next + submit); {1000 * total:.1f} ms in all, "
              f"so 2 cores give at most {2 / total:,.0f} submits/s")  # fmt: skip
    per_submit = 1 if args.take_next else 2
    rate, cpu_ms = floor_rate
    print(f"floor             GET /healthz from the same clients: {rate:,.0f} requests/s "
          f"({cpu_ms:.2f} ms CPU a request in gunicorn and the clients); at that rate, "
          f"{per_submit} request(s) a submit would give {rate / per_submit:,.0f} submits/s; "
          f"this run reached {created / seconds / (rate / per_submit):.2f} of it")  # fmt: skip
    if page is None:
        print("labeling page     not measured: the route annotation:label does not exist yet")
    else:
        print(
            f"labeling page     status {page[0]}, {page[1]:,} bytes of HTML + {page[2]:,} of "
            f"headers, uncompressed; server "
            f"{percentiles(times['page'])} ({len(times['page'])} requests, one client)"
        )
    errors = [e for t in threads for e in t.errors]
    print(f"errors            {len(errors)}" + (f": {errors[:3]}" if errors else ""))
    stored = Annotation.objects.filter(item__project=project, created_at__gte=began).count()
    print(f"stored annotations since the start: {stored} (201s: {created})")
    found = violations(project)
    for name, count in found.items():
        print(f"  {name}: {count}")
    ok = stored == created and not any(found.values()) and not errors
    print("violations: none" if ok else "VIOLATIONS FOUND")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
