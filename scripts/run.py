"""Start the CRM: embedded PostgreSQL and Valkey (unless DATABASE_URL/REDIS_URL are set), migrations,
the demo workspace (once), an RQ worker with its scheduler, RQ's cron (the schedule in crm/cron.py)
and the web server on 127.0.0.1:$PORT (5000 unless PORT is set). Links in emails and messages point at BASE_URL,
which is this address unless the environment sets it."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.bootstrap import ROOT, in_venv  # noqa: E402

HOST = "127.0.0.1"
QUEUES = ("default", "notify", "imports", "webhooks", "exports")


def address(environ) -> tuple[int, str]:
    """The port to serve on (PORT, default 5000) and the base of every link the app sends (BASE_URL when set,
    else this very address). The worker has no request to read a host from, so the base goes in its environment."""
    port = int(environ.get("PORT", "5000"))
    return port, environ.get("BASE_URL") or f"http://{HOST}:{port}"


def start_services():
    """Embedded servers with data under instance/, unless the environment names real ones."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return None
    from crm import embedded

    services = embedded.start(ROOT / "instance" / "services")
    os.environ.setdefault("DATABASE_URL", embedded.ensure_database(services.database_url, "crm"))
    os.environ.setdefault("REDIS_URL", services.redis_url)
    (ROOT / "instance" / "services.json").write_text(
        json.dumps({"database": os.environ["DATABASE_URL"], "redis": os.environ["REDIS_URL"]}))
    return services


def prepare(app, port: int) -> None:
    from crm.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
    from crm.extensions import db
    from tenants.migrations import upgrade_all, upgrade_public
    from tenants.spares import refill

    with app.app_context():
        upgrade_public(db.engine)
        failed = upgrade_all(db.engine).failed
        for report in failed:
            print(f"migration of {report.schema} failed: {report.error}", file=sys.stderr)
        if seed_demo() is not None:
            print("Created the demo workspace.", flush=True)
        db.session.commit()
        refill()  # spare schemas, so the first sign-up is instant too
    print(f"\n  CRM running at http://{HOST}:{port}/\n  Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}"
          f"\n  Dev outbox: http://{HOST}:{port}/dev/outbox\n  Links in messages: {app.config['BASE_URL']}/"
          f"\n  Press Ctrl-C to stop.\n", flush=True)


def stop_on_signal(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    # Background shells start us with SIGINT ignored; Ctrl-C and SIGTERM must both stop everything.
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    port, os.environ["BASE_URL"] = address(os.environ)  # read by this app and the worker's alike
    services = start_services()
    worker = cron = None
    try:
        from crm import create_app

        app = create_app()
        prepare(app, port)
        worker = subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--quiet",
                                   "--worker-class", "rq.worker.SimpleWorker",
                                   "--url", os.environ["REDIS_URL"], *QUEUES], cwd=ROOT)
        cron = subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", "--logging-level", "warning",
                                 "--url", os.environ["REDIS_URL"], "crm/cron.py"], cwd=ROOT)
        app.run(host=HOST, port=port, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        for process in (cron, worker):
            if process is not None:
                process.terminate()
                process.wait(10)
        if services is not None:
            services.stop()
            (ROOT / "instance" / "services.json").unlink(missing_ok=True)
        print("Stopped.", flush=True)


if __name__ == "__main__":
    in_venv(__file__)
    main()
