"""Product rules and queries: the catalogue, its search, and the checks on a product's fields.

Products are one catalogue for the whole tenant, with no owner: any scope a role has on "products" other
than none reaches every product."""
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import case, or_, select

from crm import listing, validation
from crm.audit.service import audited, record
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.members.models import Member
from crm.products.models import Product

LIST_LIMIT = 200
PAGE_SIZE = 25
FIELDS = ("name", "sku", "unit", "price")
# The catalogue's order: active first, then by name.
ORDER = (listing.Key(case((Product.active, 0), else_=1), value=lambda product: 0 if product.active else 1),
         listing.Key(Product.name, str), listing.Key(Product.id))


def _matching(q: str, include_inactive: bool):
    """Products whose name or SKU contains `q`; the deactivated ones only with `include_inactive`."""
    stmt = select(Product)
    if q:
        stmt = stmt.where(or_(Product.name.icontains(q, autoescape=True), Product.sku.icontains(q, autoescape=True)))
    if not include_inactive:
        stmt = stmt.where(Product.active)
    return stmt


def list_products(q: str = "", include_inactive: bool = False, limit: int = LIST_LIMIT) -> list[Product]:
    """Products matching `q` (name or SKU), active first, by name."""
    stmt = _matching(q, include_inactive).order_by(*(key.order() for key in ORDER))
    return list(db.session.scalars(stmt.limit(limit)))


def page_products(q: str = "", include_inactive: bool = False, after: str = "", limit: int = PAGE_SIZE,
                  updated_since: datetime | None = None) -> tuple[list[Product], str]:
    """One keyset page of the catalogue as `list_products` orders it (for the API), and the next page's cursor;
    `updated_since`: only products changed at or after that time."""
    stmt = _matching(q, include_inactive)
    if updated_since:
        stmt = stmt.where(Product.updated_at >= updated_since)
    return listing.page(stmt, ORDER, after, limit)


def products_for_lines(viewer: Member, keep_ids=()) -> list[Product]:
    """What an order line may pick: the active products, and inactive ones the order already has."""
    if not viewer.can("products", "view"):
        return []
    stmt = select(Product).where(or_(Product.active, Product.id.in_(list(keep_ids))))
    return list(db.session.scalars(stmt.order_by(Product.name, Product.id).limit(1000)))


def get_product(product_id: int) -> Product:
    """A product of the catalogue, else 404."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    return product


def clean(data: dict, exclude_id: int | None = None) -> dict:
    """Validate and normalise a product's fields; all problems reported together."""
    errors = {}
    cleaned = {"name": validation.collect(errors, validation.text, data.get("name"), "name", 120,
                                          required=_("Name is required.")) or "",
               "sku": validation.collect(errors, validation.text, data.get("sku"), "sku", 60),
               "unit": validation.collect(errors, validation.text, data.get("unit"), "unit", 20),
               "price": validation.collect(errors, validation.money, data.get("price"), "price", required=True)}
    if cleaned["sku"] and "sku" not in errors and _sku_taken(cleaned["sku"], exclude_id):
        errors["sku"] = _("Another product already has this SKU.")
    if errors:
        raise Invalid(errors)
    return cleaned


def _sku_taken(sku: str, exclude_id: int | None) -> bool:
    stmt = select(Product.id).where(Product.sku == sku)
    if exclude_id:
        stmt = stmt.where(Product.id != exclude_id)
    return db.session.scalar(stmt) is not None


def create_product(data: dict) -> Product:
    """Add a product to the catalogue."""
    product = Product(**clean(data), active=True)
    db.session.add(product)
    db.session.flush()
    record("create", "product", product.id, summary=product.name)
    return product


def update_product(product: Product, data: dict) -> Product:
    """Change a product; orders keep the name and price they were placed with."""
    cleaned = clean(data, exclude_id=product.id)
    with audited(product, entity="product", fields=FIELDS, summary=lambda p: p.name):
        for name, value in cleaned.items():
            setattr(product, name, value)
    db.session.flush()
    return product


def set_active(product: Product, active: bool) -> Product:
    """Deactivate (no longer offered on new orders) or reactivate a product."""
    if product.active != active:
        record("update", "product", product.id, summary=product.name, changes={"active": [product.active, active]})
        product.active = active
    return product
