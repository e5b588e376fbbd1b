"""gunicorn's threaded worker, taking new connections only while it has a thread free.

gunicorn's own gthread worker accepts every connection it can, whether or not one of its threads
is free, and a kept-alive connection stays with the worker that accepted it. Twenty clients that
connect at once mostly land in the first worker to wake and queue there for its two threads
while the other workers idle: in the labeling benchmark one worker of three served all twenty.
This worker stops accepting while all its threads are busy, so a new connection waits in the
listening socket's backlog, shared by all workers, for the first one with a free thread (as with
sync workers); kept-alive connections are served where they are, as before.
"""

from gunicorn.workers import gthread


class ThreadWorker(gthread.ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy = 0  # requests handed to the thread pool and not finished (main thread only)

    def enqueue_req(self, conn):
        self.busy += 1
        if self.busy >= self.cfg.threads:
            super().set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.busy -= 1
        super().finish_request(conn, fs)  # the main loop then accepts again, if it may

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled and self.busy < self.cfg.threads)
