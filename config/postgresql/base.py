"""Django's PostgreSQL backend, with a health check that needs no round trip when it can tell.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` on a reused connection at the start of every
request, before the request's first query: a round trip to the server for each API call, an
eighth of those of a next + submit pair. A connection that sits idle between requests has
nothing to read unless the server wrote to it, and a server that ends a connection (a restart,
`pg_terminate_backend`, an idle timeout) writes its error and closes the socket first. So an
idle connection with nothing to read is taken as usable, and one that has something to read
is asked with `SELECT 1` as before (and closed and replaced when that fails). A connection
lost without a word (a cable pulled) is not detected by either way until the first query
fails, as before.
"""

import select

from django.db.backends.postgresql import base, operations
from psycopg import ClientCursor, errors


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        """Also for the hot path's statements bound on the server (`curation.rows.cursor`), which
        Django's own method, expecting client-side cursors only, gives as None: the SQL with its
        parameters spelled in, as DEBUG's query log and the tests' query captures show them."""
        found = super().last_executed_query(cursor, sql, params)
        if found is None and sql is not None and not isinstance(cursor, ClientCursor):
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:
                return None
        return found


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def is_usable(self):
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        try:
            readable, _, _ = select.select([raw.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()
