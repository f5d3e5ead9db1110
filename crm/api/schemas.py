"""Fields shared by the resources' schemas: what a request may send (type errors refused at the field, in the
reader's language; the rules themselves stay in the services) and what every answer carries."""
from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, Schema, ValidationError, fields
from marshmallow.validate import Range

from crm.validation import MAX_ID


class Request(Schema):
    """A request body: a field nobody knows is refused, not ignored (a typo would otherwise change nothing)."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": _l("Unknown field."), "type": _l("Send a JSON object.")}


def text(**kwargs) -> fields.String:
    return fields.String(allow_none=True, error_messages={"invalid": _l("Enter text.")}, **kwargs)


def record_id(**kwargs) -> fields.Integer:
    """An id: a whole number PostgreSQL's integer holds (a larger one would fail the query, not the field)."""
    return fields.Integer(strict=True, error_messages={"invalid": _l("Enter a whole number.")},
                          validate=Range(1, MAX_ID, error=_l("Choose one of the listed values.")), **kwargs)


def _plain_values(values: dict) -> None:
    """Custom values are JSON scalars or lists of text, as the custom fields' types take them."""
    for key, value in values.items():
        plain = value is None or isinstance(value, (str, int, float, bool))
        if not plain and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValidationError({key: [_l("Enter text, a number, true or false, or a list of texts.")]})


def custom_values() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), validate=_plain_values,
                       error_messages={"invalid": _l("Send a JSON object.")},
                       metadata={"description": "Custom field values by the field's key."})


class Page(Schema):
    next_cursor = fields.String(allow_none=True, required=True,
                                metadata={"description": "Pass as `after` for the next page; null on the last."})


class DecimalText(fields.Field):
    """A number as a decimal string ("19.99") or a JSON number, handed on as text: the service reads it as the
    form's field is read (its places, its range, its message)."""

    default_error_messages = {"invalid": _l("Enter a number, e.g. 12 or 3.5.")}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.make_error("invalid")
        return str(value)


def decimal(**kwargs) -> DecimalText:
    return DecimalText(allow_none=True, metadata={"type": ["string", "number"], **kwargs.pop("metadata", {})},
                   **kwargs)


def money(**kwargs) -> fields.String:
    """An amount as the API shows it: a decimal string in the record's currency."""
    return fields.String(metadata={"description": "A decimal string, e.g. \"1234.50\".", "example": "1234.50"},
                         **kwargs)
