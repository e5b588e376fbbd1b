"""Inserting many rows at once: COPY on PostgreSQL, batched bulk_create elsewhere.

Django's bulk_create spends most of its time turning each value into SQL (about 150 µs a row with
JSON fields); COPY streams the rows as they are. For writes of tens of thousands of rows inside a
job: settled reviews and their events, later quality findings. Model defaults and `auto_now`
fields are not applied: the caller passes every column it needs, and gets no ids back.
"""

import gc
from collections.abc import Iterable
from contextlib import contextmanager

from django.db import connection, models
from psycopg.types.json import Jsonb


def bulk_insert(model: type[models.Model], fields: list[str], rows: Iterable[tuple]) -> int:
    """Inserts `rows` (tuples of values in the order of `fields`) into `model`'s table; returns
    how many. Runs in the caller's transaction."""
    meta = model._meta
    json_at = [i for i, name in enumerate(fields)
               if isinstance(meta.get_field(name), models.JSONField)]  # fmt: skip
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(_attnames(meta, fields), row, strict=True))) for row in rows]
        model.objects.bulk_create(objects, batch_size=1000)
        return len(objects)
    columns = ", ".join(connection.ops.quote_name(meta.get_field(f).column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
    count = 0
    # The raw psycopg cursor's errors are wrapped as Django's, as the ORM's are, so callers (and
    # the 503 for a lost connection) see one kind of database error.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            if json_at:
                row = list(row)
                for i in json_at:
                    row[i] = None if row[i] is None else Jsonb(row[i])
            copy.write_row(row)
            count += 1
    return count


def _attnames(meta, fields: list[str]) -> list[str]:
    return [meta.get_field(name).attname for name in fields]


@contextmanager
def gc_paused():
    """Pauses the cyclic garbage collector around bulk work in Python: the hundreds of thousands
    of new tuples, dicts and lists of a chunk set off collections that scan them again and
    again (measured: nearly half an export's throughput, 0.9 s of building 8,631 near-duplicate
    findings). Such rows hold no cycles, so nothing is left for the collector to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
