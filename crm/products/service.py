"""Product rules and queries: the catalogue, its search, and the checks on a product's fields.

Products are one catalogue for the whole tenant, with no owner: any scope a role has on "products" other
than none reaches every product."""
import re
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm.audit.service import audited, record
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.members.models import Member, Setting
from crm.products.models import Product

LIST_LIMIT = 200
MAX_AMOUNT = Decimal("999999999999.99")  # what Numeric(14, 2) holds
FIELDS = ("name", "sku", "unit", "price")


def tenant_currency() -> str:
    """The currency prices are in (the tenant's "currency" setting)."""
    row = db.session.get(Setting, "currency")
    return row.value if row is not None and isinstance(row.value, str) else "CNY"


def list_products(q: str = "", include_inactive: bool = False, limit: int = LIST_LIMIT) -> list[Product]:
    """Products matching `q` (name or SKU), active first, by name."""
    stmt = select(Product)
    if q:
        stmt = stmt.where(or_(Product.name.icontains(q, autoescape=True), Product.sku.icontains(q, autoescape=True)))
    if not include_inactive:
        stmt = stmt.where(Product.active)
    return list(db.session.scalars(stmt.order_by(Product.active.desc(), Product.name, Product.id).limit(limit)))


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


def parse_amount(raw, field: str, required: bool = True) -> Decimal | None:
    """A money amount as typed (spaces and thousands commas allowed): zero or more, at most two decimals."""
    text = re.sub(r"[\s,]", "", str(raw or ""))
    if not text:
        if required:
            raise Invalid({field: _("Enter an amount.")})
        return None
    if not re.fullmatch(r"\d+(\.\d{0,2})?", text):
        raise Invalid({field: _("Enter an amount like 19.99 (at most two decimals).")})
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Invalid({field: _("Enter an amount like 19.99 (at most two decimals).")})
    if value > MAX_AMOUNT:
        raise Invalid({field: _("This amount is too large.")})
    return value.quantize(Decimal("0.01"))


def clean(data: dict, exclude_id: int | None = None) -> dict:
    """Validate and normalise a product's fields; all problems reported together."""
    errors, cleaned = {}, {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = _("Name is required.")
    elif len(name) > 120:
        errors["name"] = _("Use at most %(n)d characters.", n=120)
    cleaned["name"] = name
    cleaned["sku"] = (data.get("sku") or "").strip() or None
    if cleaned["sku"] and len(cleaned["sku"]) > 60:
        errors["sku"] = _("Use at most %(n)d characters.", n=60)
    elif cleaned["sku"] and _sku_taken(cleaned["sku"], exclude_id):
        errors["sku"] = _("Another product already has this SKU.")
    cleaned["unit"] = (data.get("unit") or "").strip() or None
    if cleaned["unit"] and len(cleaned["unit"]) > 20:
        errors["unit"] = _("Use at most %(n)d characters.", n=20)
    try:
        cleaned["price"] = parse_amount(data.get("price"), "price")
    except Invalid as error:
        errors.update(error.errors)
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
