"""Pipelines, stages and deals: the kanban board and the deal list."""
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("pipelines", __name__, "/deals")
