"""Signatures as Stripe makes them: `Webhook-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, with
the subscription's own secret. docs/api.md shows the receiver's check."""
import hashlib
import hmac
import secrets
import time

HEADER = "Webhook-Signature"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header's value for `body` sent now (or at `timestamp`)."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), b"%d." % signed_at + body, hashlib.sha256).hexdigest()
    return f"t={signed_at},v1={digest}"
