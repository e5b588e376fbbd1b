"""LOG_FORMAT=json: one JSON object per line with the fields an operator needs, and nothing a
request or a job's data could put there: no query string, body, cookie, header or item text
(issue 8, item 5; LOG-2)."""

import json
import logging
import sys

from django.test import RequestFactory

from config.logs import JsonFormatter
from tests.test_settings import PRODUCTION, run, settings_values

SECRET_COOKIE = "sessionid-marker-4471"
SECRET_HEADER = "Token 0123456789abcdef0123456789abcdef4471cafe"
ITEM_TEXT = "Item-text-marker-9034"


def formatted(message="hello %s", args=("world",), **extra) -> dict:
    record = logging.LogRecord("concord.test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    line = JsonFormatter().format(record)
    assert "\n" not in line  # one object per line
    return json.loads(line)


def test_a_record_is_one_json_object_with_time_level_logger_and_message():
    entry = formatted()
    assert entry.pop("time").endswith("+00:00")
    assert entry == {"level": "WARNING", "logger": "concord.test", "message": "hello world"}


def test_a_request_gives_its_method_path_and_status_and_nothing_else_of_it():
    request = RequestFactory().post(
        f"/p/demo/label/?q={ITEM_TEXT}",
        {"text": ITEM_TEXT, "password": "hunter2-marker"},
        HTTP_COOKIE=f"sessionid={SECRET_COOKIE}",
        HTTP_AUTHORIZATION=SECRET_HEADER,
    )
    entry = formatted("Conflict: %s", (request.path,), request=request, status_code=409)
    assert {k: entry[k] for k in ("method", "path", "status")} == {
        "method": "POST", "path": "/p/demo/label/", "status": 409
    }  # fmt: skip
    line = json.dumps(entry)
    for secret in (ITEM_TEXT, "hunter2-marker", SECRET_COOKIE, SECRET_HEADER):
        assert secret not in line


def test_a_job_record_carries_its_kind_and_id():
    entry = formatted("job %s #%s failed", ("import", 42), job_kind="import", job_id=42)
    assert (entry["job_kind"], entry["job_id"]) == ("import", 42)


def test_other_extra_attributes_are_left_out():
    """A caller's `extra=` holding data (an item, a row) never reaches the line."""
    entry = formatted(item={"text": ITEM_TEXT}, row=ITEM_TEXT)
    assert ITEM_TEXT not in json.dumps(entry)


def test_an_exception_keeps_its_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: boom" in entry["exception"]


def test_production_logs_json_and_development_plain(tmp_path):
    prod = settings_values(PRODUCTION, tmp_path, "LOG_FORMAT")
    dev = settings_values({"DEBUG": "true"}, tmp_path, "LOG_FORMAT")
    assert (prod, dev) == ({"LOG_FORMAT": "json"}, {"LOG_FORMAT": "plain"})


def test_the_startup_line_of_a_json_configured_process_parses(tmp_path):
    """LOG_FORMAT=json chosen in development too: the startup message arrives as JSON."""
    result = run(["manage.py", "check"], {"DEBUG": "true", "LOG_FORMAT": "json"}, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any("jobs run in-process" in line["message"] for line in lines)


def test_an_unknown_log_format_is_refused(tmp_path):
    result = run(["manage.py", "check"], {"DEBUG": "true", "LOG_FORMAT": "xml"}, tmp_path)
    assert result.returncode != 0 and "LOG_FORMAT" in result.stderr
