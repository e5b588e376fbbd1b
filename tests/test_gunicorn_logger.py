"""The access log's lines from config/gunicorn_logger.py are gunicorn's own, for every atom."""

import datetime

import pytest
from gunicorn import glogging
from gunicorn.config import Config
from hypothesis import given
from hypothesis import strategies as st

from config import gunicorn_logger

NAMED = ["{user-agent}i", "{X-Forwarded-For}i", "{x-missing}i", "{content-type}o",
         "{CONTENT-LENGTH}o", "{remote_addr}e", "{RAW_URI}e", "{nothing}e", "{broken}",
         "{x}z", "{x-dup}i"]  # fmt: skip
ATOMS = [*"hlutrsmUqHbBfaTDMLp", "Z", *NAMED]  # Z: no such atom


class Response:
    def __init__(self, status, sent, headers):
        self.status, self.sent, self.headers = status, sent, headers


class Request:
    def __init__(self, headers):
        self.headers = headers


def request(user_agent='curl "quoted"', authorization="Basic YW5uYTpzZWNyZXQ=", sent=1234,
            status="201 Created"):  # fmt: skip
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/api/items/7/annotations/?x=1",
               "PATH_INFO": "/api/items/7/annotations/", "QUERY_STRING": "x=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.9",
               "HTTP_USER_AGENT": user_agent, "HTTP_AUTHORIZATION": authorization}  # fmt: skip
    headers = [("USER-AGENT", user_agent), ("X-FORWARDED-FOR", "1.2.3.4"), ("X-DUP", "first"),
               ("X-DUP", "second")]  # fmt: skip
    response = Response(status, sent, [("Content-Type", "application/json"),
                                       ("Content-Length", str(sent))])  # fmt: skip
    return response, Request(headers), environ, datetime.timedelta(seconds=2, microseconds=3456)


NOW = "[28/Nov/2026:11:40:00 +0000]"


def both():
    """gunicorn's logger and ours, at the same time."""
    theirs, ours = glogging.Logger(Config()), gunicorn_logger.Logger(Config())
    theirs.now = ours.now = lambda: NOW
    return theirs, ours


@pytest.fixture(scope="module")
def loggers():
    return both()


def lines(loggers, fmt, call):
    theirs, ours = loggers
    own = fmt % theirs.atoms_wrapper_class(theirs.atoms(*call))
    return own, fmt % ours.atoms_wrapper_class(ours.atoms(*call))


@pytest.mark.parametrize(
    "fmt",
    [
        Config().access_log_format,  # gunicorn's default, which production uses
        "%(m)s %(U)s %(s)s %(D)s",  # the labeling benchmark's
        " ".join(f"%({atom})s" for atom in ATOMS),
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        request(),
        request(authorization="Token abc", sent=None, status=404),
        request(user_agent="", authorization="Basic !!not base64"),
    ],  # fmt: skip
)
def test_a_line_is_the_same_as_gunicorns(loggers, fmt, call):
    own, ours = lines(loggers, fmt, call)
    assert ours == own


@given(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=8), st.text(max_size=20))
def test_any_format_of_atoms_gives_gunicorns_line(atoms, agent):
    fmt = "|".join(f"%({atom})s" for atom in atoms)
    own, ours = lines(both(), fmt, request(user_agent=agent))
    assert ours == own


def test_the_config_uses_it():
    from config import gunicorn

    assert gunicorn.logger_class == "config.gunicorn_logger.Logger"
