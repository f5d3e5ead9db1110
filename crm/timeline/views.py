"""The customer page's Timeline card and its "Older events" pages."""
from flask import g, request, url_for

from crm import registry
from crm.customers import queries as customers
from crm.members.access import require
from crm.timeline import service
from crm.web import fragment_of, render
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("timeline", __name__, "/customers")
bp.add_app_template_global(service.sentence, "timeline_sentence")
bp.add_app_template_global(service.icon, "timeline_icon")


def customer_events(customer_id: int, after: str = "") -> dict:
    """A page of the customer's events and the URL of the next, older one (None on the last)."""
    events, older = service.events(customer_id=customer_id, after=after)
    return {"events": events,
            "more_url": url_for("timeline.customer", customer_id=customer_id, after=older) if older else None}


registry.plug(bp, registry.CustomerPanel("timeline/_customer_panel.html", order=70,
                                         load=lambda member, customer: customer_events(customer.id)))


@bp.get("/<id:customer_id>/timeline", endpoint="customer")
@require("customers", "view")
@fragment_of("customers.show")
def customer_page(customer_id: int):
    """Older timeline events of a customer (the "Older events" button)."""
    customer = customers.get_customer(g.member, customer_id)
    return render("timeline/_events.html", **customer_events(customer.id, request.args.get("after", "")))
