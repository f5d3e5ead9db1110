"""Entry point for gunicorn and `flask --app wsgi`."""
import gc

from crm import create_app

app = create_app()
# Everything made so far lives as long as the process: keep it out of the collector's full passes, which
# otherwise cost 100+ ms every few big pages (seen in bench/sales.py).
gc.freeze()
