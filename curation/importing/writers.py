"""Writing item rows in bulk: PostgreSQL `COPY` straight into the item table, or batched
`bulk_create` elsewhere. Both run inside the import's transaction and return the ids of the
rows that need them (rows carrying annotations)."""

from contextlib import ExitStack

import orjson
from django.db import connection
from django.utils import timezone
from psycopg.adapt import Dumper
from psycopg.copy import QueuedLibpqWriter
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

from curation.importing.rows import ItemRow
from curation.models import Item

_COLUMNS = ("project_id", "external_id", "data", "metadata", "content_hash", "split", "source",
            "priority", "prediction", "created_at")  # fmt: skip


_TYPES = ("int8", "varchar", "jsonb", "jsonb", "varchar", "varchar", "varchar", "int4", "jsonb",
          "timestamptz")  # fmt: skip


class _JsonbDumper(Dumper):
    """jsonb in binary COPY: the format's version byte, then orjson's text. psycopg's own
    dumper makes the same call through two more Python layers, for three values a row."""

    format = Format.BINARY
    oid = pg_types["jsonb"].oid

    def dump(self, obj) -> bytes:
        return b"\x01" + orjson.dumps(obj)


class CopyWriter:
    """PostgreSQL: binary COPY with the JSON already serialised by orjson.

    One COPY stays open across chunks, and its queued writer sends data from a thread, so the
    server parses and indexes rows while Python prepares the next ones. It is closed only when
    ids are needed (rows carrying annotations) and at the end.
    """

    def __init__(self, project_id: int):
        self.project_id = project_id
        self.now = timezone.now()
        table = connection.ops.quote_name(Item._meta.db_table)
        self.copy_sql = f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        self.ids_sql = (  # the model's own table name; the values are parameters
            f"SELECT external_id, id FROM {table} WHERE project_id = %s AND external_id = ANY(%s)"  # noqa: S608
        )
        self._stack: ExitStack | None = None
        self._copy = None

    def _open(self):
        if self._copy is None:
            self._stack = ExitStack()
            raw = self._stack.enter_context(connection.cursor()).cursor
            # jsonb columns take the objects themselves, serialised by orjson.
            raw.adapters.register_dumper(dict, _JsonbDumper)
            self._copy = self._stack.enter_context(
                raw.copy(self.copy_sql, writer=QueuedLibpqWriter(raw))
            )
            self._copy.set_types(_TYPES)
        return self._copy

    def close(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._copy = self._stack, None, None
            with connection.wrap_database_errors:  # psycopg's errors as Django's
                stack.close()

    def write(self, rows: list[ItemRow], want_ids: list[str]) -> dict[str, int]:
        with connection.wrap_database_errors:  # psycopg's errors as Django's
            copy, project_id, now = self._open(), self.project_id, self.now
            for r in rows:
                copy.write_row((project_id, r.external_id, r.data, r.metadata, r.content_hash,
                                r.split, r.source, 0, r.prediction, now))  # fmt: skip
        if not want_ids:
            return {}
        self.close()
        with connection.cursor() as cursor:
            cursor.execute(self.ids_sql, [project_id, want_ids])
            return dict(cursor.fetchall())


class BulkCreateWriter:
    """Any other database: batched bulk_create, which returns primary keys on SQLite."""

    def __init__(self, project_id: int):
        self.project_id = project_id

    def close(self) -> None:
        pass

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
