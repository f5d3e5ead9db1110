"""The customer pool (公海): claim, assign, release, and the recycle rules."""
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("pool", __name__, "/pool")
