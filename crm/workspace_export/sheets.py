"""What "Export everything" writes: a sheet per record kind and the files kept with the records.

The five lists and the contacts of the customers come from the list exports' own sources (crm/exports/sources.py)
with every field, so the columns, labels, owners by name, tags, custom fields, times in the workspace's zone and the
rules for sensitive values are the same as a list's export; an ID column comes first, which the other sheets (order
lines, comments, files, a contact's customer ID) and the files' folders name. Every sheet holds only what the
member may export: the lines of the exported orders, the comments of the exported tickets, the files of the exported
records, the contacts of the exported customers."""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, or_, select
from werkzeug.datastructures import MultiDict

from crm.attachments.models import Attachment
from crm.attachments.service import live
from crm.contacts.models import Contact
from crm.customers.models import Customer
from crm.deals.models import Deal
from crm.exports.sources import TITLES as LIST_TITLES
from crm.exports.sources import YES_NO, Column, Source, build, in_workspace_zone
from crm.followups.models import Activity
from crm.members.models import Member
from crm.orders.models import Order, OrderLine
from crm.products.models import Product
from crm.tickets.models import Ticket, TicketComment

LISTS = ("customers", "deals", "orders", "tickets", "followups", "contacts")
TITLES = {"order_lines": _l("Order lines"), "ticket_comments": _l("Ticket comments"), "products": _l("Products"),
          "files": _l("Files")}
MODELS = {"customers": Customer, "deals": Deal, "orders": Order, "tickets": Ticket, "followups": Activity,
          "contacts": Contact}
# A list's files by their attachment kind; ticket comments' files go with their ticket's folder.
FILE_KINDS = {"customer": "customers", "deal": "deals", "order": "orders", "ticket": "tickets",
              "activity": "followups", "ticket_comment": "tickets"}


@dataclass
class Sheet:
    kind: str  # also the name of its files in the archive: customers.csv, customers.xlsx
    title: object  # the sheet's name in the reader's language
    source: Source


def sheets(member: Member) -> list[Sheet]:
    """Every sheet of the workspace the member may export, lists first."""
    lists = {kind: _with_id(build(kind, member, MultiDict(), all_fields=True)) for kind in LISTS}
    lists["contacts"].columns.insert(1, Column(_l("Customer ID"), lambda row: row.customer_id))
    ids = {kind: _ids(source.stmt, MODELS[kind]) for kind, source in lists.items()}
    return [*(Sheet(kind, LIST_TITLES[kind], source) for kind, source in lists.items()),
            Sheet("order_lines", TITLES["order_lines"], _order_lines(ids["orders"])),
            Sheet("ticket_comments", TITLES["ticket_comments"], _ticket_comments(ids["tickets"])),
            Sheet("products", TITLES["products"], _products()),
            Sheet("files", TITLES["files"], files_source(ids))]


def _with_id(source: Source) -> Source:
    source.columns.insert(0, Column(_l("ID"), lambda row: row.id))
    return source


def _ids(stmt: Select, model) -> Select:
    """The ids of a list's rows (its filters and scope kept), for `IN` conditions of the sheets that follow it."""
    return stmt.with_only_columns(model.id).order_by(None)


def _order_lines(order_ids: Select) -> Source:
    columns = [Column(_l("ID"), lambda r: r.id), Column(_l("Order number"), lambda r: r.number),
               Column(_l("Position"), lambda r: r.position), Column(_l("Product"), lambda r: r.product_name),
               Column(_l("SKU"), lambda r: r.sku), Column(_l("Description"), lambda r: r.description),
               Column(_l("Unit"), lambda r: r.unit), Column(_l("Quantity"), lambda r: r.quantity),
               Column(_l("Unit price"), lambda r: r.unit_price), Column(_l("Discount (percent)"), lambda r: r.discount),
               Column(_l("Total"), lambda r: r.total)]
    stmt = (select(OrderLine.id, Order.number, OrderLine.position, Product.name.label("product_name"), Product.sku,
                   OrderLine.description, OrderLine.unit, OrderLine.quantity, OrderLine.unit_price,
                   OrderLine.discount, OrderLine.total)
            .join_from(OrderLine, Order, OrderLine.order_id == Order.id)
            .outerjoin(Product, OrderLine.product_id == Product.id)
            .where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.order_id.desc(), OrderLine.position))
    return Source("order_lines", stmt, columns)


