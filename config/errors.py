"""The 500 handler: a lost database connection is answered 503 with Retry-After, anything else
with the generic error page. Neither shows internals (AUTH-10)."""

import logging
import sys

import psycopg
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger("concord.requests")

RETRY_AFTER_SECONDS = 5


def server_error(request):
    """handler500. Django calls it inside its exception handler, so sys.exc_info() holds the
    error. When the database went away under the request (a restart, a dropped connection), the
    request's transaction was rolled back and the client may send it again as it was (a
    submission carries an idempotency key): 503 says so."""
    error = sys.exc_info()[1]
    # psycopg's own errors too, should a raw cursor's escape Django's wrapping.
    lost = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
    if isinstance(error, lost):
        logger.warning("database unavailable during %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"detail": "The database is unavailable for a moment; nothing was saved. "
                           "Try again."}, status=503)  # fmt: skip
        else:
            response = HttpResponse(render_to_string("503.html"), status=503)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(render_to_string("500.html"))
