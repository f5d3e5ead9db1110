"""crm/public_links.py: one way to sign and read the tokens of public links, kept apart per purpose."""
import base64
import hashlib
import hmac

from crm import public_links


def test_tokens_keep_the_format_of_links_already_sent(ctx):
    """Links in emails and SMS sent before must keep opening: the signature is pinned here."""
    mac = hmac.new(b"test-secret-key", b"order-status-link:7.42.abc123", hashlib.sha256).digest()
    expected = "7.42." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert public_links.make_token("order-status-link", 7, 42, nonce="abc123") == expected


def test_a_token_opens_only_its_own_purpose_ids_and_nonce(ctx):
    token = public_links.make_token("unsubscribe", 7, 42)
    assert public_links.read_token("unsubscribe", token, 2) == (7, 42)
    assert public_links.read_token("order-status-link", token, 2) is None
    ids, signature = public_links.parse_token(token, 2)
    assert not public_links.is_signed("unsubscribe", (7, 43), signature)
    revocable = public_links.make_token("order-status-link", 7, 42, nonce="first")
    ids, signature = public_links.parse_token(revocable, 2)
    assert public_links.is_signed("order-status-link", ids, signature, "first")
    assert not public_links.is_signed("order-status-link", ids, signature, "second")


def test_malformed_tokens_are_refused_before_any_signature_is_checked(ctx):
    token = public_links.make_token("unsubscribe", 7, 42)
    for bad in ("", "x", token + "x", "0" + token, token.replace("7.", "07.", 1), "7." + token,
                token.rsplit(".", 1)[0], f"7.{2**31}.{token.rsplit('.', 1)[1]}"):
        assert public_links.parse_token(bad, 2) is None, bad
