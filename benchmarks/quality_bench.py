"""The quality jobs end to end: the near-duplicate job on one and on two Celery worker processes,
and the leakage job, on PostgreSQL, with recall and precision against planted pairs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord_qbench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/12 python benchmarks/quality_bench.py
    python benchmarks/quality_bench.py --part near --items 200000
    python benchmarks/quality_bench.py --part leakage --train 1000000 --test 100000

The database is created and migrated when missing. Texts are synthetic: 60 to 90 words drawn from
a Zipf vocabulary of 50,000 made-up words (as in benchmarks/dedup_bench.py). Projects are built
once with COPY (slugs bench-near-<N> and bench-leak-<train>-<test>) and reused.

- near: N items, one in eleven an edited copy of another item with an exact Jaccard (word
  3-grams) drawn from [0.6, 1.0). For 1 and 2 workers: the project's signatures, pairs, findings
  and chunks are cleared, that many `celery worker --pool prefork --concurrency 1` processes are
  started, the job is started with `quality_job_start` and waited for. Prints wall time from
  commit to done, items/s, items each worker signed (from the workers' logs: the sign tasks
  return a count, the worker that ran the job signed the rest), clusters, and recall and
  precision at Jaccard >= 0.8 (precision checked again on shingle strings).
- leakage: train and test items, the test split holding planted exact copies (case and spacing
  changed), 20-word passages of a train item inside a fresh text, and edited near-copies. The job
  runs in this process (no worker), with the time of each phase and the CPU time of this process
  and of its PostgreSQL backend; then once more, with nothing new to hash or sign.
"""

import argparse
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
WORDS = (60, 91)


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # shared with the workers
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database: this benchmark needs COPY.")
    _create_database(connection.settings_dict)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(db: dict) -> None:
    import psycopg

    options = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **options) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if found.fetchone() is None:
            admin.execute(f'CREATE DATABASE "{db["NAME"]}"')


# --- texts -------------------------------------------------------------------------------------


class Texts:
    """Fresh texts of 60 to 90 words from a Zipf vocabulary, and edited copies of them."""

    def __init__(self, seed: int):
        import numpy as np

        self.np_rng = np.random.default_rng(seed)
        self.rng = random.Random(seed)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        self.vocabulary = ["".join(self.np_rng.choice(letters, self.np_rng.integers(2, 11)))
                           for _ in range(50_000)]  # fmt: skip
        weights = 1 / np.arange(1, len(self.vocabulary) + 1) ** 1.05
        self.weights = weights / weights.sum()

    def fresh(self, count: int) -> list[str]:
        lengths = self.np_rng.integers(*WORDS, count)
        draws = self.np_rng.choice(len(self.vocabulary), int(lengths.sum()), p=self.weights)
        words = [self.vocabulary[i] for i in draws.tolist()]
        texts, start = [], 0
        for length in lengths.tolist():
            texts.append(" ".join(words[start : start + length]))
            start += length
        return texts

    def edited(self, text: str, target: float, params) -> tuple[str, float]:
        """A copy edited word by word until its exact Jaccard falls just under target."""
        from dedup_bench import _edited_to

        return _edited_to(text, target, params, self.rng, self.vocabulary)


def copy_items(project, rows) -> dict[str, int]:
    """COPYs (external_id, text, split, metadata) rows into the project; {external_id: id}."""
    import orjson
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.json import set_json_dumps

    now = timezone.now()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        set_json_dumps(orjson.dumps, context=raw)
        sql = ("COPY curation_item (project_id, external_id, data, metadata, content_hash, "
               "split, source, priority, created_at) FROM STDIN (FORMAT BINARY)")  # fmt: skip
        with raw.copy(sql) as copy:
            copy.set_types(["int8", "varchar", "jsonb", "jsonb", "varchar", "varchar",
                            "varchar", "int4", "timestamptz"])  # fmt: skip
            for n, (external_id, text, split, metadata) in enumerate(rows):
                copy.write_row((project.pk, external_id, {"text": text}, metadata,
                                f"{n:064x}", split, "bench", 0, now))  # fmt: skip
        cursor.execute("SELECT external_id, id FROM curation_item WHERE project_id = %s",
                       [project.pk])  # fmt: skip
        ids = dict(cursor.fetchall())
        cursor.execute("VACUUM ANALYZE curation_item")
    return ids


