"""Chat-bot channels for staff: WeCom (企业微信), DingTalk and Feishu group bots, and a generic signed webhook.

Each is a per-tenant URL (the group bot's URL carries its token) and, where the service has one, a signing
secret. A message is posted once; any answer but the service's "ok" raises ChannelError with its message."""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

from crm.notify.models import BOT_CHANNELS
from crm.notify.transport import ChannelError, http_call, post_json



def content(message) -> str:
    """What a chat group reads: the subject as the first line, then the text."""
    subject, text = (message.subject or "").strip(), (message.text or "").strip()
    return f"{subject}\n{text}" if subject and not text.startswith(subject) else text or subject


def post(channel: str, config: dict, message, notification=None) -> None:
    """Post `message` (.subject, .text) to the tenant's bot of this channel."""
    if channel not in BOT_CHANNELS:
        raise ChannelError(f"unknown bot channel {channel!r}")
    {"wecom": _wecom, "dingtalk": _dingtalk, "feishu": _feishu, "webhook": _webhook}[channel](
        config, message, notification)


def _wecom(config: dict, message, _notification) -> None:
    answer = post_json(config["url"], {"msgtype": "text", "text": {"content": content(message)}})
    _expect(answer, "WeCom", "errcode", "errmsg")


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(key=secret, "timestamp\\nsecret")), before URL-encoding."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _dingtalk(config: dict, message, _notification) -> None:
    url = config["url"]
    if config.get("secret"):
        timestamp = int(time.time() * 1000)
        signed = urllib.parse.urlencode({"timestamp": timestamp, "sign": dingtalk_sign(timestamp, config["secret"])})
        url = f"{url}{'&' if '?' in url else '?'}{signed}"
    answer = post_json(url, {"msgtype": "text", "text": {"content": content(message)}})
    _expect(answer, "DingTalk", "errcode", "errmsg")


def feishu_sign(timestamp: int, secret: str) -> str:
    """Feishu's signature: base64(HMAC-SHA256(key="timestamp\\nsecret", message=empty))."""
    return base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


def _feishu(config: dict, message, _notification) -> None:
    payload = {"msg_type": "text", "content": {"text": content(message)}}
    if config.get("secret"):
        timestamp = int(time.time())
        payload = {"timestamp": str(timestamp), "sign": feishu_sign(timestamp, config["secret"]), **payload}
    answer = post_json(config["url"], payload)
    data = answer.json()
    code = data["code"] if "code" in data else data.get("StatusCode")
    if not answer.ok or code != 0:
        detail = data.get("msg") or data.get("StatusMessage") or answer.excerpt()
        raise ChannelError(f"Feishu refused the message{_status(answer)}: {detail}"
                     + (f" (code {code})" if code is not None else ""))


def _webhook(config: dict, message, notification) -> None:
    """JSON {"subject", "text", "kind", "id"}; with a secret, X-CRM-Signature: sha256=<hex HMAC of the body>."""
    payload = {"subject": message.subject, "text": message.text,
               "kind": getattr(notification, "kind", None), "id": getattr(notification, "idempotency_key", None)}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "X-CRM-Timestamp": str(int(time.time()))}
    if payload["id"]:
        headers["Idempotency-Key"] = payload["id"]
    if config.get("secret"):
        headers["X-CRM-Signature"] = "sha256=" + hmac.new(config["secret"].encode(), body, hashlib.sha256).hexdigest()
    answer = http_call("POST", config["url"], body=body, headers=headers)
    if not answer.ok:
        data = answer.json()
        detail = data.get("message") or data.get("error") or answer.excerpt()
        raise ChannelError(f"Webhook answered HTTP {answer.status}: {detail}")


def _expect(answer, service: str, code_key: str, message_key: str) -> None:
    data = answer.json()
    if answer.ok and data.get(code_key) == 0:
        return
    detail = data.get(message_key) or answer.excerpt()
    code = f" ({code_key} {data[code_key]})" if data.get(code_key) is not None else ""
    raise ChannelError(f"{service} refused the message{_status(answer)}: {detail}{code}")


def _status(answer) -> str:
    """The HTTP status when it says something (the services answer their refusals with 200 too)."""
    return "" if answer.ok else f" (HTTP {answer.status})"
