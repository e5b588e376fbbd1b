"""The labeling calls without an HTTP server: how much CPU one next + submit pair costs the
application and PostgreSQL, which bounds the labeling benchmark's throughput whatever serves it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord python benchmarks/labeling_inprocess.py
    python benchmarks/labeling_inprocess.py --pairs 1000 --annotator 45
    python benchmarks/labeling_inprocess.py --profile      # cProfile's top functions instead

Uses the project of benchmarks/labeling_bench.py (built there with COPY when it is missing) and
one of its annotators (by default one its clients do not use), who makes `--pairs` pairs of
`POST /api/projects/{slug}/next/` and `POST /api/items/{id}/annotations/`, one after the other,
through Django's WSGI handler with production settings (DEBUG off) and an API token, as the
benchmark's clients do. Prints per pair: wall time, this process's CPU (Django, the views,
psycopg) and the CPU of the PostgreSQL backend serving it (from /proc), their sum, the pairs a
second that two cores would give at that cost with nothing else to do, and the statements sent.
Each run adds its pairs' annotations to the project: compare runs on a fresh database, or with
a different `--annotator` each time.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


class Caller:
    """Calls the WSGI application as gunicorn would, with the annotator's token."""

    def __init__(self, application, token: str):
        self.application, self.token = application, token

    def post(self, path: str, body: dict) -> tuple[int, bytes]:
        data = json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(data)),
            "HTTP_AUTHORIZATION": f"Token {self.token}", "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http", "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }  # fmt: skip
        status = []
        body = b"".join(self.application(environ, lambda s, h, e=None: status.append(s)))
        return int(status[0][:3]), body


def backend_cpu_seconds() -> float:
    """CPU seconds (user + system) of the PostgreSQL backend serving this connection."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--annotator", type=int, default=40,
                        help="which of the 60 annotators (the clients are 0-19)")  # fmt: skip
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotations", type=int, default=300_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    import labeling_bench
    from labeling_ab import pair_maker

    static = tempfile.TemporaryDirectory()  # none is served; an empty folder spares a warning
    os.environ.update(labeling_bench.PRODUCTION, STATIC_ROOT=static.name)
    labeling_bench._django()
    from django.contrib.auth import get_user_model
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotation.services import leases_release_member
    from curation.models import Project

    slug = labeling_bench.build(args.items, args.annotations)
    project = Project.objects.get(slug=slug)
    name = labeling_bench._annotator_names()[args.annotator]
    user = get_user_model().objects.get(username=name)
    leases_release_member(project=project, user=user)
    caller = Caller(get_wsgi_application(), Token.objects.get_or_create(user=user)[0].key)
    pair = pair_maker(caller, slug, labeling_bench.LABELS, seed=args.annotator)
    for _ in range(20):  # connections, prepared statements and caches warm
        pair()
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(lambda: [pair() for _ in range(args.pairs)])
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        return
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    database, python, wall = backend_cpu_seconds(), time.process_time(), time.perf_counter()
    with connection.execute_wrapper(count):
        for _ in range(args.pairs):
            pair()
    wall = (time.perf_counter() - wall) / args.pairs * 1000
    python = (time.process_time() - python) / args.pairs * 1000
    database = (backend_cpu_seconds() - database) / args.pairs * 1000
    print(f"{args.pairs} pairs as {name} on {slug}, per pair:")
    print(f"wall {wall:.2f} ms; CPU: Python {python:.2f} + PostgreSQL {database:.2f} = "
          f"{python + database:.2f} ms, so 2 cores give at most "
          f"{2000 / (python + database):,.0f} pairs/s with no server")  # fmt: skip
    print(
        f"statements through Django: {len(statements) / args.pairs:.1f} "
        "(BEGIN and COMMIT not counted)"
    )


if __name__ == "__main__":
    main()
