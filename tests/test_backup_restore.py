"""The backup and restore procedure of docs/operations.md, done for real: pg_dump of a database
with annotations, decisions and a frozen version, pg_restore into a fresh database, and every
row is there, byte for byte."""

import shutil
import subprocess
import uuid

import psycopg
import pytest
from django.db import connection

from adjudication.models import Review
from annotation.models import Annotation
from curation.models import DatasetVersion, Item, VersionRecord
from tests.factories import ItemFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

TABLES = {
    Item: ("id", "external_id", "data::text", "split"),
    Annotation: ("id", "item_id", "annotator_id", "value::text", "submission_key"),
    VersionRecord: ("id", "version_id", "position", "record"),
}


def rows(conn, model, columns) -> list[tuple]:
    table = model._meta.db_table
    return conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()


def test_a_dump_restored_into_a_fresh_database_has_every_annotation(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("backups are pg_dump of PostgreSQL (DATABASE_URL)")
    if not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        pytest.skip("needs pg_dump and pg_restore")
    project = ProjectFactory()
    annotators = [UserFactory() for _ in range(3)]
    for item in ItemFactory.create_batch(40, project=project):
        for n, annotator in enumerate(annotators):
            Annotation.objects.create(item=item, annotator=annotator,
                                      value={"label": "a" if n else "b"},
                                      submission_key=uuid.uuid4().hex)  # fmt: skip
    version = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64)
    VersionRecord.objects.bulk_create(
        VersionRecord(version=version, position=i, item_id=item.pk, external_id=item.external_id,
                      split="train", record=f'{{"id": "{item.external_id}", "text": "é"}}')
        for i, item in enumerate(project.items.order_by("pk"))
    )  # fmt: skip

    db = connection.settings_dict
    where = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    dump = tmp_path / "concord.dump"
    subprocess.run(["pg_dump", *where, "-Fc", "-f", str(dump), db["NAME"]], check=True)
    fresh = f"{db['NAME']}_restored"
    subprocess.run(["dropdb", *where, "--if-exists", fresh], check=True)
    subprocess.run(["createdb", *where, fresh], check=True)
    try:
        subprocess.run(["pg_restore", *where, "--no-owner", "-d", fresh, str(dump)], check=True)
        conninfo = f"host={where[1]} port={where[3]} user={db['USER']}"
        with (
            psycopg.connect(f"{conninfo} dbname={db['NAME']}") as before,
            psycopg.connect(f"{conninfo} dbname={fresh}") as after,
        ):
            for model, columns in TABLES.items():
                original = rows(before, model, columns)
                assert original and rows(after, model, columns) == original, model.__name__
            assert rows(after, Annotation, ("id",)) == [(a,) for a in
                   Annotation.objects.order_by("pk").values_list("pk", flat=True)]  # fmt: skip
            assert Review.objects.count() == len(rows(after, Review, ("id",)))
    finally:
        subprocess.run(["dropdb", *where, "--if-exists", fresh], check=True)
