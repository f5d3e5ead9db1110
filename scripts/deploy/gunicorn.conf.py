"""gunicorn's configuration for production: `gunicorn -c scripts/deploy/gunicorn.conf.py wsgi:app`
(scripts/deploy/crm-web.service runs it). Every value can be changed through the environment named beside it.

Sync workers: on 2 cores threaded (gthread) workers served the heaviest pages at half the rate (docs/benchmarks.md);
Python CPU per page, not waiting, sets the throughput. A worker is replaced after about MAX_REQUESTS requests (with
jitter, so they are not all replaced at once): a process that served many tenants holds their catalog caches and
its connection's backend holds them too; a fresh worker starts with neither."""
import os
import shutil
import tempfile

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
worker_class = "sync"
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5  # behind a proxy that keeps connections open
max_requests = int(os.environ.get("MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
preload_app = False  # each worker builds its own app: its own connection pool, nothing shared by fork
accesslog = os.environ.get("ACCESS_LOG") or None  # the app's JSON lines carry what an operator needs
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket lives at one path in the user's home: two servers of one user would share it, and a
# system user may have no home. systemd's signals (reload: HUP) do what it offers.
control_socket_disable = True

# Metrics (crm/monitoring/metrics.py): every worker writes its samples to this folder, a scrape adds them up.
# Emptied at start: files of processes from an earlier run would be counted again.
metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                                    os.path.join(tempfile.gettempdir(), f"crm-metrics-{os.getuid()}"))


def on_starting(server):
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, mode=0o700)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
