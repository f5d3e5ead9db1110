"""Follow-ups: planned and logged interactions, reminders, and My day."""
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("activities", __name__, "/activities")
