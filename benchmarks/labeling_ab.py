"""Two checkouts of Concord, compared on the labeling calls' CPU, taking turns so that the
machine's changes of speed fall on both alike.

    git worktree add /tmp/concord-before <commit>
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord \
        python benchmarks/labeling_ab.py /tmp/concord-before .
    python benchmarks/labeling_ab.py A B --rounds 20 --pairs 50 --annotators 41 42
    python benchmarks/labeling_ab.py . . --databases postgres://.../one postgres://.../two

On a shared or virtual machine the speed of the same code moves by a third within minutes, so
two runs of labeling_inprocess.py one after the other cannot tell a change of a few percent.
Here one process per checkout (each importing its own code, run from its own folder) makes
next + submit pairs through Django's WSGI handler, as labeling_inprocess.py does, with an
annotator of its own; they take turns, `--pairs` at a time, for `--rounds` rounds, the order
alternating. Prints each checkout's CPU a pair: its Python process and its PostgreSQL backend.
The project is labeling_bench.py's; each run adds its pairs' annotations to it.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def pair_maker(caller, slug: str, labels: list[str], seed: int):
    """A function making one next + submit pair through `caller` (labeling_inprocess.Caller),
    exiting with the answer when either call fails."""
    rng = random.Random(seed)

    def pair() -> None:
        status, body = caller.post(f"/api/projects/{slug}/next/", {})
        if status != 200:
            sys.exit(f"next answered {status}: {body[:300]!r}")
        item = json.loads(body)["item"]["id"]
        answer = {"value": {"label": rng.choice(labels)}, "seconds_spent": 3.0,
                  "submission_key": os.urandom(16).hex()}  # fmt: skip
        status, body = caller.post(f"/api/items/{item}/annotations/", answer)
        if status != 201:
            sys.exit(f"submit answered {status}: {body[:300]!r}")

    return pair


def worker(annotator: int) -> None:
    """One checkout's side (the current folder's code): pairs on request (a count on stdin),
    CPU seconds of the process and of its PostgreSQL backend on stdout."""
    root = Path.cwd()
    sys.path[:0] = [str(root), str(root / "benchmarks")]
    import labeling_bench
    import labeling_inprocess

    static = tempfile.TemporaryDirectory()  # none is served; an empty folder spares a warning
    os.environ.update(labeling_bench.PRODUCTION, STATIC_ROOT=static.name)
    labeling_bench._django()
    from django.contrib.auth import get_user_model
    from django.core.wsgi import get_wsgi_application
    from rest_framework.authtoken.models import Token

    import annotation
    from annotation.services import leases_release_member
    from curation.models import Project

    if not Path(annotation.__file__).resolve().is_relative_to(root.resolve()):
        sys.exit(f"{root}: imported {annotation.__file__} instead of its own code")
    slug = labeling_bench.build(100_000, 300_000)
    name = labeling_bench._annotator_names()[annotator]
    user = get_user_model().objects.get(username=name)
    leases_release_member(project=Project.objects.get(slug=slug), user=user)
    token = Token.objects.get_or_create(user=user)[0].key
    caller = labeling_inprocess.Caller(get_wsgi_application(), token)
    pair = pair_maker(caller, slug, labeling_bench.LABELS, seed=annotator)
    for _ in range(30):  # connections, prepared statements and caches warm
        pair()
    print("ready", flush=True)
    for line in sys.stdin:
        database, python = labeling_inprocess.backend_cpu_seconds(), time.process_time()
        for _ in range(int(line)):
            pair()
        python = time.process_time() - python
        print(python, labeling_inprocess.backend_cpu_seconds() - database, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs=2, type=Path, help="two folders of Concord's code")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=50, help="pairs a turn")
    parser.add_argument("--annotators", type=int, nargs=2, default=(41, 42),
                        help="one of the 60 per checkout (the benchmark's use 0-19)")  # fmt: skip
    parser.add_argument("--databases", nargs=2, metavar="URL",
                        help="a database per checkout (default: both DATABASE_URL), e.g. "
                             "to compare a schema change")  # fmt: skip
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return
    script = Path(__file__).resolve()
    databases = args.databases or [os.environ.get("DATABASE_URL", "")] * 2
    sides = {}
    for n, (folder, annotator, database) in enumerate(
        zip(args.checkouts, args.annotators, databases, strict=True), start=1
    ):
        name = f"{n}. {folder}" + (f" on {database}" if args.databases else "")
        sides[name] = subprocess.Popen(
            [sys.executable, str(script), *map(str, args.checkouts), "--worker", str(annotator)],
            cwd=folder.resolve(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                 "DATABASE_URL": database},
        )  # fmt: skip
    for side in sides.values():
        if side.stdout.readline().strip() != "ready":
            sys.exit("a checkout did not start: see its errors above")
    spent = {name: [0.0, 0.0] for name in sides}
    for turn in range(args.rounds):
        for name in sides if turn % 2 == 0 else reversed(sides):
            sides[name].stdin.write(f"{args.pairs}\n")
            sides[name].stdin.flush()
            python, database = map(float, sides[name].stdout.readline().split())
            spent[name][0] += python
            spent[name][1] += database
    pairs = args.rounds * args.pairs
    print(f"{pairs} pairs each, {args.pairs} a turn, CPU a pair:")
    for name, (python, database) in spent.items():
        python, database = python / pairs * 1000, database / pairs * 1000
        print(f"  {name}: Python {python:.2f} + PostgreSQL {database:.2f} = "
              f"{python + database:.2f} ms")  # fmt: skip
    for side in sides.values():
        side.stdin.close()
        side.wait()


if __name__ == "__main__":
    main()