def new_project(slug: str):
    from django.contrib.auth import get_user_model

    from curation.models import Project
    from curation.services import project_create

    lead, _ = get_user_model().objects.get_or_create(username="bench-quality-lead")
    Project.objects.filter(slug=slug).delete()
    return project_create(user=lead, name=slug, slug=slug)


def existing(slug: str):
    from curation.models import Project

    return Project.objects.filter(slug=slug, items__isnull=False).distinct().first()


# --- near-duplicates on Celery workers ---------------------------------------------------------


def build_near(n_items: int):
    """N items, every eleventh an edited copy of an earlier one (metadata names its original)."""
    from curation.quality import dedup

    slug = f"bench-near-{n_items}"
    if (project := existing(slug)) is not None:
        return project
    started = time.perf_counter()
    params, texts = dedup.DedupParams(), Texts(seed=11)
    copies = n_items // 11
    base = texts.fresh(n_items - copies)
    rows = [(f"n-{i:07d}", text, "unassigned", {}) for i, text in enumerate(base)]
    for k, original in enumerate(random.Random(12).sample(range(len(base)), copies)):
        copy, exact = texts.edited(base[original], texts.rng.uniform(0.6, 1.0), params)
        rows.append((f"c-{k:07d}", copy, "unassigned", {"copy_of": f"n-{original:07d}",
                                                        "jaccard": exact}))  # fmt: skip
    project = new_project(slug)
    copy_items(project, rows)
    print(f"built {slug} in {time.perf_counter() - started:.0f} s")
    return project


def _worker_env() -> dict:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}


def start_workers(count: int, logs: Path) -> list:
    workers = []
    for n in range(1, count + 1):
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
                   "--concurrency", "1", "--loglevel", "info", "--hostname", f"qbench{n}@%h",
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
        log = open(logs / f"worker{n}.log", "w")  # noqa: SIM115 (closed in stop_workers)
        process = subprocess.Popen(command, cwd=ROOT, env=_worker_env(), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        workers.append((process, log, logs / f"worker{n}.log"))
    deadline = time.monotonic() + 60
    while not all(" ready." in path.read_text() for _, _, path in workers):
        if time.monotonic() > deadline:
            sys.exit("the workers did not start in 60 s; see their logs in " + str(logs))
        time.sleep(0.2)
    return workers


def stop_workers(workers: list) -> None:
    for process, _, _ in workers:
        os.killpg(process.pid, signal.SIGTERM)
    for process, log, _ in workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def signed_per_worker(workers: list, total: int) -> list[int]:
    """Items each worker signed: its sign tasks' results; the one that ran the job, the rest."""
    done = re.compile(r"quality_sign_chunks\[[^\]]+\] succeeded in [\d.e-]+s: (\d+)")
    shares, runner = [], None
    for n, (_, _, path) in enumerate(workers):
        text = path.read_text()
        shares.append(sum(int(found) for found in done.findall(text)))
        if "job_run_execute[" in text:
            runner = n
    if runner is not None:
        shares[runner] += total - sum(shares)
    return shares


def clear_near(project) -> None:
    from django.db import connection

    from curation.models import DuplicatePair, Finding, JobChunk, SignatureBlock

    SignatureBlock.objects.filter(project=project).delete()
    DuplicatePair.objects.filter(project=project).delete()
    Finding.objects.filter(project=project).delete()
    JobChunk.objects.filter(run__project=project).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE curation_signatureblock, curation_duplicatepair, "
                       "curation_finding, curation_jobchunk")  # fmt: skip


