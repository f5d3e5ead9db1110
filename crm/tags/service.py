"""Tags: a name and a colour, shared by the tenant's customers."""
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from crm import validation
from crm.audit.service import record
from crm.customers import queries as customers
from crm.customers.models import Customer, Tag
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.members.models import Member

COLORS = ("gray", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink")


def color_labels() -> dict[str, str]:
    return {"gray": _("Gray"), "red": _("Red"), "orange": _("Orange"), "yellow": _("Yellow"), "green": _("Green"),
            "teal": _("Teal"), "blue": _("Blue"), "purple": _("Purple"), "pink": _("Pink")}


def all_tags() -> list[Tag]:
    return list(db.session.scalars(select(Tag).order_by(Tag.name)))


def tags_with_counts(viewer: Member) -> list[tuple[Tag, int]]:
    """Every tag with how many customers carry it among those the viewer's list shows (live, in its scope), so
    the number is what following the tag's link finds."""
    tagged = (customers.visible(viewer).with_only_columns(func.unnest(Customer.tag_ids).label("tag_id"))
              .subquery())
    stmt = (select(Tag, func.count(tagged.c.tag_id)).outerjoin(tagged, tagged.c.tag_id == Tag.id)
            .group_by(Tag.id).order_by(Tag.name))
    return list(db.session.execute(stmt).tuples())


def get_tag(tag_id: int) -> Tag:
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise NotFound()
    return tag


def _clean(name: str, color: str, tag_id: int | None = None) -> tuple[str, str]:
    name = _name(name)
    same = select(Tag.id).where(func.lower(Tag.name) == name.lower())
    if tag_id:
        same = same.where(Tag.id != tag_id)
    if db.session.scalar(same) is not None:
        raise Invalid({"name": _("A tag with this name exists.")})
    return name, color if color in COLORS else "blue"


def _name(name) -> str:
    return validation.text(name, "name", 40, required=_("Name is required."))


def create_tag(name: str, color: str = "blue") -> Tag:
    name, color = _clean(name, color)
    tag = Tag(name=name, color=color)
    db.session.add(tag)
    db.session.flush()
    return tag


def find_or_create_tag(name: str) -> Tag:
    """The tag with this name (any case), created when new."""
    existing = db.session.scalar(select(Tag).where(func.lower(Tag.name) == _name(name).lower()))
    return existing or create_tag(name)


def update_tag(tag: Tag, name: str, color: str) -> Tag:
    tag.name, tag.color = _clean(name, color, tag.id)
    db.session.flush()
    return tag


def delete_tag(tag: Tag) -> None:
    """Delete a tag; its customers lose it (and count as changed). Audited: GET /api/v1/deletions reads it there."""
    record("delete", "tag", tag.id, summary=tag.name)
    db.session.execute(update(Customer).where(Customer.tag_ids.contains([tag.id]))
                       .values(tag_ids=func.array_remove(Customer.tag_ids, tag.id)))
    db.session.delete(tag)
    db.session.flush()
