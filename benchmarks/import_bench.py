"""Import speed against the physical limit, a bare psycopg binary COPY, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord python benchmarks/import_bench.py
    python benchmarks/import_bench.py --sizes 10000,100000   # smaller runs

For each size it writes a JSON Lines file of real-looking support messages, imports it through
the import job (the same path as the page, the API and import_items), then loads the same rows
with a bare binary COPY into a plain table (id, text, jsonb), and with the same bare COPY into a
table shaped like the item table with its indexes (a floor no importer that checks rows goes
below). Each measurement runs in a fresh process so its peak RSS is its own. Prints items/s,
the ratio to the bare COPY and peak RSS, and the CPU time per row of the importing process and
of its database backend (read from /proc when PostgreSQL runs on the same machine): on a busy
machine the wall-clock rates are noisy, the CPU times much less so.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("JOBS_IN_PROCESS", "inline")  # time the job, not a thread start
    import django

    django.setup()


class Clock:
    """CPU seconds of this process and of the database backend serving it (None when the
    backend's /proc entry cannot be read, e.g. PostgreSQL on another machine)."""

    def __init__(self, connection):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
        self.start = self.now()

    def _backend(self) -> float | None:
        try:
            fields = self.stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def now(self) -> tuple[float, float | None]:
        return time.process_time(), self._backend()

    def spent(self, rows: int) -> dict:
        (client0, server0), (client1, server1) = self.start, self.now()
        server = None if server0 is None or server1 is None else server1 - server0
        return {"client_us": (client1 - client0) / rows * 1e6,
                "server_us": None if server is None else server / rows * 1e6}  # fmt: skip


def child_import(path: str) -> dict:
    _django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from curation.importing.files import import_start
    from curation.models import JobRun, Project
    from curation.services import project_create

    user, _ = get_user_model().objects.get_or_create(username="bench")
    slug = f"bench-{os.getpid()}-{int(time.time())}"
    project = project_create(user=user, name=slug, slug=slug)
    clock, start = Clock(connection), time.perf_counter()
    run = import_start(project=project, user=user, source=path, filename="bench.jsonl", options={})
    run = JobRun.objects.get(pk=run.pk)
    seconds = time.perf_counter() - start
    assert run.status == "done", (run.status, run.message, run.errors[:3])
    items = run.counts["items_created"]
    cpu = clock.spent(items)
    with connection.cursor() as cursor:  # raw: the ORM would load every item to cascade
        cursor.execute("DELETE FROM curation_item WHERE project_id = %s", [project.pk])
    Project.objects.filter(pk=project.pk).delete()
    with connection.cursor() as cursor:  # the next size's import should not meet dead rows
        cursor.execute("VACUUM ANALYZE curation_item")
    return {"items": items, "seconds": seconds, **cpu}


def child_copy(path: str) -> dict:
    _django()
    import orjson
    from django.db import connection
    from psycopg.types.json import Jsonb

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute("CREATE TABLE bench_copy (id text, text text, metadata jsonb)")
    clock, start = Clock(connection), time.perf_counter()
    rows = 0
    with (
        connection.cursor() as cursor,
        open(path, "rb") as fh,
        cursor.cursor.copy(
            "COPY bench_copy (id, text, metadata) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["text", "text", "jsonb"])
        for line in fh:
            row = orjson.loads(line)
            copy.write_row((row["id"], row["text"], Jsonb(row["metadata"])))
            rows += 1
    seconds, cpu = time.perf_counter() - start, clock.spent(rows)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy")
    return {"items": rows, "seconds": seconds, **cpu}


def child_copy_indexed(path: str) -> dict:
    """The same bare COPY into a table shaped like the item table, with its indexes: the floor
    for any importer that keeps those indexes, before a single row is checked. The content
    hashes are the import's own, computed before the clock starts: they land all over the
    hash index, where sequential ones (as before) would only ever append to its last page."""
    _django()
    import orjson
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.json import set_json_dumps

    from curation.hashing import text_hash

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_item")
        cursor.execute("CREATE TABLE bench_item (LIKE curation_item INCLUDING ALL)")
    columns = (
        "project_id, external_id, data, metadata, content_hash, split, source, priority, created_at"
    )
    types = [
        "int8",
        "varchar",
        "jsonb",
        "jsonb",
        "varchar",
        "varchar",
        "varchar",
        "int4",
        "timestamptz",
    ]
    with open(path, "rb") as fh:
        hashes = [text_hash(orjson.loads(line)["text"]) for line in fh]
    now, rows = timezone.now(), 0
    clock, start = Clock(connection), time.perf_counter()
    sql = f"COPY bench_item ({columns}) FROM STDIN (FORMAT BINARY)"
    with connection.cursor() as cursor, open(path, "rb") as fh, cursor.cursor.copy(sql) as copy:
        set_json_dumps(orjson.dumps, context=cursor.cursor)
        copy.set_types(types)
        for line in fh:
            row = orjson.loads(line)
            copy.write_row((1, row["id"], {"text": row["text"]}, row["metadata"],
                            hashes[rows], "unassigned", row["source"], 0, now))  # fmt: skip
            rows += 1
    seconds, cpu = time.perf_counter() - start, clock.spent(rows)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_item")
    return {"items": rows, "seconds": seconds, **cpu}


def run_child(kind: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, path], capture_output=True,
                         text=True, check=True, cwd=ROOT)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child
        children = {"import": child_import, "copy": child_copy, "indexed": child_copy_indexed}
        result = children[kind](path)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    from benchmarks._corpus import write_jsonl

    print(f"{'rows':>10} {'import/s':>10} {'COPY/s':>10} {'ratio':>6} {'import RSS':>11} "
          f"{'COPY RSS':>9} {'indexed COPY/s':>15}  "
          "CPU µs/row (client+server): import, COPY, indexed COPY")  # fmt: skip
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, f"bench-{size}.jsonl")
            write_jsonl(path, size)
            imported = run_child("import", path)
            copied = run_child("copy", path)
            indexed = run_child("indexed", path)
        rate_i = imported["items"] / imported["seconds"]
        rate_c = copied["items"] / copied["seconds"]
        print(
            f"{size:>10,} {rate_i:>10,.0f} {rate_c:>10,.0f} {rate_i / rate_c:>6.2f} "
            f"{imported['peak_rss_mb']:>9.0f}MB {copied['peak_rss_mb']:>7.0f}MB "
            f"{indexed['items'] / indexed['seconds']:>15,.0f}  {_cpu(imported)}, {_cpu(copied)}, "
            f"{_cpu(indexed)}",
            flush=True,
        )


def _cpu(result: dict) -> str:
    server = result["server_us"]
    return f"{result['client_us']:.1f}+{'?' if server is None else f'{server:.1f}'}"


if __name__ == "__main__":
    main()
