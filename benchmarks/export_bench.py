"""Export speed: a project of N items with three annotations each, exported through the export
job to JSON Lines and Parquet (and CSV), each in a fresh process for its own peak RSS.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord python benchmarks/export_bench.py
    python benchmarks/export_bench.py --items 100000 --formats jsonl

The project is built once with COPY (slug bench-export-<N>) and reused by later runs.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LABELS = ["billing", "technical", "account", "shipping", "feedback"]


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("JOBS_IN_PROCESS", "inline")  # time the job, not a thread start
    import django

    django.setup()


def build(n: int) -> str:
    """Creates the benchmark project with COPY unless it exists; returns its slug."""
    _django()
    import orjson
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone
    from psycopg.types.json import set_json_dumps

    from benchmarks._corpus import message
    from curation.models import Project
    from curation.services import project_create

    slug = f"bench-export-{n}"
    if Project.objects.filter(slug=slug, items__isnull=False).exists():
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE curation_item")
            cursor.execute("ANALYZE annotation_annotation")
        return slug
    User = get_user_model()
    lead, _ = User.objects.get_or_create(username="bench")
    annotators = [User.objects.get_or_create(username=f"bench-ann-{i}")[0] for i in range(3)]
    rng, now = random.Random(3), timezone.now()
    with transaction.atomic():
        Project.objects.filter(slug=slug).delete()
        project = project_create(user=lead, name=slug, slug=slug)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            set_json_dumps(orjson.dumps, context=raw)
            sql = ("COPY curation_item (project_id, external_id, data, metadata, content_hash, "
                   "split, source, priority, created_at) FROM STDIN (FORMAT BINARY)")  # fmt: skip
            with raw.copy(sql) as copy:
                copy.set_types(["int8", "varchar", "jsonb", "jsonb", "varchar", "varchar",
                                "varchar", "int4", "timestamptz"])  # fmt: skip
                for i in range(n):
                    m = message(rng, i)
                    copy.write_row((project.pk, m["id"], {"text": m["text"]}, m["metadata"],
                                    f"{i:064x}", "train", m["source"], 0, now))  # fmt: skip
            cursor.execute("SELECT id FROM curation_item WHERE project_id = %s", [project.pk])
            ids = [row[0] for row in cursor.fetchall()]
            sql = ("COPY annotation_annotation (item_id, annotator_id, value, presentation, "
                   "seconds_spent, submission_key, version, created_at, updated_at) "
                   "FROM STDIN (FORMAT BINARY)")  # fmt: skip
            with raw.copy(sql) as copy:
                copy.set_types(["int8", "int4", "jsonb", "jsonb", "float8", "varchar", "int4",
                                "timestamptz", "timestamptz"])  # fmt: skip
                for item_id in ids:
                    for user in annotators:
                        value = {"label": rng.choice(LABELS)}
                        copy.write_row((item_id, user.pk, value, {}, rng.uniform(2, 40), "", 1,
                                        now, now))  # fmt: skip
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would give them
        cursor.execute("ANALYZE curation_item")
        cursor.execute("ANALYZE annotation_annotation")
    return slug


def child_export(slug: str, fmt: str) -> dict:
    _django()
    from curation.exporting import export_file, export_start
    from curation.models import JobRun, Project

    project = Project.objects.get(slug=slug)
    user = project.created_by
    start = time.perf_counter()
    run = export_start(project=project, user=user, fmt=fmt, mode="final")
    run = JobRun.objects.get(pk=run.pk)
    seconds = time.perf_counter() - start
    assert run.status == "done", (run.status, run.message)
    size = export_file(run).stat().st_size
    export_file(run).unlink()
    return {"items": run.counts["items"], "seconds": seconds, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--formats", default="jsonl,parquet,csv")
    parser.add_argument("--child", nargs=2, metavar=("SLUG", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child_export(*args.child)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    start = time.perf_counter()
    slug = build(args.items)
    print(f"project {slug} ready in {time.perf_counter() - start:.0f} s")
    print(f"{'format':>8} {'items':>10} {'items/s':>10} {'MB out':>8} {'peak RSS':>9}")
    for fmt in args.formats.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", slug, fmt], cwd=ROOT,
                             capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{fmt:>8} {r['items']:>10,} {r['items'] / r['seconds']:>10,.0f} "
            f"{r['bytes'] / 1e6:>8.0f} {r['peak_rss_mb']:>7.0f}MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
