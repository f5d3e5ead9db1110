"""Field encryption for sensitive values: AES-GCM with rotatable keys, and keyed hashes for exact search.

A token is `<key id>:<base64 of nonce + ciphertext>`, bound to its tenant and field by the AES-GCM
associated data, so a value copied into another tenant or field does not decrypt."""
import base64
import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class UnknownKey(Exception):
    """A token names a key this deployment does not have."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())


def parse_keys(spec: str, secret_key: str) -> list[tuple[str, bytes]]:
    """FIELD_KEYS as `id:base64key,id:base64key` (newest first); without it, one key derived from SECRET_KEY."""
    if not spec:
        return [("dev", _derive(secret_key, b"crm field encryption"))]
    keys = []
    for item in spec.split(","):
        key_id, _sep, encoded = item.strip().partition(":")
        key = base64.b64decode(encoded)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,20}", key_id) or len(key) != 32:
            raise ValueError("FIELD_KEYS entries must be id:base64 of 32 bytes")
        keys.append((key_id, key))
    return keys


def new_key() -> str:
    """A fresh key in FIELD_KEYS form (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(32)).decode()


def _keys() -> list[tuple[str, bytes]]:
    return parse_keys(current_app.config["FIELD_KEYS"], current_app.config["SECRET_KEY"])


def encrypt(value: str, context: str) -> str:
    key_id, key = _keys()[0]
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), context.encode())
    return f"{key_id}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(token: str, context: str) -> str:
    key_id, _sep, payload = token.partition(":")
    key = dict(_keys()).get(key_id)
    if key is None:
        raise UnknownKey(f"no key {key_id!r} in FIELD_KEYS")
    raw = base64.b64decode(payload)
    return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()


def needs_rotation(token: str) -> bool:
    return token.partition(":")[0] != _keys()[0][0]


def normalise_for_index(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def blind_index(value: str, context: str) -> str:
    """A keyed hash that finds exact matches without decrypting anything (the key never rotates with FIELD_KEYS)."""
    key = _index_key()
    digest = hmac.new(key, f"{context}\0{normalise_for_index(value)}".encode(), hashlib.sha256)
    return digest.hexdigest()[:40]


def _index_key() -> bytes:
    configured = current_app.config["FIELD_INDEX_KEY"]
    return base64.b64decode(configured) if configured else _derive(current_app.config["SECRET_KEY"], b"crm index")


def mask(value: str | None) -> str:
    """`**** 1234`: enough to recognise a value, not to use it."""
    if not value:
        return ""
    tail = value[-4:] if len(value) > 6 else ""
    return f"**** {tail}".strip()