def _ticket_comments(ticket_ids: Select) -> Source:
    local = in_workspace_zone()
    columns = [Column(_l("ID"), lambda r: r.id), Column(_l("Ticket"), lambda r: f"TK-{r.ticket_id:06d}"),
               Column(_l("Author"), lambda r: r.author_name),
               Column(_l("Internal note"), lambda r: str(YES_NO[r.internal])),
               Column(_l("Comment"), lambda r: r.body), Column(_l("Created"), lambda r: local(r.created_at))]
    stmt = (select(TicketComment.id, TicketComment.ticket_id, TicketComment.author_name, TicketComment.internal,
                   TicketComment.body, TicketComment.created_at)
            .where(TicketComment.ticket_id.in_(ticket_ids)).order_by(TicketComment.ticket_id.desc(), TicketComment.id))
    return Source("ticket_comments", stmt, columns)


def _products() -> Source:
    """The whole catalogue: every member picks from it on orders."""
    local = in_workspace_zone()
    columns = [Column(_l("ID"), lambda r: r.id), Column(_l("Name"), lambda r: r.name),
               Column(_l("SKU"), lambda r: r.sku), Column(_l("Unit"), lambda r: r.unit),
               Column(_l("Price"), lambda r: r.price), Column(_l("Active"), lambda r: str(YES_NO[r.active])),
               Column(_l("Created"), lambda r: local(r.created_at))]
    stmt = select(Product.id, Product.name, Product.sku, Product.unit, Product.price, Product.active,
                  Product.created_at).order_by(Product.id)
    return Source("products", stmt, columns)


def file_path(row) -> str:
    """Where a file is in the archive: files/<list>/<record id>/<file id>-<its name> (ids keep names unique)."""
    return f"files/{FILE_KINDS[row.kind]}/{row.record_id}/{row.id}-{row.name}"


def files_source(ids: dict[str, Select]) -> Source:
    """The files of the exported records (not of customers in the trash), one row each, with where the archive
    keeps it; the archive reads the same statement to copy them."""
    local = in_workspace_zone()
    of = [and_(Attachment.kind == kind, getattr(Attachment, f"{kind}_id").in_(ids[folder]))
          for kind, folder in FILE_KINDS.items() if kind != "ticket_comment"]
    comment_tickets = select(TicketComment.id).where(TicketComment.ticket_id.in_(ids["tickets"]))
    of.append(and_(Attachment.kind == "ticket_comment", Attachment.ticket_comment_id.in_(comment_tickets)))
    comment_ticket = select(TicketComment.ticket_id).where(
        TicketComment.id == Attachment.ticket_comment_id).scalar_subquery()
    record_id = case({kind: getattr(Attachment, f"{kind}_id") for kind in FILE_KINDS if kind != "ticket_comment"}
                     | {"ticket_comment": comment_ticket}, value=Attachment.kind)
    stmt = (select(Attachment.id, Attachment.kind, record_id.label("record_id"), Attachment.name, Attachment.size,
                   Attachment.content_type, Attachment.sha256,
                   Attachment.storage_key, Attachment.uploaded_by_name, Attachment.created_at)
            .where(or_(*of), live()).order_by(Attachment.id))
    columns = [Column(_l("ID"), lambda r: r.id), Column(_l("Path in this archive"), file_path),
               Column(_l("Name"), lambda r: r.name), Column(_l("Size"), lambda r: r.size),
               Column(_l("Type"), lambda r: r.content_type), Column(_l("Uploaded by"), lambda r: r.uploaded_by_name),
               Column(_l("Uploaded"), lambda r: local(r.created_at)), Column("SHA-256", lambda r: r.sha256)]
    return Source("files", stmt, columns)
