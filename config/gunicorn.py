"""gunicorn's settings for Concord: `gunicorn config.wsgi -c python:config.gunicorn`.

Threaded workers (gthread). A slow request, such as an upload of hundreds of megabytes streaming
in or a lead's dashboard being rendered, holds one thread instead of a whole worker process, so
annotators' calls keep being served beside it; with sync workers, three slow clients stall
every other request. Each thread keeps its own database connection: workers x threads
connections in all. Two threads, not more: on two cores, more threads per process only queue for
the interpreter lock inside the request (the labeling benchmark's server times grow), while a
second thread is enough to keep a slow request from stalling its process.

Two workers by default, one per core of the two-core machines Concord is measured on (set
WEB_CONCURRENCY to the number of cores elsewhere): a worker's Python runs on one core at a time,
and a third worker only adds switching. In fourteen alternating runs of the labeling
benchmark, two workers of two threads kept the submit's server p95 at 12 to 21 ms in every run,
where three went over the goal of 25 ms in five runs of seven, with no fewer submits a second
(a mean of 240 against 229; docs/benchmarks.md).

HTTP parsing: gunicorn's parser in C (gunicorn_h1c) when it is installed (`pip install
".[fast]"`, which needs a C compiler), else its Python one. The C parser cost the labeling
benchmark's workers 0.2 to 0.5 ms less CPU per next + submit, 5 to 12% of their CPU.

The access log is gunicorn's, line for line, from a logger that works out only the atoms its
format names (config/gunicorn_logger.py): 32 to 42 us a request instead of 89 to 101. A
statsd_host, which switches gunicorn's own logger to its statsd one, needs
`--logger-class gunicorn.instrument.statsd.Statsd` with it.

Options on the command line or in GUNICORN_CMD_ARGS override these.
"""

import os

# gthread, except that a worker takes new connections only while a thread of its is free
# (config/gunicorn_worker.py): connections spread over the workers instead of piling on one.
worker_class = "config.gunicorn_worker.ThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
logger_class = "config.gunicorn_logger.Logger"  # gunicorn's access log, made lazily
