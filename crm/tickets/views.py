"""Service tickets: complaints, inquiries and repairs, with comments and a per-agent queue."""
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("tickets", __name__, "/tickets")
