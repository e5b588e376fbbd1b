"""The agreement dashboard at 100,000 items x 3 annotators: how long the agreement job takes,
and how fast the page and the API answer from what it stored.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord python benchmarks/dashboard_bench.py
    python benchmarks/dashboard_bench.py --items 20000 --requests 50

The project (slug bench-agree-<N>) is built once with COPY and reused: three annotators label
every item, each right with a different probability, so alpha is near 0.6 and a third of the
items wait for a reviewer; the annotations are spread over eight weeks. The job runs in this
process (reviews settled, then the figures); the page and the API are requested through Django's
test client, so the times are the server's own (view, queries, template), without a network.
"""

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LABELS = ["billing", "technical", "account", "shipping", "feedback"]
SKILLS = (0.9, 0.8, 0.7)


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database: this benchmark needs COPY.")


def build(n_items: int):
    """The benchmark project, made with COPY unless it exists."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from curation.models import Project

    slug = f"bench-agree-{n_items}"
    project = Project.objects.filter(slug=slug, items__isnull=False).distinct().first()
    if project is None:
        User = get_user_model()
        lead, _ = User.objects.get_or_create(username="bench-agree-lead")
        coders = [User.objects.get_or_create(username=f"bench-coder-{i}")[0] for i in range(3)]
        with transaction.atomic():
            Project.objects.filter(slug=slug).delete()
            project = _build(slug, lead, coders, n_items)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE curation_item, annotation_annotation")
    return project, project.memberships.get(role="lead").user


def _build(slug, lead, coders, n_items):
    import orjson
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.json import set_json_dumps

    from annotation.models import LabelSchema
    from annotation.services import items_recount
    from curation.models import Membership, Role
    from curation.services import project_create

    rng, now = random.Random(5), timezone.now()
    project = project_create(user=lead, name=slug, slug=slug, annotators_per_item=3)
    LabelSchema.objects.create(project=project, config={"labels": [{"value": v} for v in LABELS]})
    Membership.objects.bulk_create(
        [Membership(project=project, user=u, role=Role.ANNOTATOR) for u in coders]
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
                copy.write_row((project.pk, f"m-{i:07d}", {"text": f"Message {i} about an order"},
                                {}, f"{i:064x}", "train", "bench", 0, now))  # fmt: skip
        cursor.execute("SELECT id FROM curation_item WHERE project_id = %s ORDER BY id",
                       [project.pk])  # fmt: skip
        ids = [row[0] for row in cursor.fetchall()]
        sql = ("COPY annotation_annotation (item_id, annotator_id, value, presentation, "
               "seconds_spent, submission_key, version, created_at, updated_at) "
               "FROM STDIN (FORMAT BINARY)")  # fmt: skip
        with raw.copy(sql) as copy:
            copy.set_types(["int8", "int4", "jsonb", "jsonb", "float8", "varchar", "int4",
                            "timestamptz", "timestamptz"])  # fmt: skip
            for n, item_id in enumerate(ids):
                truth = LABELS[n % len(LABELS)]
                when = now - timedelta(days=56 * (1 - n / len(ids)))
                for coder, skill in zip(coders, SKILLS, strict=True):
                    label = truth if rng.random() < skill else rng.choice(LABELS)
                    copy.write_row((item_id, coder.pk, {"label": label}, {},
                                    rng.uniform(2, 40), "", 1, when, when))  # fmt: skip
    items_recount(project=project)
    return project


def run_job(project, lead) -> dict:
    """Runs the agreement job in this process; returns its counts and phase times."""
    from adjudication import jobs, report, services
    from curation.jobs import job_run_claim, job_run_perform, job_run_start

    phases = {}

    def timed(name, func):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    jobs.reviews_sync = timed("settle reviews", services.reviews_sync)
    report_function = report.agreement_report
    report.agreement_report = timed("compute figures", report_function)
    run = job_run_start(project=project, kind=jobs.KIND, user=lead)
    started = time.perf_counter()
    job_run_perform(run=job_run_claim(run_id=run.pk))
    total = time.perf_counter() - started
    run.refresh_from_db()
    report.agreement_report, jobs.reviews_sync = report_function, services.reviews_sync
    return {"status": run.status, "counts": run.counts, "total": total, **phases}


def serve(project, lead, path: str, requests: int) -> dict:
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(lead)
    client.get(path)  # warm: templates compiled, session read
    times, sizes = [], []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        sizes.append(len(response.content))
        assert response.status_code == 200, response.status_code
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *rest: queries.append(sql)
                                    or execute(sql, *rest)):  # fmt: skip
        client.get(path)
    times.sort()
    return {
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
        "max_ms": times[-1] * 1000,
        "queries": len(queries),
        "kb": sizes[-1] / 1024,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    _django()
    from django.db import connection

    started = time.perf_counter()
    project, lead = build(args.items)
    print(f"project {project.slug}: ready in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM annotation_annotation a JOIN curation_item i "
                       "ON i.id = a.item_id WHERE i.project_id = %s", [project.pk])  # fmt: skip
        print(f"annotations: {cursor.fetchone()[0]:,}")
    from adjudication.models import Review

    Review.objects.filter(project=project).delete()  # the job settles every item afresh
    job = run_job(project, lead)
    settle, figures = job.get("settle reviews", 0), job.get("compute figures", 0)
    print(f"agreement job: {job['status']} in {job['total']:.2f} s (settle reviews "
          f"{settle:.2f} s, compute figures {figures:.2f} s); counts {job['counts']}")  # fmt: skip
    from adjudication.models import AgreementSnapshot

    data = AgreementSnapshot.objects.get(project=project).data
    print(f"alpha {data['alpha']['value']:.3f}, 95% CI {data['alpha']['ci']}, "
          f"n {data['alpha']['n']:,}; fleiss {data['fleiss']['value']:.3f}")  # fmt: skip
    for name, path in (("dashboard page", f"/p/{project.slug}/agreement/"),
                       ("agreement API", f"/api/projects/{project.slug}/agreement/")):  # fmt: skip
        figures = serve(project, lead, path, args.requests)
        print(f"{name}: p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
              f"max {figures['max_ms']:.1f} ms, {figures['queries']} queries, "
              f"{figures['kb']:.0f} KiB over {args.requests} requests")  # fmt: skip


if __name__ == "__main__":
    main()
