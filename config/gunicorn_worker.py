"""gunicorn's threaded worker, taking new connections only while it has a thread free.

gunicorn's own gthread worker accepts every connection it can, whether or not one of its threads
is free, and a kept-alive connection stays with the worker that accepted it. Twenty clients that
connect at once mostly land in the first worker to wake and queue there for its two threads
while the other workers idle: in the labeling benchmark one worker of three served all twenty.
This worker stops accepting while all its threads are busy, so a new connection waits in the
listening socket's backlog, shared by all workers, for the first one with a free thread (as with
sync workers); kept-alive connections are served where they are, as before.

And a response's head goes out in the same write as the first part of its body, where gunicorn
writes them one after the other: two sends, two packets and two reads for the client, for an
answer of a few hundred bytes. In a benchmark of a bare WSGI app on two cores that was 30 to 60
us of the server's CPU a request and 15 to 20 of the client's. The bytes on the wire are the
same (tests/test_gunicorn_config.py compares them with gunicorn's own for plain, empty, HEAD,
streamed and file responses).

A request whose body was read to its end goes back to wait for the next without the drain
gthread does (and its two system calls): there is nothing to drain. And a connection whose next
request was already read with the last one (behind a body the application ignored, which gthread
then drains, or pipelined) is served again at once: gthread hands it to its poller, which waits
on the socket for bytes that have arrived, until the keep-alive timeout closes the connection
and the request is lost.
"""

from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.http.body import LengthReader
from gunicorn.workers import gthread


class Response(wsgi.Response):
    """gunicorn's response, holding its head back while write() sends the first body bytes.
    Nothing stays held once write() returns, so every other path (no body, a file sent with
    sendfile, a chunked body, an error) sends exactly what and when gunicorn's would."""

    _holding = False
    _held = None

    def write(self, arg):
        self._holding = not self.headers_sent
        try:
            super().write(arg)
        finally:
            self._holding = False
            self._release()

    def send_headers(self):
        if not self._holding or self.headers_sent:
            return super().send_headers()
        head = self.default_headers()  # as gunicorn's send_headers, but kept
        head.extend([f"{k}: {v}\r\n" for k, v in self.headers])
        self._held = util.to_bytestring("".join(head) + "\r\n", "latin-1")
        self.headers_sent = True
        return None

    def _emit_body(self, data):
        if self._held is not None and not self.chunked:
            head, self._held = self._held, None
            util.write(self.sock, head + data)
            return
        self._release()
        super()._emit_body(data)

    def _release(self):
        if self._held is not None:
            head, self._held = self._held, None
            util.write(self.sock, head)


class ThreadWorker(gthread.ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy = 0  # requests handed to the thread pool and not finished (main thread only)

    def init_process(self):
        # gthread builds its responses through wsgi.create, which takes the module's Response:
        # this worker process's become the one-write kind (the arbiter builds none).
        wsgi.Response = Response
        super().init_process()

    def _keepalive_after(self, conn, keepalive):
        # gthread drains what the application left of a request's body before the connection
        # waits for the next request, under a timeout it sets on the socket and then restores:
        # two system calls a request, also when the body was read to its end (a POST whose
        # JSON was parsed) or there was none (a GET), where there is nothing to drain.
        body = getattr(conn.parser.mesg, "body", None)
        reader = getattr(body, "reader", None)
        read_out = type(reader) is LengthReader and reader.length == 0 and not body.buf.tell()
        if keepalive and read_out:
            return True
        return super()._keepalive_after(conn, keepalive)

    def enqueue_req(self, conn):
        self.busy += 1
        if self.busy >= self.cfg.threads:
            super().set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.busy -= 1
        if self.alive and _kept_alive(fs) and _read_ahead(conn):
            # The next request came in with this one's last bytes and waits in the parser's
            # buffer, not in the socket, where gthread's poller would wait for it until the
            # keep-alive timeout closed the connection: it is served now instead.
            self.enqueue_req(conn)
            return
        super().finish_request(conn, fs)  # the main loop then accepts again, if it may

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled and self.busy < self.cfg.threads)


def _kept_alive(fs) -> bool:
    return not fs.cancelled() and fs.exception() is None and fs.result() is True


def _read_ahead(conn) -> bool:
    """Whether the connection's parser holds bytes read from the socket beyond the request it
    has answered (a drain of an unread body, or a read of the head, took them)."""
    buffered = getattr(getattr(conn.parser, "unreader", None), "buf", None)
    return buffered is not None and buffered.getbuffer().nbytes > 0
