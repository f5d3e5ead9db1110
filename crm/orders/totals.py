"""Order money: amounts in the reader's locale, and a line's and an order's totals (Decimal, half-up to
cents)."""
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from babel.numbers import list_currencies
from flask_babel import format_decimal

from crm.settings import workspace_currency

CENT, HUNDRED = Decimal("0.01"), Decimal(100)


def plain_money(amount) -> str:
    """A stored amount in the reader's locale, without a currency (the audit log keeps none)."""
    try:
        return format_decimal(Decimal(str(amount)), format="#,##0.00")
    except InvalidOperation:
        return str(amount)


def known_currency(code) -> str:
    """`code` when it is a currency code, else the tenant's currency (for showing amounts while typing)."""
    code = str(code or "").strip().upper()
    return code if code in list_currencies() else workspace_currency()


def line_amounts(quantity: Decimal, unit_price: Decimal, discount: Decimal) -> tuple[Decimal, Decimal]:
    """(before discount, after discount) of a line, each rounded half-up to cents."""
    # The discount is a percentage (0-100) of the line: total = quantity x price x (1 - discount / 100).
    with localcontext() as context:
        context.prec = 60  # exact for every value the columns hold
        gross = quantity * unit_price
        net = gross * (HUNDRED - discount) / HUNDRED
        return gross.quantize(CENT, ROUND_HALF_UP), net.quantize(CENT, ROUND_HALF_UP)


@dataclass
class Totals:
    subtotal: Decimal = Decimal("0.00")
    discount_total: Decimal = Decimal("0.00")
    total: Decimal = Decimal("0.00")


def totals(lines: list[dict]) -> Totals:
    """Sum of the lines before discount, the discounts, and what is due (subtotal - discounts)."""
    gross = sum((line["gross"] for line in lines), Decimal("0.00"))
    net = sum((line["total"] for line in lines), Decimal("0.00"))
    return Totals(gross, gross - net, net)
