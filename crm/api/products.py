"""/api/v1/products: the catalogue with the products page's search (and updated since), one product, adding one,
changing it (PATCH with If-Match, `active` to bring a deactivated one back) and deleting it, which deactivates it
as the page does: products are never deleted (order lines point at them). All through crm/products' service, so
the rules and the messages are the page's own. The catalogue has no owner: any scope on products reaches it all."""
from flask import url_for
from marshmallow import fields
from marshmallow.validate import Range
from sqlalchemy import select

from crm.api import schemas
from crm.api.core import (
    IDEMPOTENCY,
    IF_MATCH,
    answer,
    check_if_match,
    documented,
    found_first,
    resource_blueprint,
    write,
)
from crm.extensions import db
from crm.members.access import require
from crm.products import service
from crm.products.models import Product
from crm.settings import workspace_currency

bp = resource_blueprint("products", __name__, "/products", "The product catalogue order lines pick from.")


class ProductOut(schemas.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    sku = fields.String(allow_none=True, required=True)
    unit = fields.String(allow_none=True, required=True, metadata={"example": "box"})
    price = schemas.money(required=True)
    currency = fields.String(required=True, metadata={"description": "The workspace's: prices are kept in it."})
    active = fields.Boolean(required=True, metadata={"description": "false: deactivated, not offered on new orders."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ProductPage(schemas.Page):
    data = fields.List(fields.Nested(ProductOut), required=True)


class ListArgs(schemas.Schema):
    q = fields.String(metadata={"description": "Part of the name or SKU, as the products page's search."})
    include_inactive = fields.Boolean(metadata={
        "description": "Deactivated products too (the page's “show all”), after the active ones."})
    updated_since = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "Only products changed at or after this time (ISO 8601 with an offset)."})
    after = fields.String(metadata={"description": "The `next_cursor` of the page before."})
    limit = fields.Integer(validate=Range(1, 100), metadata={"description": "Rows per page (default 25)."})


class ProductWrite(schemas.Request):
    """The product form's fields; validated by the same service, with the same messages."""

    name = schemas.text(metadata={"description": "Required.", "example": "A4 paper, 80 g"})
    sku = schemas.text(metadata={"description": "Unique in the catalogue when given."})
    unit = schemas.text(metadata={"example": "box"})
    price = schemas.decimal(metadata={"description": "Required; in the workspace's currency.", "example": "35.00"})


class ProductPatch(ProductWrite):
    """The fields sent change (the others stay); `active` deactivates or brings the product back."""

    active = fields.Boolean(allow_none=False, metadata={"description": "false deactivates, true offers it again."})


def shown(product: Product) -> dict:
    """What the API shows of a product: every field, its price in the workspace's currency."""
    return {name: getattr(product, name) for name in ProductOut._declared_fields if name != "currency"} | {
        "currency": workspace_currency()}


def _locked(product_id: int) -> Product:
    """The product, its row locked for this transaction (before it is read, so its ETag is the stored one)."""
    db.session.execute(select(Product.id).where(Product.id == product_id).with_for_update())
    return service.get_product(product_id)


def _as_typed(product: Product) -> dict:
    """The product's fields as its edit form shows them, so the fields not sent stay as they are."""
    return {"name": product.name, "sku": product.sku, "unit": product.unit, "price": f"{product.price:.2f}"}


@bp.route("/", methods=["GET"])
@documented(bp)
@require("products", "view")
@bp.arguments(ListArgs, location="query", as_kwargs=True)
@bp.alt_response(200, schema=ProductPage, success=True, description="One page of products, active first, by name.")
def index(q: str = "", include_inactive: bool = False, updated_since=None, after: str = "",
          limit: int = service.PAGE_SIZE):
    """The catalogue, searched as on the products page, one keyset page at a time."""
    rows, next_cursor = service.page_products(q.replace("\x00", "").strip()[:100], include_inactive, after, limit,
                                              updated_since)
    return answer(ProductPage, {"data": [shown(p) for p in rows], "next_cursor": next_cursor or None})


@bp.route("/", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("products", "create")
@bp.arguments(ProductWrite)
@bp.alt_response(201, schema=ProductOut, success=True, description="Added; `Location` and `ETag` say where and which.")
def create(data: dict):
    """Add a product to the catalogue (active)."""
    product = service.create_product(data)
    return answer(ProductOut, shown(product), 201, etag=True,
                  headers={"Location": url_for("api_products.show", product_id=product.id)})


@bp.route("/<id:product_id>", methods=["GET"])
@documented(bp)
@require("products", "view")
@bp.alt_response(200, schema=ProductOut, success=True, description="The product; `ETag` for If-Match.")
def show(product_id: int):
    """One product, deactivated ones too (past orders name them)."""
    return answer(ProductOut, shown(service.get_product(product_id)), etag=True)


@bp.route("/<id:product_id>", methods=["PATCH"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("products", "edit")
@found_first(lambda product_id: _locked(product_id))
@bp.arguments(ProductPatch)
@bp.alt_response(200, schema=ProductOut, success=True, description="Changed; the new `ETag`.")
def update(data: dict, product_id: int):
    """Change the fields sent, as the product form does (orders keep the name and price they were placed with);
    with `If-Match: <ETag>` a stale write is refused (412)."""
    product = _locked(product_id)
    check_if_match(ProductOut, shown(product))
    active = data.pop("active", None)
    if data:
        service.update_product(product, _as_typed(product) | data)
    if active is not None:
        service.set_active(product, active)
    db.session.flush()
    return answer(ProductOut, shown(product), etag=True)


@bp.route("/<id:product_id>", methods=["DELETE"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("products", "edit")
@bp.alt_response(204, success=True, description="Deactivated: no longer offered on new orders.")
def delete(product_id: int):
    """Deactivate the product, as the page's “Deactivate” does: it stays on past orders (products are never
    deleted) and PATCH `{"active": true}` offers it again."""
    product = _locked(product_id)
    check_if_match(ProductOut, shown(product))
    service.set_active(product, False)
    return "", 204
