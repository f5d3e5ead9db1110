"""Start RQ workers on the notify queue as forks of one process that has already made the app.

The fault test kills workers and replaces them many times; a fresh `rq worker` spends seconds importing and
making the app before it sends anything (over 4 s each on 2 busy cores), and the test waited for each one.
A fork of this warm process sends within milliseconds; it is still a separate process, with its own
connections to PostgreSQL, Redis and the SMTP server, killed with SIGKILL like any worker.

Run as `python -m tests.notify.warm_workers REDIS_URL`; each line `NAME LOG_PATH` on stdin starts a
`SimpleWorker` named NAME writing to LOG_PATH, and its pid is answered on stdout. EOF on stdin ends it (the
workers it started are left to the caller)."""
import os
import signal
import sys
import traceback

import redis
from rq import Queue, SimpleWorker

from crm.extensions import db
from crm.jobs import worker_app


def run_worker(redis_url: str, name: str, log_path: str) -> None:
    """In the forked child: own connections, output to its log, then the worker loop."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    with worker_app().app_context():
        db.engine.dispose(close=False)  # connections belong to one process: the child opens its own
    connection = redis.Redis.from_url(redis_url)
    SimpleWorker([Queue("notify", connection=connection)], connection=connection, name=name) \
        .work(logging_level="WARNING")


def main(redis_url: str) -> None:
    worker_app()  # imports and makes the app once, for every fork
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps dead workers: a gone pid means dead
    for line in sys.stdin:
        name, log_path = line.split()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            try:
                run_worker(redis_url, name, log_path)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