def run_near(project, workers: int) -> dict:
    from django.db import transaction

    from config.celery import app
    from curation.models import JobStatus
    from curation.quality.registry import quality_job_start

    clear_near(project)
    app.control.purge()  # sign tasks of an earlier run left unacknowledged
    with tempfile.TemporaryDirectory() as logs:
        started_workers = start_workers(workers, Path(logs))
        try:
            with transaction.atomic():
                run = quality_job_start(project=project, kind="near_duplicates")
            started = time.perf_counter()
            while (run.refresh_from_db(), run.is_active)[1]:
                time.sleep(0.1)
            wall = time.perf_counter() - started
        finally:
            time.sleep(1)  # the no-op sign tasks still queued finish and log their result
            stop_workers(started_workers)
            shares = signed_per_worker(started_workers, run.counts.get("signed", 0))
    if run.status != JobStatus.DONE:
        sys.exit(f"the run ended {run.status}: {run.message}")
    return {"wall": wall, "run": run, "shares": shares}


def near_score(project) -> dict:
    """Recall of the planted pairs at exact Jaccard >= 0.8, precision of the reported pairs."""
    from dedup_bench import shingle_strings

    from curation.models import DuplicatePair, Item
    from curation.quality import dedup

    params = dedup.DedupParams()
    external = dict(Item.objects.filter(project=project).values_list("external_id", "pk"))
    planted = Item.objects.filter(project=project, metadata__has_key="copy_of")
    positives = {tuple(sorted((external[meta["copy_of"]], pk)))
                 for pk, meta in planted.values_list("pk", "metadata")
                 if meta["jaccard"] >= params.threshold}  # fmt: skip
    reported = set(DuplicatePair.objects.filter(project=project, jaccard__gte=params.threshold)
                   .values_list("first_id", "second_id"))  # fmt: skip
    ids = {i for pair in reported for i in pair}
    texts = dict(Item.objects.filter(pk__in=ids).values_list("pk", "data__text"))
    sets = {pk: shingle_strings(text, params) for pk, text in texts.items()}
    wrong = sum(dedup.jaccard(sets[a], sets[b]) < params.threshold for a, b in reported)
    return {"positives": len(positives), "hits": len(positives & reported),
            "reported": len(reported), "wrong": wrong,
            "unplanted": len(reported - positives)}  # fmt: skip


def part_near(args) -> None:
    project = build_near(args.items)
    print(f"\n== Near-duplicates: {args.items:,} items (project {project.slug}), "
          "workers with --pool prefork --concurrency 1")  # fmt: skip
    for workers in (1, 2):
        result = run_near(project, workers)
        run, wall = result["run"], result["wall"]
        counts = run.counts
        queued = (run.started_at - run.created_at).total_seconds()
        inside = (run.finished_at - run.started_at).total_seconds()
        print(f"{workers} worker process{'es' if workers > 1 else ''}: {wall:.1f} s from commit "
              f"to done ({queued:.1f} s queued, {inside:.1f} s running), "
              f"{args.items / wall:,.0f} items/s, {args.items / wall / workers:,.0f} per worker; "
              f"signed per worker {', '.join(f'{n:,}' for n in result['shares'])}")  # fmt: skip
        print(f"  {counts.get('candidates', 0):,} candidates, {counts.get('verified', 0):,} "
              f"verified pairs, {counts.get('clusters', 0):,} clusters")  # fmt: skip
    score = near_score(project)
    print(f"recall at J >= 0.8: {score['hits'] / max(1, score['positives']):.5f} "
          f"({score['hits']:,} of {score['positives']:,} planted pairs); precision "
          f"{1 - score['wrong'] / max(1, score['reported']):.5f} ({score['wrong']} of "
          f"{score['reported']:,} reported pairs under 0.8 on shingle strings; "
          f"{score['unplanted']} reported pairs not planted)")  # fmt: skip


# --- leakage, in this process ------------------------------------------------------------------

