"""Sensitive customer fields (ID number, bank account): cleaned, encrypted per tenant, found by keyed hash,
masked, revealed with an audit entry, and re-encrypted under a newer key."""
import re

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from crm import crypto
from crm.audit.service import MASK, record
from crm.customers.models import SENSITIVE, Customer
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.fields import record_values
from crm.members.access import scoped
from crm.members.models import Member
from tenants.backup import rebinds_restored
from tenants.binding import current_tenant

SENSITIVE_FORMATS = {"id_number": r"[0-9A-Z]{6,30}", "bank_account": r"[0-9A-Z]{8,34}"}


def sensitive_value(name: str, value) -> str | None:
    """Spaces and dashes dropped, upper-cased; None (keep what is stored) when left empty."""
    value = crypto.normalise_for_index(value or "")
    if not value:
        return None
    if not re.fullmatch(SENSITIVE_FORMATS[name], value):
        raise Invalid({name: _("Enter 6-30 letters or digits.") if name == "id_number"
                       else _("Enter 8-34 letters or digits.")})
    return value


def _context(name: str) -> str:
    """Binds a sensitive value to its tenant and field (AES-GCM associated data)."""
    return f"{current_tenant().schema}:customers.{name}"


def store_sensitive(viewer: Member, customer: Customer, cleaned: dict) -> None:
    for name in SENSITIVE:
        value = cleaned.pop(name, None)
        if value and viewer.can("sensitive", "edit"):
            setattr(customer, f"{name}_enc", crypto.encrypt(value, _context(name)))
            setattr(customer, f"{name}_idx", crypto.blind_index(value, _context(name)))


def masked(customer: Customer, name: str) -> str:
    token = getattr(customer, f"{name}_enc")
    return crypto.mask(crypto.decrypt(token, _context(name))) if token else ""


def reveal(viewer: Member, customer_id: int, name: str) -> str:
    """The plaintext of a sensitive field, for a role that may reveal it on this customer; audited."""
    custom_key = name.removeprefix("custom_") if name.startswith("custom_") else None
    if name not in SENSITIVE and custom_key is None:
        raise NotFound()
    stmt = scoped(select(Customer).where(Customer.id == customer_id, Customer.deleted_at.is_(None)),
                  viewer, "sensitive", "view", Customer)
    customer = db.session.scalar(stmt)
    if customer is None:
        raise NotFound()
    if not custom_key and not getattr(customer, f"{name}_enc"):
        raise NotFound()
    value = record_values.reveal_custom(customer, custom_key) if custom_key else plain(customer, name)
    record("reveal", "customer", customer.id, summary=name, changes={name: [MASK, MASK]})
    return value


def plain(customer, name: str) -> str:
    """A stored built-in sensitive value in full (callers check the role and audit the reveal)."""
    return crypto.decrypt(getattr(customer, f"{name}_enc"), _context(name))


def rotate_sensitive(batch: int = 500) -> int:
    """Re-encrypt, under the newest key, every sensitive value (built-in and custom) of the bound tenant still under
    an older one. Not an edit: updated_at stays, so a sync by `updated_since` sees no change."""
    done, after = 0, 0
    while True:
        rows = db.session.execute(select(Customer.id, Customer.id_number_enc, Customer.bank_account_enc,
                                         Customer.custom_sensitive).where(Customer.id > after, or_(
            Customer.id_number_enc.is_not(None), Customer.bank_account_enc.is_not(None),
            Customer.custom_sensitive != {})).order_by(Customer.id).limit(batch)).all()
        for customer_id, *tokens, custom in rows:
            values = {}
            for name, token in zip(SENSITIVE, tokens):
                if token and crypto.needs_rotation(token):
                    values[f"{name}_enc"] = crypto.encrypt(crypto.decrypt(token, _context(name)), _context(name))
            stale = {key: token for key, token in (custom or {}).items() if crypto.needs_rotation(token)}
            if stale:
                values["custom_sensitive"] = {**custom, **{
                    key: crypto.encrypt(crypto.decrypt(token, record_values.custom_context(key)),
                                        record_values.custom_context(key)) for key, token in stale.items()}}
            if values:
                db.session.execute(update(Customer).where(Customer.id == customer_id)
                                   .values(**values, updated_at=Customer.updated_at))
                done += len(values) - ("custom_sensitive" in values) + len(stale)
        if len(rows) < batch:
            return done
        after = rows[-1][0]


def sensitive_matches(q: str) -> list:
    """Exact matches on ID number or bank account through their keyed hashes (nothing is decrypted)."""
    value = crypto.normalise_for_index(q)
    return [getattr(Customer, f"{name}_idx") == crypto.blind_index(value, _context(name))
            for name in SENSITIVE if re.fullmatch(SENSITIVE_FORMATS[name], value)]


@rebinds_restored
def rebind_sensitive(old_schema: str, new_schema: str, in_schema: dict) -> None:
    """A restored copy's sensitive values (built-in and custom) encrypted and indexed again for its own schema."""
    rows = db.session.execute(select(Customer.id, Customer.id_number_enc, Customer.bank_account_enc,
                                     Customer.custom_sensitive).where(or_(
        Customer.id_number_enc.is_not(None), Customer.bank_account_enc.is_not(None),
        Customer.custom_sensitive != {})), execution_options=in_schema).all()
    for customer_id, *tokens, custom in rows:
        values = {}
        for name, token in zip(SENSITIVE, tokens):
            if token:
                value = crypto.decrypt(token, f"{old_schema}:customers.{name}")
                values[f"{name}_enc"] = crypto.encrypt(value, f"{new_schema}:customers.{name}")
                values[f"{name}_idx"] = crypto.blind_index(value, f"{new_schema}:customers.{name}")
        if custom:
            values["custom_sensitive"] = {
                key: crypto.encrypt(crypto.decrypt(token, f"{old_schema}:customers.custom.{key}"),
                                    f"{new_schema}:customers.custom.{key}") for key, token in custom.items()}
        # The same values, readable under the new name: not an edit (updated_at stays).
        db.session.execute(update(Customer).where(Customer.id == customer_id)
                           .values(**values, updated_at=Customer.updated_at), execution_options=in_schema)
