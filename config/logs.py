"""Structured logs: one JSON object per line (LOG_FORMAT=json), for log collectors.

Only what an operator needs to follow a request or a job is written: the time, the level, the
logger, the message, and, where the record carries them, the request's method, path and status
and the job's kind and id. Never the request's query string, body, cookies or headers, and never
the record's other attributes, which may hold item text or a user's input (LOG-2).
"""

import json
import logging
from datetime import UTC, datetime

# Attributes a caller may pass with `extra=` that are copied as they are (numbers and short
# names, never data): the job framework's and Django's request loggers'.
_PASSED = {"job_kind": "job_kind", "job_id": "job_id", "status_code": "status"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON with a fixed set of keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None)
        method, path = getattr(request, "method", None), getattr(request, "path", None)
        if isinstance(method, str) and isinstance(path, str):
            # request.path has no query string: filters and searches may hold item text.
            entry["method"], entry["path"] = method, path
        for attribute, key in _PASSED.items():
            value = getattr(record, attribute, None)
            if isinstance(value, int | str) and not isinstance(value, bool):
                entry[key] = value if isinstance(value, int) else value[:100]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