PLANTS = ("exact", "passage", "near")


def _leak_rows(n_train: int, n_test: int):
    from curation.quality import dedup

    params, texts = dedup.DedupParams(), Texts(seed=21)
    train = texts.fresh(n_train)
    yield from ((f"tr-{i:07d}", text, "train", {}) for i, text in enumerate(train))
    per_kind = n_test // 20
    fresh = texts.fresh(n_test)
    twins = random.Random(22).sample(range(n_train), per_kind * len(PLANTS))
    for i, text in enumerate(fresh):
        kind = PLANTS[i // per_kind] if i < per_kind * len(PLANTS) else None
        meta = {} if kind is None else {"plant": kind, "twin": f"tr-{twins[i]:07d}"}
        original = train[twins[i]] if kind else ""
        if kind == "exact":  # the same text up to case, spacing and a trailing full stop
            text = "  " + original.upper().replace(" ", "  ", 3) + "."
        elif kind == "passage":  # 20 words of a train text in a fresh one
            words, start = original.split(), texts.rng.randrange(30)
            half = len(text.split()) // 2
            text = " ".join([*text.split()[:half], *words[start : start + 20],
                             *text.split()[half:]])  # fmt: skip
        elif kind == "near":
            text, meta["jaccard"] = texts.edited(original, texts.rng.uniform(0.8, 0.95), params)
        yield (f"te-{i:07d}", text, "test", meta)


def build_leak(n_train: int, n_test: int):
    slug = f"bench-leak-{n_train}-{n_test}"
    if (project := existing(slug)) is not None:
        return project
    started = time.perf_counter()
    project = new_project(slug)
    copy_items(project, _leak_rows(n_train, n_test))
    print(f"built {slug} in {time.perf_counter() - started:.0f} s")
    return project


def clear_leak(project) -> None:
    from django.db import connection

    from curation.models import Finding, ItemHash, SignatureBlock, TextHashBlock

    with connection.cursor() as cursor:  # DELETE of tens of millions of rows would take minutes
        for model in (ItemHash, SignatureBlock, TextHashBlock):
            cursor.execute(f"SELECT 1 FROM {model._meta.db_table} WHERE project_id <> %s LIMIT 1",
                           [project.pk])  # fmt: skip
            if cursor.fetchone() is None:
                cursor.execute(f"TRUNCATE {model._meta.db_table}")
            else:
                model.objects.filter(project=project).delete()
    Finding.objects.filter(project=project).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE curation_itemhash, curation_signatureblock, "
                       "curation_texthashblock")  # fmt: skip


def _timed(phases: dict, name: str, func):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - started

    return wrapper


def run_leak(project) -> dict:
    """Runs the leakage job here, each phase timed by wrapping the function that does it, with
    the CPU time of this process and of its PostgreSQL backend."""
    from curation import jobs as job_runs
    from curation.models import JobRun
    from curation.quality import jobs, leakage, near_duplicates, text_hashes
    from curation.quality.registry import quality_params

    phases: dict[str, float] = {}
    patches = [
        (leakage, "window_hashes", "hash n-grams (numpy)"),
        (leakage, "exact_hash", "hash exact text (Python)"),
        (text_hashes, "_insert_block", "hash and COPY blocks"),
        (text_hashes, "text_hashes_sync", "hashing phase, whole"),
        (near_duplicates, "sign_items", "MinHash signing (in near_leaks)"),
        (jobs, "near_leaks", "near-copies phase, whole"),
        (text_hashes, "Corpus", "join: read the blocks twice"),
        (jobs, "_leaks", "join: pairs (exact, 13-grams)"),
        (jobs, "_leak_drafts", "finding drafts (matched n-grams, coverage)"),
        (jobs, "findings_replace", "store findings"),
    ]  # fmt: skip
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, label in patches:
        setattr(module, name, _timed(phases, label, getattr(module, name)))
    try:
        # Created directly, not with quality_job_start: that would send it to the broker too.
        run = JobRun.objects.create(project=project, kind=jobs.LEAKAGE,
                                    params=quality_params(jobs.LEAKAGE, None))  # fmt: skip
        server = backend_cpu()
        started, cpu = time.perf_counter(), time.process_time()
        job_runs.job_run_perform(run=job_runs.job_run_claim(run_id=run.pk))
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        server = backend_cpu() - server
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    run.refresh_from_db()
    return {"run": run, "total": total, "phases": phases, "cpu": cpu, "server": server}


