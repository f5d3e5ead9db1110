"""The records files are kept with: how each is found within the viewer's reach, which customer it belongs to,
how the timeline names it and which page shows it."""
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import gettext as _

from crm.customers.queries import get_customer
from crm.deals.deal_queries import get_deal
from crm.followups.service import get_activity
from crm.orders.queries import get_order
from crm.extensions import db
from crm.tickets.models import TicketComment
from crm.tickets.service import get_comment, get_ticket


@dataclass(frozen=True)
class Kind:
    key: str  # "deal": the attachments column is `deal_id`, the file routes' id `deal_file_id`
    resource: str  # the permission resource: viewing the record shows its files, editing it changes them
    load: Callable  # (viewer, record id, action) -> the record, or NotFound outside the viewer's reach
    customer_of: Callable  # record -> its customer's id
    name: Callable[[object], str]  # the record as the timeline names it, in the current language
    endpoint: str  # the record's page, which takes `<key>_id` (or what `page_values` gives)
    page_values: Callable[[int], dict] | None = None  # record id -> the page's URL values, when not `<key>_id`
    compact: bool = False  # its Files card is a short list under the record (a comment), not a card of its own

    @property
    def record_param(self) -> str:
        return f"{self.key}_id"

    @property
    def file_param(self) -> str:
        return f"{self.key}_file_id"

    def page(self, record_id: int) -> tuple[str, dict]:
        """(endpoint, values) of the record's page."""
        if self.page_values is not None:
            return self.endpoint, self.page_values(record_id)
        return self.endpoint, {self.record_param: record_id}


KINDS = {kind.key: kind for kind in (
    Kind("customer", "customers", get_customer, lambda c: c.id, lambda c: _("the customer"),
         "customers.show"),
    Kind("deal", "deals", get_deal, lambda d: d.customer_id, lambda d: _("deal %(title)s", title=d.title),
         "deals.show"),
    Kind("order", "orders", get_order, lambda o: o.customer_id, lambda o: _("order %(number)s", number=o.number),
         "orders.show"),
    Kind("ticket", "tickets", get_ticket, lambda t: t.customer_id,
         lambda t: _("ticket %(number)s", number=t.number), "tickets.show"),
    Kind("ticket_comment", "tickets", get_comment, lambda c: c.ticket.customer_id,
         lambda c: _("a comment on ticket %(number)s", number=c.ticket.number), "tickets.show",
         page_values=lambda comment_id: {"ticket_id": db.session.get(TicketComment, comment_id).ticket_id},
         compact=True),
    Kind("activity", "activities", get_activity, lambda a: a.customer_id,
         lambda a: _("follow-up %(summary)s", summary=a.summary[:60]),
         "followups.edit"),
)}
