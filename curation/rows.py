"""Model instances built from raw rows, for the few reads on every request (the API token, the
project or item a member reaches) where compiling the ORM query costs more than running it.

`columns(model, alias)` lists a model's columns for a SELECT, and `instance(model, values)`
turns the matching slice of a row into an instance as the ORM would (JSON decoded, marked as
loaded from the database). The SQL that uses them is written by hand, with parameters only,
and runs through `cursor()`.
"""

from django.db import DEFAULT_DB_ALIAS, connection, connections

try:  # the PostgreSQL driver; absent where only SQLite runs
    from psycopg import Cursor as _ServerCursor
except ImportError:  # pragma: no cover - every test environment has it
    _ServerCursor = None

BIGINT_MAX = 2**63 - 1


def _fields(model, only) -> list:
    fields = model._meta.concrete_fields
    return list(fields) if only is None else [f for f in fields if f.attname in only]


def columns(model, alias: str, only=None) -> str:
    """The model's columns, or those of the attributes named in `only`, in the model's order."""
    return ", ".join(f"{alias}.{field.column}" for field in _fields(model, only))


def width(model, only=None) -> int:
    return len(_layout(model, only)[0])


def instance(model, values, only=None):
    """An instance of `model` from its columns' raw values, in `columns` order, converted as the
    ORM converts them (the backend's converters, e.g. SQLite's datetimes, then the field's).
    With `only`, the other fields are deferred, as with QuerySet.only()."""
    real = connections[DEFAULT_DB_ALIAS]  # the `connection` proxy costs a lookup per use
    converters, names = _layout(model, only)
    converted = []
    for (column, convert_all), value in zip(converters, values, strict=True):
        for convert in convert_all:
            value = convert(value, column, real)
        converted.append(value)
    return model.from_db(real.alias, names, converted)


def _layout(model, only=None) -> tuple[list, set | None]:
    """Per field read, its column and converters; and the attribute names for from_db (None:
    all of them). Worked out once per model, field list and database."""
    key = (model, connection.vendor, None if only is None else frozenset(only))
    if key not in _LAYOUTS:
        found = []
        fields = _fields(model, only)
        for field in fields:
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column)
            found.append((column, converters + column.get_db_converters(connection)))
        _LAYOUTS[key] = (found, None if only is None else {f.attname for f in fields})
    return _LAYOUTS[key]


_LAYOUTS: dict = {}


def cursor():
    """A cursor for the written-out statements of the hot path (the API token, the project or
    item a member reaches, next item, submit).

    On PostgreSQL it binds parameters on the server instead of spelling them into the SQL, so
    psycopg prepares each statement once per connection and PostgreSQL plans it once: planning
    was half of the database's time for a next + submit pair. Django's own queries keep their
    client-side cursors. With `DB_PREPARED_STATEMENTS=false` (for a pooler in transaction mode)
    statements are still bound on the server, just not prepared. Elsewhere it is the usual
    cursor."""
    real = connections[DEFAULT_DB_ALIAS]  # the `connection` proxy costs a lookup per use
    if real.vendor != "postgresql":
        return real.cursor()
    real.close_if_health_check_failed()
    real.ensure_connection()
    with real.wrap_database_errors:
        return real._prepare_cursor(_ServerCursor(real.connection))
