"""Writing item rows in bulk: PostgreSQL `COPY` straight into the item table, or batched
`bulk_create` elsewhere. Both run inside the import's transaction and return the ids of the
rows that need them (rows carrying annotations)."""

import orjson
from django.db import connection
from django.utils import timezone

from curation.importing.rows import ItemRow
from curation.models import Item

_COLUMNS = ("project_id", "external_id", "data", "metadata", "content_hash", "split", "source",
            "priority", "prediction", "created_at")  # fmt: skip


def _json(value) -> str:
    return orjson.dumps(value).decode()


class CopyWriter:
    """PostgreSQL: one COPY per chunk, in text format with the JSON already serialised."""

    def __init__(self, project_id: int):
        self.project_id = project_id
        self.now = timezone.now()
        table = connection.ops.quote_name(Item._meta.db_table)
        self.copy_sql = f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN"
        self.ids_sql = (
            f"SELECT external_id, id FROM {table} WHERE project_id = %s AND external_id = ANY(%s)"
        )

    def write(self, rows: list[ItemRow], want_ids: list[str]) -> dict[str, int]:
        project_id, now = self.project_id, self.now
        with connection.cursor() as cursor:
            with cursor.cursor.copy(self.copy_sql) as copy:
                for r in rows:
                    prediction = _json(r.prediction) if r.prediction is not None else None
                    row = (project_id, r.external_id, _json(r.data), _json(r.metadata),
                           r.content_hash, r.split, r.source, 0, prediction, now)  # fmt: skip
                    copy.write_row(row)
            if not want_ids:
                return {}
            cursor.execute(self.ids_sql, [project_id, want_ids])
            return dict(cursor.fetchall())


class BulkCreateWriter:
    """Any other database: batched bulk_create, which returns primary keys on SQLite."""

    def __init__(self, project_id: int):
        self.project_id = project_id

    def write(self, rows: list[ItemRow], want_ids: list[str]) -> dict[str, int]:
        items = Item.objects.bulk_create(
            [
                Item(
                    project_id=self.project_id,
                    external_id=r.external_id,
                    data=r.data,
                    metadata=r.metadata,
                    content_hash=r.content_hash,
                    split=r.split,
                    source=r.source,
                    prediction=r.prediction,
                )  # fmt: skip
                for r in rows
            ],
            batch_size=500,
        )
        wanted = set(want_ids)
        return {item.external_id: item.pk for item in items if item.external_id in wanted}


def writer_for(project_id: int):
    return (
        CopyWriter(project_id)
        if connection.vendor == "postgresql"
        else BulkCreateWriter(project_id)
    )
