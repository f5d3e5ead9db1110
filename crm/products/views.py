"""The product catalogue."""
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("products", __name__, "/products")
