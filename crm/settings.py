"""The tenant's settings rows (`settings`: key -> JSON), read and written by the features that own a key."""
from crm.extensions import db
from crm.members.models import Setting


def get_setting(key: str, default=None):
    row = db.session.get(Setting, key)
    return row.value if row is not None else default


def put_setting(key: str, value) -> None:
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    db.session.flush()


def phone_region() -> str:
    """Where a phone number typed without a country code is read (the "phone_region" setting, e.g. CN)."""
    return get_setting("phone_region", "CN")
