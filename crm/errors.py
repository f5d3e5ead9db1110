"""The errors services raise, imported from here: `Invalid` (input refused, a message per field), `NotFound`
(404) and `Forbidden` (403), the last two werkzeug's own, and `PlanLimit` (402). Views do not catch them: the
handlers in `crm/__init__.py` `register_errors` roll the transaction back and answer, `Invalid` the way the view
chose with `crm.web.on_invalid` (its form again with the messages at the fields, 422) or else with a flash and a 303.
"""
from werkzeug.exceptions import Forbidden, HTTPException, NotFound

__all__ = ["Forbidden", "Invalid", "NotFound", "PlanLimit"]


class PlanLimit(HTTPException):
    """What the workspace's plan or billing state does not allow (crm/billing): a limit reached, a feature not in
    the plan, a write while read-only. Answered 402 with the message and a link to the billing page (pages), or a
    402 problem (API)."""

    code = 402

    def __init__(self, message: str):
        super().__init__(description=message)


class Invalid(Exception):
    """Input a service refuses, with a message per field (already translated)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors

    def apply_to(self, form):
        """Show each message beside its field in a WTForms form; returns the form."""
        for name, message in self.errors.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, message]
            else:
                form.form_errors.append(message)
        return form

    def split_custom(self, form) -> dict:
        """Put the built-in fields' messages beside their fields in `form`; return the custom fields' messages
        (keys `custom_<key>`), which the form template shows under those fields."""
        custom = {name: message for name, message in self.errors.items() if name.startswith("custom_")}
        Invalid({name: message for name, message in self.errors.items() if name not in custom}).apply_to(form)
        return custom
