"""Domain errors raised by services; views and one error handler turn them into responses."""


class Invalid(Exception):
    """Input a service refuses, with a message per field (already translated)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors

    def apply_to(self, form) -> None:
        """Show each message beside its field in a WTForms form."""
        for name, message in self.errors.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, message]
            else:
                form.form_errors.append(message)
