"""What the API shows of a ticket: its schema, for the outgoing webhooks' `ticket.*` events now and for the tickets
resource when it joins RESOURCES (its routes are not written yet)."""
from marshmallow import fields

from crm.api import schemas
from crm.tickets.models import KINDS, PRIORITIES, STATUSES, Ticket


class TicketOut(schemas.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"example": "TK-000042"})
    customer_id = fields.Integer(required=True)
    order_id = fields.Integer(allow_none=True, required=True)
    subject = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    priority = fields.String(required=True, metadata={"enum": list(PRIORITIES)})
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    owner_id = fields.Integer(allow_none=True, required=True, metadata={"description": "null: unassigned."})
    due_at = fields.DateTime(required=True)
    satisfaction = fields.Integer(allow_none=True, required=True, metadata={"description": "The customer's 1-5."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    resolved_at = fields.DateTime(allow_none=True, required=True)
    closed_at = fields.DateTime(allow_none=True, required=True)


def shown(ticket: Ticket) -> dict:
    """Every field of the schema, as the ticket has it."""
    return {name: getattr(ticket, name) for name in TicketOut._declared_fields}
