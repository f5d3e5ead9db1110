"""One row of a follow-up, deal, order or contact file cleaned into what will be saved, with the customer's match
key.

The cells go through the forms' own cleaners (crm/validation.py; the order lines' quantity and amounts,
crm/orders; a contact's fields, crm/contacts' service); labels (methods, stages, statuses) are read in either
language. A row either cleans fully or carries its reasons; the customer it names is found later, in SQL
(crm/imports/linking.py)."""
import re
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from crm import validation
from crm.contacts import service as contacts
from crm.deals.deal_queries import EARLIEST, LATEST
from crm.deals.stages import pipelines, stages
from crm.errors import Invalid
from crm.extensions import db
from crm.fields import record_values
from crm.fields.definitions import fields
from crm.followups.models import METHOD_LABELS
from crm.followups.service import MAX_TEXT
from crm.imports.cleaning import form_value, is_yes, match_key, members_by_name_and_email, moment, owner_id_of
from crm.imports.kinds import KINDS
from crm.imports.mapping import field_label, label_names, option_names
from crm.members.models import Member
from crm.orders.forms import STATUS_LABELS
from crm.orders.lines import _quantity
from crm.orders.totals import CENT, line_amounts
from crm.products.models import Product
from crm.settings import phone_region, workspace_zone

# The numbers the CRM makes itself (SO-000123): one kept from a file would be made again for a later order's id.
MADE_NUMBER = re.compile(r"SO-?\d+", re.IGNORECASE)
NUMBER_LIMIT = 20
# A contacts file's columns (their keys apart from the customer's match keys) -> the contact's fields.
CONTACT_FIELDS = {"contact_name": "name", "title": "title", "mobile": "mobile", "contact_phone": "phone",
                  "contact_email": "email", "wechat": "wechat", "notes": "notes"}


