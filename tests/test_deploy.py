"""The shipped production configuration (scripts/deploy/gunicorn.conf.py) serves the app through gunicorn:
/healthz answers, workers are replaced after MAX_REQUESTS, and /metrics adds up every worker's samples."""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def _get(url: str, **headers) -> tuple[int, dict, str]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as answer:
        return answer.status, dict(answer.headers), answer.read().decode()


@pytest.fixture
def gunicorn(app, tmp_path):
    """gunicorn with the shipped configuration on a free port, 2 workers each replaced after 8 requests."""
    port = free_port()
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "MAX_REQUESTS": "8",
           "METRICS_TOKEN": "scrape-secret", "LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m")}
    log = open(tmp_path / "gunicorn.log", "w")
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "scripts/deploy/gunicorn.conf.py",
                               "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(base + "/healthz")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text())
            time.sleep(0.2)
    yield base, tmp_path / "gunicorn.log"
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    log.close()


@pytest.mark.slow  # two app start-ups per worker slot: 15-35 s on a busy 2-core machine
def test_gunicorn_with_the_shipped_configuration_serves_health_and_metrics(gunicorn):
    base, log = gunicorn
    for _ in range(19):  # with the start-up probe, 20: the workers are replaced on the way
        status, headers, body = _get(base + "/healthz")
        assert status == 200 and '"status":"ok"' in body.replace(" ", "")
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    _status, _headers, metrics = _get(base + "/metrics", Authorization="Bearer scrape-secret")
    count = re.search(r'crm_http_request_duration_seconds_count\{method="GET",route="/healthz",status="200"\} (\S+)',
                      metrics)
    assert count and float(count.group(1)) == 20  # summed over every worker, the replaced ones included
    assert "crm_queue_jobs" in metrics and "crm_outbox_lag_seconds" in metrics
    assert len(re.findall(r"Autorestarting worker after current request", log.read_text())) >= 2
