"""Orders: lines, totals, the status workflow and the signed public status link."""
from flask import Blueprint

from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("orders", __name__, "/orders")
# The end customer's view of one order, through a signed link: no account, no tenant slug in the URL.
public = Blueprint("order_status", __name__, url_prefix="/o")
