"""Load test: annotators labeling, reviewers deciding, a lead reloading the agreement dashboard
and an import of 200,000 items into the same project, all at once, against gunicorn on
127.0.0.1 with PostgreSQL, Redis and one Celery worker. A bounded run, not a saturation test.

    python benchmarks/load_test.py
    python benchmarks/load_test.py --database-url postgres://postgres@127.0.0.1:5432/concord_load \\
        --redis-url redis://127.0.0.1:6379/9 --items 20000 --iterations 40 --think 0.5 1.5

The database is the script's own (its name starts with concord_load): it is dropped, created and
migrated at each start. The project (slug `load`): N items by COPY, three annotators per item, a
single-choice schema, and `--seeded-reviews` items already labeled three different ways by three
other accounts, so reviewers have work from the first second (more appears as annotators
complete items). gunicorn (production settings and the image's worker model from
config/gunicorn.py: three gthread workers of four threads) and `celery worker --concurrency 1`
are started on the same database and a Redis database of their own, which is emptied first.

At the start signal: each annotator thread runs `--iterations` next -> submit cycles with a think
time before every call; reviewer threads take the next waiting review and decide it; the lead
reloads the dashboard page every few seconds and, `--import-after` seconds in, uploads a JSON
Lines file of `--import-items` items through the import API, then follows its job until done.
Prints per endpoint the count, client and server (gunicorn's access log) p50/p95/p99 and
statuses, the labeling calls made while the import ran, throughput, CPU by process group, and
the database checks. Exits 1 when a check fails or any request got an unexpected answer.
"""

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import labeling_bench as bench  # noqa: E402
from benchmarks._corpus import message  # noqa: E402
from benchmarks._load import (  # noqa: E402
    EXPECTED,
    LABELING,
    LABELS,
    Annotator,
    Dashboard,
    Importer,
    LogTail,
    Reviewer,
    Run,
    start_worker,
)
from config import gunicorn as gunicorn_config  # noqa: E402

OVERLAP = 3
IMPORT_SOURCE = "load-import"
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/concord_load"


# --- the project ------------------------------------------------------------------------------


def fresh_database(db: dict) -> None:
    """Drops and creates the benchmark's own database (its name must start with concord_load),
    so that every run starts from the same empty state."""
    import psycopg

    if not db["NAME"].startswith("concord_load"):
        sys.exit("--database-url must name a database of this script's own, concord_load...: "
                 "it is dropped and created again.")  # fmt: skip
    options = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **options) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{db["NAME"]}"')


def _users(prefix: str, n: int) -> list:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return [User.objects.get_or_create(username=f"load-{prefix}-{i:02d}")[0] for i in range(n)]