def backend_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (the server runs on this
    machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def leak_score(project) -> dict:
    """{plant kind: (planted, found with the right twin)}, and findings on unplanted items."""
    from curation.models import Finding, FindingKind, Item

    external = dict(Item.objects.filter(project=project).values_list("external_id", "pk"))
    planted = {pk: (meta["plant"], external[meta["twin"]])
               for pk, meta in Item.objects.filter(project=project, metadata__has_key="plant")
               .values_list("pk", "metadata")}  # fmt: skip
    found = Finding.objects.filter(project=project, kind=FindingKind.LEAKAGE,
                                   detail__pair=["train", "test"])  # fmt: skip
    totals = {kind: [0, 0] for kind in PLANTS}
    for kind, _ in planted.values():
        totals[kind][0] += 1
    unplanted = 0
    for item_id, detail in found.values_list("item_id", "detail"):
        if item_id not in planted:
            unplanted += 1
            continue
        kind, twin = planted[item_id]
        twins = {*detail["exact"], *(n["item"] for n in detail["near"]),
                 *(n["item"] for n in detail["ngram"])}  # fmt: skip
        totals[kind][1] += twin in twins
    return {"totals": totals, "unplanted": unplanted, "findings": found.count()}


def part_leakage(args) -> None:
    from curation.models import TextHashBlock

    started = time.perf_counter()
    project = build_leak(args.train, args.test)
    print(f"\n== Leakage: {args.train:,} train vs {args.test:,} test (project {project.slug}, "
          f"ready in {time.perf_counter() - started:.0f} s), the job in this process")  # fmt: skip
    clear_leak(project)
    result = run_leak(project)
    run, total = result["run"], result["total"]
    blocks = TextHashBlock.objects.filter(project=project)
    print(f"leakage job: {run.status} in {total:.1f} s (CPU: {result['cpu']:.1f} s here, "
          f"{result['server']:.1f} s in its PostgreSQL backend); {blocks.count()} hash blocks; "
          f"counts {run.counts}")  # fmt: skip
    for name, seconds in result["phases"].items():
        print(f"  {name:<44} {seconds:7.1f} s")
    score = leak_score(project)
    for kind, (planted, found) in score["totals"].items():
        print(f"  planted {kind:<8} {planted:>6,}, found with the right twin {found:>6,}")
    print(f"  {score['findings']:,} train-vs-test findings, {score['unplanted']} on items "
          "nothing was planted in")  # fmt: skip
    rerun = run_leak(project)
    print(f"second run (nothing new to hash or sign): {rerun['total']:.1f} s, "
          f"counts {rerun['run'].counts}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "near", "leakage"], default="all")
    parser.add_argument("--items", type=int, default=200_000, help="near-duplicate project")
    parser.add_argument("--train", type=int, default=200_000)
    parser.add_argument("--test", type=int, default=20_000)
    args = parser.parse_args()
    if args.part in ("all", "near") and not os.environ.get("CELERY_BROKER_URL"):
        sys.exit("Set CELERY_BROKER_URL (Redis): the near-duplicate part starts Celery workers.")
    _django()
    print(f"command: python benchmarks/quality_bench.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"cores {os.cpu_count()}, load average at start {os.getloadavg()[0]:.2f}")
    if args.part in ("all", "near"):
        part_near(args)
    if args.part in ("all", "leakage"):
        part_leakage(args)


if __name__ == "__main__":
    main()
