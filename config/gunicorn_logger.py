"""gunicorn's logger with an access log that works out only what its format uses.

For each request gunicorn's own logger builds every atom an access log format could name: some
twenty fixed ones (the time formatted among them), one per request header, one per response
header and one per WSGI environ variable (some forty), then copies them all to escape quotes,
and the format reads nine. On a bare WSGI app under the labeling benchmark's clients the access
log was a fifth of gunicorn's CPU per request. Here each atom is worked out when the format asks
for it, by the same rules, so a line is the same as gunicorn's own (tests/test_gunicorn_logger.py
compares them).
"""

import os

from gunicorn import glogging


class _Atoms(dict):
    """The atoms of one request, each made on first use: a mapping for `format % atoms`, as
    gunicorn's SafeAtoms is (quotes escaped in text, '-' for what is missing, header and
    environ names in any case). Holds one entry so that logging takes it as the arguments."""

    __slots__ = ("logger", "resp", "req", "environ", "request_time")

    def __init__(self, logger, resp, req, environ, request_time):
        super().__init__(_=None)
        self.logger, self.resp, self.req = logger, resp, req
        self.environ, self.request_time = environ, request_time

    def __getitem__(self, key):
        if key.startswith("{"):
            value = self._named(key.lower())
        else:
            make = _ATOMS.get(key)
            value = "-" if make is None else make(self)
        return value.replace('"', '\\"') if isinstance(value, str) else value

    def _named(self, key):
        """A header ({name}i, {name}o) or environ variable ({name}e); the last of its name."""
        name, kind = key[1:-2], key[-1:]
        if key[-2:-1] != "}" or kind not in "ioe":
            return "-"
        if kind == "e":
            pairs = self.environ.items()
        elif kind == "o":
            pairs = self.resp.headers.items() if hasattr(self.resp.headers, "items") else \
                self.resp.headers  # fmt: skip
        else:
            pairs = getattr(self.req, "headers", self.req)
            pairs = pairs.items() if hasattr(pairs, "items") else pairs
        found = "-"
        for k, v in pairs:
            if k.lower() == name:
                found = v
        return found


def _status(atoms):
    status = atoms.resp.status
    return status.split(None, 1)[0] if isinstance(status, str) else status


def _sent(atoms):
    sent = getattr(atoms.resp, "sent", None)
    return sent is not None and str(sent) or "-"


def _request_line(atoms):
    environ = atoms.environ
    return f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"


def _time(atoms):
    t = atoms.request_time
    return t.seconds, t.microseconds


# gunicorn's atoms (glogging.Logger.atoms), one function each.
_ATOMS = {
    "h": lambda a: a.environ.get("REMOTE_ADDR", "-"),
    "l": lambda a: "-",
    "u": lambda a: a.logger._get_user(a.environ) or "-",
    "t": lambda a: a.logger.now(),
    "r": _request_line,
    "s": _status,
    "m": lambda a: a.environ.get("REQUEST_METHOD"),
    "U": lambda a: a.environ.get("PATH_INFO"),
    "q": lambda a: a.environ.get("QUERY_STRING"),
    "H": lambda a: a.environ.get("SERVER_PROTOCOL"),
    "b": _sent,
    "B": lambda a: getattr(a.resp, "sent", None),
    "f": lambda a: a.environ.get("HTTP_REFERER", "-"),
    "a": lambda a: a.environ.get("HTTP_USER_AGENT", "-"),
    "T": lambda a: _time(a)[0],
    "D": lambda a: _time(a)[0] * 1_000_000 + _time(a)[1],
    "M": lambda a: _time(a)[0] * 1000 + int(_time(a)[1] / 1000),
    "L": lambda a: "{}.{:06d}".format(*_time(a)),
    "p": lambda a: f"<{os.getpid()}>",
}


class Logger(glogging.Logger):
    """gunicorn's logger; only the access log's atoms are made differently (see above)."""

    @staticmethod
    def atoms_wrapper_class(atoms):
        return atoms  # escaped atom by atom as they are read

    def atoms(self, resp, req, environ, request_time):
        return _Atoms(self, resp, req, environ, request_time)