def build(args):
    """A fresh project; returns it with its people: {"annotators", "reviewers", "lead"}."""
    from django.db import connection, transaction

    from adjudication.services import reviews_sync
    from annotation.models import Annotation, LabelSchema
    from annotation.services import items_recount
    from curation.models import Membership, Role
    from curation.services import project_create

    started = time.perf_counter()
    people = {
        "annotators": _users("annotator", args.annotators),
        "reviewers": _users("reviewer", args.reviewers),
        "seeders": _users("seeder", OVERLAP),
        "lead": _users("lead", 1)[0],
    }
    rng, slug = random.Random(8), "load"
    with transaction.atomic():
        project = project_create(user=people["lead"], name=slug, slug=slug,
                                 annotators_per_item=OVERLAP)  # fmt: skip
        LabelSchema.objects.create(
            project=project, config={"labels": [{"value": v} for v in LABELS]}
        )
        roles = [(u, Role.ANNOTATOR) for u in people["annotators"] + people["seeders"]]
        roles += [(u, Role.REVIEWER) for u in people["reviewers"]]
        Membership.objects.bulk_create(
            [Membership(project=project, user=u, role=r) for u, r in roles]
        )
        with connection.cursor() as cursor:
            sql = ("COPY curation_item (project_id, external_id, data, metadata, content_hash, "
                   "split, source, priority, created_at) FROM STDIN")  # fmt: skip
            with cursor.cursor.copy(sql) as copy:
                for i in range(args.items):
                    m = message(rng, i)
                    copy.write_row((project.pk, m["id"], json.dumps({"text": m["text"]}),
                                    json.dumps(m["metadata"]), f"{i:064x}", "unassigned",
                                    m["source"], 0, "now"))  # fmt: skip
        # Items labeled three different ways: each one waits for a reviewer.
        seeded = project.items.order_by("pk").values_list("pk", flat=True)[: args.seeded_reviews]
        Annotation.objects.bulk_create(
            Annotation(item_id=item_id, annotator=user, value={"label": label}, seconds_spent=9)
            for item_id in seeded
            for user, label in zip(people["seeders"], rng.sample(LABELS, OVERLAP), strict=True)
        )
        items_recount(project=project)
    waiting = reviews_sync(project=project)["waiting"]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE curation_item, annotation_annotation, annotation_lease")
    print(f"project {slug}: {args.items:,} items, {waiting} waiting for review, built in "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    return project, people


def write_import_file(path: Path, first: int, n: int) -> None:
    """`n` items whose ids follow the project's own (msg-<first>...), source `load-import`."""
    import orjson

    rng = random.Random(first)
    with open(path, "wb") as fh:
        for i in range(first, first + n):
            fh.write(orjson.dumps({**message(rng, i), "source": IMPORT_SOURCE}) + b"\n")


def session_cookie(user) -> str:
    """A signed-in session for `user`, as the login page would make it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def token(user) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9",
                        help="a Redis database of its own: it is emptied first")  # fmt: skip
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--seeded-reviews", type=int, default=500)
    parser.add_argument("--import-items", type=int, default=200_000)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--reviewers", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=40, help="next -> submit, per annotator")
    parser.add_argument("--think", type=float, nargs=2, default=[0.5, 1.5], metavar=("MIN", "MAX"),
                        help="seconds before each call, uniform")  # fmt: skip
    parser.add_argument("--dashboard-every", type=float, default=3.0, help="seconds")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--worker-class", default=gunicorn_config.worker_class,
                        choices=["sync", "gthread"])  # fmt: skip
    parser.add_argument("--threads", type=int, default=gunicorn_config.threads,
                        help="threads per gthread worker")  # fmt: skip
    parser.add_argument("--import-after", type=float, default=5.0,
                        help="seconds after the start before the lead uploads")  # fmt: skip
    parser.add_argument("--import-timeout", type=float, default=900, help="seconds")
    args = parser.parse_args()
    args.loadavg_before = Path("/proc/loadavg").read_text().split()[:3]

    with tempfile.TemporaryDirectory(prefix="concord-load-") as tmp:
        tmp = Path(tmp)
        os.environ.update(DATABASE_URL=args.database_url, CELERY_BROKER_URL=args.redis_url,
                          MEDIA_ROOT=str(tmp / "media"), LOG_LEVEL="WARNING")  # fmt: skip
        bench._django()  # also fixes one SECRET_KEY for this process, gunicorn and the worker
        from django.core.management import call_command
        from django.db import connection

        fresh_database(connection.settings_dict)
        call_command("migrate", verbosity=0)
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        project, people = build(args)
        import_file = tmp / "import.jsonl"
        write_import_file(import_file, args.items, args.import_items)
        print(f"import file: {args.import_items:,} items, "
              f"{import_file.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        run = Run(args, project.slug, bench._free_port(),
                  args.annotators + args.reviewers + 2)  # fmt: skip
        lead = {"Authorization": f"Token {token(people['lead'])}"}
        annotators = [Annotator(run, {"Authorization": f"Token {token(u)}"})
                      for u in people["annotators"]]  # fmt: skip
        reviewers = [Reviewer(run, {"Authorization": f"Token {token(u)}"})
                     for u in people["reviewers"]]  # fmt: skip
        dashboard = Dashboard(run, {"Cookie": session_cookie(people["lead"])})
        importer = Importer(run, lead, import_file)
        log = tmp / "access.log"
        server = bench.start_server(run.port, args, log, tmp / "static")
        worker = start_worker(tmp / "worker.log")
        try:
            log.write_text("")  # forget the health checks
            tail = LogTail(log)
            tail.start()
            figures = measure(run, server, worker, annotators, reviewers, dashboard, importer)
        finally:
            server.terminate()
            os.killpg(worker.pid, signal.SIGTERM)
            server.wait(timeout=30)
            worker.wait(timeout=60)
            tail.stopping.set()
            tail.join()
        figures["server"] = tail.server_times()
        figures["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    sys.exit(report(args, project, figures, annotators, reviewers, dashboard, importer))


def measure(run, server, worker, annotators, reviewers, dashboard, importer) -> dict:
    """Starts everyone at once; returns the wall times and the CPU each group used."""
    people = [*annotators, *reviewers, dashboard, importer]
    for person in people:
        person.start()
    groups = {"gunicorn": bench._children(server.pid),
              "celery": [worker.pid, *bench._children(worker.pid)]}  # fmt: skip
    database = bench.DatabaseCpu()
    database.sample()
    before = {name: bench._cpu_seconds(pids) for name, pids in groups.items()}
    before |= {"PostgreSQL": database.total(), "clients": time.process_time(),
               "machine": bench._machine_busy_seconds()}  # fmt: skip
    database.start()
    run.barrier.wait()
    began = time.perf_counter()
    for person in annotators:
        person.join()
    labeling = time.perf_counter() - began
    importer.join()  # the import is followed to its end, however long it takes
    run.stop.set()
    for person in [*reviewers, dashboard]:
        person.join()
    seconds = time.perf_counter() - began
    cpu = {name: bench._cpu_seconds(pids) - before[name] for name, pids in groups.items()}
    cpu["PostgreSQL"] = database.stop() - before["PostgreSQL"]
    cpu["clients"] = time.process_time() - before["clients"]
    cpu["other programs"] = max(
        0.0, bench._machine_busy_seconds() - before["machine"] - sum(cpu.values())
    )
    return {"labeling": labeling, "seconds": seconds, "cpu": cpu}


# --- the report -------------------------------------------------------------------------------


def cuts(values: list[float]) -> str:
    if len(values) < 2:  # one value (the upload) stands alone
        return f"{values[0]:8.1f} {'':17}" if values else f"{'n/a':>26}"
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"{q[49]:8.1f} {q[94]:8.1f} {q[98]:8.1f}"


def _statuses(codes: list[int]) -> str:
    counted = {code: codes.count(code) for code in sorted(set(codes))}
    return " ".join(f"{code}:{n}" for code, n in counted.items())


def report(args, project, figures, annotators, reviewers, dashboard, importer) -> int:
    from curation.models import JobRun

    people = [*annotators, *reviewers, dashboard, importer]
    samples = [s for p in people for s in p.samples]
    server = figures["server"]
    job = JobRun.objects.filter(pk=(importer.job or {}).get("id")).first()
    window = (importer.upload_wall or 0, job.finished_at.timestamp() if job and job.finished_at
              else float("inf"))  # fmt: skip
    print(f"\ngunicorn: {args.workers} {args.worker_class} workers x {args.threads} threads; "
          "Celery: 1 worker, concurrency 1; "
          f"{args.annotators} annotators x {args.iterations} iterations, {args.reviewers} "
          f"reviewers, dashboard every {args.dashboard_every:g} s; think time uniform "
          f"{args.think[0]:g}-{args.think[1]:g} s before each call")  # fmt: skip
    print(f"load average before {' '.join(args.loadavg_before)}, "
          f"after {' '.join(figures['loadavg_after'])}")  # fmt: skip
    print(f"\n{'endpoint':<22}{'calls':>6}  {'client p50/p95/p99 ms':>26}  "
          f"{'server p50/p95/p99 ms':>26}  statuses")  # fmt: skip
    rows = [(kind, None) for kind in EXPECTED] + [(k, window) for k in LABELING]
    for kind, during in rows:
        inside = during or (0, float("inf"))
        mine = [s for s in samples if s[0] == kind and inside[0] <= s[1] <= inside[1]]
        theirs = [t for t in server[kind] if inside[0] <= t[0] <= inside[1] + 0.5]
        name = f"{kind} (import on)" if during else kind
        print(f"{name:<22}{len(mine):>6}  {cuts([s[2] for s in mine])}  "
              f"{cuts([t[1] for t in theirs])}  {_statuses([s[3] for s in mine])}")  # fmt: skip
    during = [s[2] for s in samples if s[0] in LABELING and window[0] <= s[1] <= window[1]]
    if len(during) > 1:
        p95 = statistics.quantiles(during, n=100, method="inclusive")[94]
        print(f"goal, labeling calls (next and submit) while the import runs, p95 under 100 ms: "
              f"{p95:.1f} ms at the client over {len(during)} calls, "
              f"{'met' if p95 < 100 else 'NOT MET'}")  # fmt: skip
    created = sum(status == 201 for a in annotators for status in a.keys.values())
    print(
        f"\nthroughput: {created / figures['labeling']:.1f} submits/s ({created} in "
        f"{figures['labeling']:.1f} s of labeling; whole run {figures['seconds']:.1f} s)"
    )
    if job and job.started_at and job.finished_at:
        took = (job.finished_at - job.started_at).total_seconds()
        queued = job.started_at.timestamp() - window[0]
        print(f"import: job {job.status}, {job.counts.get('items_created', 0):,} items in "
              f"{took:.1f} s ({args.import_items / took:,.0f} items/s), started {queued:.1f} s "
              f"after the upload began")  # fmt: skip
    cores = {name: s / figures["seconds"] for name, s in figures["cpu"].items()}
    print("CPU (cores, mean over the run): "
          + ", ".join(f"{name} {c:.2f}" for name, c in cores.items()))  # fmt: skip
    failures = [f for p in people for f in p.failures]
    print(f"errors: {len(failures)}" + "".join(f"\n  {f}" for f in failures[:10]))
    problems = checks(args, project, annotators, reviewers, job)
    print("violations: none" if not problems and not failures else "VIOLATIONS FOUND")
    return 1 if problems or failures else 0


def checks(args, project, annotators, reviewers, job) -> list[str]:
    """The database after the run; returns what is wrong."""
    from django.db import connection

    from adjudication.models import Review, ReviewStatus
    from annotation.models import Annotation

    print("\ndatabase checks:")
    found = bench.violations(project)
    answered = {key: status for a in annotators for key, status in a.keys.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT submission_key, count(*) FROM annotation_annotation "
            "WHERE submission_key = ANY(%s) GROUP BY 1",
            [list(answered)],
        )
        stored = dict(cursor.fetchall())
    found["submits answered 201 but not stored exactly once"] = sum(
        stored.get(key, 0) != 1 for key, status in answered.items() if status == 201
    )
    found["annotations stored without a 201"] = sum(
        n for key, n in stored.items() if answered[key] != 201
    )
    seeded = Annotation.objects.filter(item__project=project, submission_key="").count()
    created = sum(status == 201 for status in answered.values())
    total = Annotation.objects.filter(item__project=project).count()
    found["annotations beyond the seeded ones and the 201s"] = abs(total - seeded - created)
    decided = [item_id for r in reviewers for item_id in r.decided]
    stored_decisions = Review.objects.filter(project=project, status=ReviewStatus.DECIDED)
    found["decisions answered 200 but not stored"] = len(
        set(decided) - set(stored_decisions.values_list("item_id", flat=True))
    )
    found["decisions stored that were not answered 200"] = stored_decisions.count() - len(decided)
    imported = project.items.filter(source=IMPORT_SOURCE).count()
    found[f"imported items missing or extra (of {args.import_items:,})"] = abs(
        imported - args.import_items
    )
    found["import job not done"] = int(job is None or job.status != "done")
    for name, n in found.items():
        print(f"  {name}: {n}")
    print(f"  ({created} submits stored, {len(decided)} decisions, {imported:,} items imported, "
          f"{project.items.count():,} items in the project)")  # fmt: skip
    return [name for name, n in found.items() if n]


if __name__ == "__main__":
    main()
