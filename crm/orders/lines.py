"""An order's lines as the form sends them, validated and priced: products, quantities, prices, discounts."""
from decimal import Decimal

from flask_babel import gettext as _

from crm import validation
from crm.errors import Invalid
from crm.members.models import Member
from crm.orders.forms import LineInput
from crm.orders.totals import CENT, HUNDRED, line_amounts, totals
from crm.products import service as catalogue
from crm.products.models import Product
from crm.validation import record_id

MAX_LINES = 200
MAX_QUANTITY = Decimal("99999999999.999")  # what Numeric(14, 3) holds


def clean_lines(viewer: Member, rows: list[LineInput], keep_product_ids=()) -> tuple[list[dict], dict]:
    """The filled-in rows validated and priced, and the problems keyed `lines.<row>.<field>`."""
    # Blank rows are skipped. A product row takes the product's name, unit and price where left empty.
    products = {p.id: p for p in catalogue.products_for_lines(viewer, keep_product_ids)}
    lines, errors = [], {}
    for index, row in enumerate(rows):
        if row.blank:
            continue
        try:
            lines.append({"index": index, "key": row.key, **_clean_line(row, products)})
        except Invalid as error:
            errors.update({f"lines.{index}.{name}": message for name, message in error.errors.items()})
    if not lines and not errors:
        errors["lines"] = _("Add at least one line.")
    elif len(lines) > MAX_LINES:
        errors["lines"] = _("An order can have at most %(n)d lines.", n=MAX_LINES)
    elif not errors and totals(lines).subtotal > validation.MAX_AMOUNT:
        errors["lines"] = _("The order total is too large.")
    return lines, errors


def _clean_line(row: LineInput, products: dict) -> dict:
    """One filled-in row as the values to store, or Invalid with a message per field."""
    product = _line_product(row, products)
    errors = {}
    description = validation.collect(errors, validation.text, row.description or (product.name if product else ""),
                                     "description", 200, required=_("Describe the item or choose a product."))
    unit = validation.collect(errors, validation.text, row.unit or (product.unit if product else ""), "unit", 20)
    quantity = validation.collect(errors, _quantity, row.quantity)
    unit_price = product.price if product and not row.unit_price else validation.collect(
        errors, validation.money, row.unit_price, "unit_price", required=True)
    discount = validation.collect(errors, _discount, row.discount)
    if errors:
        raise Invalid(errors)
    gross, total = line_amounts(quantity, unit_price, discount)
    if gross > validation.MAX_AMOUNT:
        raise Invalid({"unit_price": _("This line's total is too large.")})
    return {"product_id": product.id if product else None, "description": description, "unit": unit,
            "quantity": quantity, "unit_price": unit_price, "discount": discount, "gross": gross, "total": total}


def _line_product(row: LineInput, products: dict) -> Product | None:
    """The row's product, None for a free-text row; an id not on offer is refused on its own."""
    if not row.product_id:
        return None
    product = products.get(record_id(row.product_id))
    if product is None:
        raise Invalid({"product_id": _("Choose a product from the list.")})
    return product


def _quantity(raw: str) -> Decimal:
    if not raw:
        raise Invalid({"quantity": _("Enter a quantity.")})
    value = validation.plain_number(raw, 3)
    if value is None or value <= 0:
        raise Invalid({"quantity": _("Enter a quantity above zero (at most three decimals).")})
    if value > MAX_QUANTITY:
        raise Invalid({"quantity": _("This quantity is too large.")})
    return value.quantize(Decimal("0.001"))


def _discount(raw: str) -> Decimal:
    """A percentage from 0 to 100; empty means none."""
    value = validation.plain_number(raw.rstrip("%").strip(), 2) if raw else Decimal(0)
    if value is None or value > HUNDRED:
        raise Invalid({"discount": _("Enter a discount from 0 to 100 (percent).")})
    return value.quantize(CENT)
