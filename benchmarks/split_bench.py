"""Split design speed: the pure assignment (curation.splitting) at --size items, and the
database part (reading the inputs, preview, apply) on a project of --db-size items.

    python benchmarks/split_bench.py --size 1000000 --db-size 0      # the algorithm only
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord python benchmarks/split_bench.py

The algorithm part draws five labels, a metadata key shared by about three items each, and
near-duplicate pairs joining 2% of the items; it times merging the groups and each method.
The database part builds a project (slug bench-split-<N>) with COPY, each item with a gold
label (its final label) and a customer key, then times a stratified preview and two applies
(the first writes every item, the second nothing). The leakage job that an apply starts is
not run here: benchmarks/quality_bench.py times it.
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curation import splitting  # noqa: E402

RATIOS = splitting.Ratios(0.8, 0.1, 0.1)


def timed(label: str, work):
    start = time.perf_counter()
    result = work()
    print(f"  {label:<34} {time.perf_counter() - start:7.2f} s")
    return result


def algorithm(n: int) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, n)
    keys = rng.integers(-1, n // 3, n)
    pairs = rng.integers(0, n, (n // 100, 2))
    times = rng.random(n)
    print(f"Algorithm, {n:,} items:")
    groups = timed(
        "merge groups (key + pairs)",
        lambda: splitting.merge_groups(n, keys=[keys], pairs=pairs),
    )
    inputs = {"labels": labels, "groups": groups, "times": times}
    for method in splitting.METHODS:
        result = timed(
            method,
            lambda m=method: splitting.assign(method=m, ratios=RATIOS, seed=1, **inputs),
        )
    print(f"  groups {result.groups:,}, largest {result.largest_group}, counts {result.counts}")


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def build(n: int):
    """The benchmark project, built with COPY unless it exists."""
    _django()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from curation.models import Project
    from curation.services import project_create

    slug = f"bench-split-{n}"
    project = Project.objects.filter(slug=slug).first()
    if project is not None and project.items.count() == n:
        return project
    lead, _ = get_user_model().objects.get_or_create(username="bench")
    with transaction.atomic():
        Project.objects.filter(slug=slug).delete()
        project = project_create(user=lead, name=slug, slug=slug)
        rows, now = io.StringIO(), "2025-01-01 00:00:00+00"
        for i in range(n):
            data, metadata = f'{{"text": "Item {i}"}}', f'{{"customer": "c{i // 3}"}}'
            gold = f'{{"label": "l{i % 5}"}}'
            rows.write(f"{project.pk}\tb-{i}\t{data}\t{metadata}\t{i:064x}\tunassigned\t\t0\t"
                       f"{gold}\t{now}\n")  # fmt: skip
        columns = ("project_id, external_id, data, metadata, content_hash, split, source, "
                   "priority, gold, created_at")  # fmt: skip
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY curation_item (" + columns + ") FROM STDIN") as copy,
        ):
            copy.write(rows.getvalue())
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE curation_item")
    return project


def database(n: int) -> None:
    project = timed(f"build a project of {n:,} items", lambda: build(n))
    from curation import splits

    splits.quality_job_start = lambda **kwargs: None  # the leakage job is quality_bench's
    plan = splits.split_plan(method="stratified", ratios={"train": 0.8, "dev": 0.1, "test": 0.1},
                             seed=3, group_key="customer")  # fmt: skip
    print(f"Database, {n:,} items:")
    project.items.update(split="unassigned")
    timed("read the inputs", lambda: splits.split_inputs(project=project, plan=plan))
    timed("preview", lambda: splits.split_preview(project=project, plan=plan))
    timed("apply (every item moves)", lambda: splits.split_apply(project=project, user=None,
                                                                  plan=plan))  # fmt: skip
    timed("apply again (nothing moves)", lambda: splits.split_apply(project=project, user=None,
                                                                     plan=plan))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--db-size", type=int, default=1_000_000, help="0 to skip")
    args = parser.parse_args()
    algorithm(args.size)
    if args.db_size:
        database(args.db_size)


if __name__ == "__main__":
    main()
