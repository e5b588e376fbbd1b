"""The process the import memory test measures: it imports one file through the import job, as
a worker does, and prints its resident memory before and at the peak, in kB, as JSON.

    python -m tests.faults.import_child PATH

It reads the database and MEDIA_ROOT from the environment the test gives it, with no broker, so
the job runs inline in this process. It counts the project's items itself, then deletes what it
made: these rows are committed, so the rollback at the end of the test would not undo them.
"""

import json
import os
import sys
import time


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc (VmRSS now, VmHWM the peak), in kB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def main(path: str) -> dict:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from curation.importing.files import import_start
    from curation.models import Item, JobRun, Project
    from curation.services import project_create

    name = f"import-memory-{os.getpid()}"
    user = get_user_model().objects.create(username=name)
    project = project_create(user=user, name=name, slug=name)
    try:
        baseline = _status_kb("VmRSS")  # Django, the apps and a database connection, loaded
        start = time.perf_counter()
        run = import_start(project=project, user=user, source=path, filename="big.jsonl",
                           options={})  # fmt: skip
        seconds = time.perf_counter() - start
        peak = _status_kb("VmHWM")
        run = JobRun.objects.get(pk=run.pk)
        stored = Item.objects.filter(project=project).count()
    finally:
        with connection.cursor() as cursor:  # raw: the ORM would load every item to cascade
            cursor.execute("DELETE FROM curation_item WHERE project_id = %s", [project.pk])
        Project.objects.filter(pk=project.pk).delete()
        user.delete()
    return {"status": run.status, "message": run.message, "rows": run.counts.get("rows"),
            "items": stored, "seconds": round(seconds, 2), "baseline_kb": baseline,
            "peak_kb": peak}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