class LinkedCleaner:
    """Cleans the rows of one follow-up, deal, order or contact import; what every row needs is read once."""

    def __init__(self, viewer: Member, kind: str, mapping: dict, options: dict):
        self.viewer, self.kind, self.options = viewer, kind, options
        self.columns = sorted((int(index), key) for index, key in mapping.items())
        self.region, self.zone = phone_region(), workspace_zone()
        self.members = members_by_name_and_email()
        self.notes: set[str] = set()  # the customer import's notes; none here
        self.new_options: dict = {}
        if kind == "deals":
            self.pipelines = [(p, stages(p.id)) for p in pipelines()]
        elif kind == "activities":
            self.methods = label_names(METHOD_LABELS)
        if KINDS[kind].entity:
            self.entity = KINDS[kind].entity
            self.custom = {f"custom_{f.key}": f for f in fields(self.entity) if not f.sensitive}
            self.definitions = {f.key: f for f in self.custom.values()}
            self.option_keys = {key: option_names(f) for key, f in self.custom.items()
                                if f.type in ("select", "multiselect")}
        if kind == "orders":
            self.statuses = label_names(STATUS_LABELS)
            self.products = {name.strip().lower(): (product_id, unit, price) for product_id, name, unit, price in
                             db.session.execute(select(Product.id, Product.name, Product.unit, Product.price)
                                                .where(Product.active).order_by(Product.id.desc()))}

    def clean(self, cells: list[str]) -> tuple[dict, str | None, str | None]:
        """(data to save, match key, reason): the reason is set when the row cannot be saved."""
        raw, data, errors = {}, {}, {}
        for index, key in self.columns:
            cell = cells[index].strip() if index < len(cells) else ""
            if cell:
                raw[key] = cell
                validation.collect(errors, self._cell, key, cell, data)
        if not errors:
            validation.collect(errors, getattr(self, f"_{self.kind}"), raw, data)
        if errors:
            return {}, None, "; ".join(f"{field_label(name, self.kind)}: {message}" for name, message in errors.items())
        return data, match_key(self.options["match_on"], data), None

    def _cell(self, key: str, raw: str, data: dict) -> None:
        """The cells cleaned the same way whatever the kind; the kind's own ones are read as a whole row."""
        if key == "phone":
            data[key] = validation.phone(raw, self.region)
        elif key == "email":
            data[key] = validation.normalise_email(raw)
        elif key in ("name", "company"):
            data[key] = validation.text(raw, key, 120 if key == "name" else 200)
        elif key == "external_id":
            data[key] = validation.text(raw, key, 100)
        elif key == "owner":
            data["owner_id"] = owner_id_of(raw, self.members, self.options)
        elif key in ("created_at", "done_at", "due_at"):
            data[key] = moment(raw, key, self.zone)

    def _activities(self, raw: dict, data: dict) -> None:
        """A logged interaction when it has a done time, else a plan with a due time; method "other" when none."""
        data["summary"] = validation.text(raw.get("summary"), "summary", MAX_TEXT, required=True)
        data["outcome"] = validation.text(raw.get("outcome"), "outcome", MAX_TEXT) or ""
        data["method"] = self.methods.get(raw["method"].lower()) if raw.get("method") else "other"
        if data["method"] is None:
            raise Invalid({"method": _("Choose one of the listed values.")})
        if "done_at" not in data and "due_at" not in data:
            raise Invalid({"done_at": _("Give the time it was done, or when it is due.")})

    def _deals(self, raw: dict, data: dict) -> None:
        """The stage by its name in either language, in the named pipeline (else the first with such a stage); no
        stage: the pipeline's first open one."""
        data["title"] = validation.text(raw.get("title"), "title", 200, required=True)
        pipeline, stage = self._stage(raw.get("pipeline", "").lower(), raw.get("stage", "").lower())
        data["pipeline_id"], data["stage_id"] = pipeline.id, stage.id
        for key, limit in (("notes", 5000), ("lost_reason", 250)):
            if raw.get(key):
                data[key] = validation.text(raw[key], key, limit)
        if raw.get("amount"):
            data["amount"] = str(validation.money(raw["amount"], "amount"))
        if raw.get("expected_close"):
            data["expected_close"] = validation.day(raw["expected_close"].replace("/", "-"), "expected_close",
                                                    EARLIEST, LATEST).isoformat()
            data["closed_at"] = moment(data["expected_close"], "expected_close", self.zone)  # if the stage is closed
        self._custom(raw, data)

    def _contacts(self, raw: dict, data: dict) -> None:
        """The contact's fields cleaned by the contacts service itself (its limits, phones, messages); `primary`
        read as a checkbox cell is (yes in either language)."""
        try:
            cleaned = contacts.clean({field: raw.get(key) for key, field in CONTACT_FIELDS.items()})
        except Invalid as error:
            column = {field: key for key, field in CONTACT_FIELDS.items()}
            raise Invalid({column.get(name, name): message for name, message in error.errors.items()}) from None
        data.update({key: cleaned[field] for key, field in CONTACT_FIELDS.items() if cleaned[field]})
        data["primary"] = is_yes(raw.get("primary", ""))

    def _custom(self, raw: dict, data: dict) -> None:
        """The custom cells as the record form cleans them (crm/fields/record_values.py); defaults and required
        values are the record's, not the row's (an order's other lines may give them): linking sees to them."""
        given = {field.key: form_value(field, raw[key], lambda label, key=key: self._option(key, label))
                 for key, field in self.custom.items() if key in raw}
        if given:
            values, _changes = record_values.checked_values(None, given, False, self.entity, self.definitions)
            if values:
                data["custom"] = values

    def _option(self, key: str, label: str) -> str:
        """A select's option key by its key or either language's name (a linked file creates no options)."""
        found = self.option_keys[key].get(label.strip().lower())
        if found is None:
            raise Invalid({key: _("Choose one of the listed values.")})
        return found

    def _stage(self, pipeline_name: str, stage_name: str):
        candidates = [(p, s) for p, s in self.pipelines if not pipeline_name or pipeline_name in _names(p)]
        if not candidates:
            raise Invalid({"pipeline": _("Choose one of the listed values.")})
        for pipeline, its_stages in candidates:
            for stage in its_stages:
                if (stage_name in _names(stage)) if stage_name else stage.kind == "open":
                    return pipeline, stage
        raise Invalid({"stage": _("Choose one of the listed values.")})

    def _orders(self, raw: dict, data: dict) -> None:
        """One row is one line of an order (rows with the same number are one order's lines; linking checks that
        they agree): the product (a catalogue product by its name, else free text), a quantity (1 when none) and a
        unit price; or an amount, the line's total."""
        number = validation.text(raw.get("number"), "number", NUMBER_LIMIT)
        if number and MADE_NUMBER.fullmatch(number):
            raise Invalid({"number": _("Numbers like SO-000123 are given by the CRM: leave the number out or use "
                                       "another one.")})
        if number:
            data["number"] = number
        if raw.get("status"):  # none: placed, unless another line of the order gives it
            data["status"] = self.statuses.get(raw["status"].lower())
            if data["status"] is None:
                raise Invalid({"status": _("Choose one of the listed values.")})
        if raw.get("notes"):
            data["notes"] = validation.text(raw["notes"], "notes", 5000)
        self._custom(raw, data)
        self._line(raw, data)

    def _line(self, raw: dict, data: dict) -> None:
        product_id, unit, list_price = self.products.get(raw.get("product", "").lower(), (None, None, None))
        data["description"] = validation.text(raw.get("product") or _("Imported order"), "product", 200)
        data["product_id"], data["unit"] = product_id, unit
        quantity = _quantity(raw["quantity"]) if raw.get("quantity") else Decimal("1.000")
        price = validation.money(raw.get("unit_price"), "unit_price")
        amount = validation.money(raw.get("amount"), "amount")
        if price is None and amount is not None:
            price = (amount / quantity).quantize(CENT)
            if price * quantity != amount:
                raise Invalid({"amount": _("The amount is not the quantity times a price in cents: give the unit "
                                           "price.")})
        price = price if price is not None else list_price
        if price is None:
            raise Invalid({"unit_price": _("Give a unit price or an amount.")})
        _gross, total = line_amounts(quantity, price, Decimal(0))
        if total > validation.MAX_AMOUNT:
            raise Invalid({"amount": _("This amount is too large.")})
        data.update(quantity=str(quantity), unit_price=str(price), total=str(total))


def _names(record) -> set[str]:
    return {name.strip().lower() for name in (record.name_en, record.name_zh) if name}

