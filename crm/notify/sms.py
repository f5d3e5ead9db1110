"""SMS through the tenant's provider: one small interface (`send`), three adapters (a generic HTTP API, Twilio,
Aliyun SMS), each over transport.http_call.

Without a provider configured, channels.py keeps the message in the development outbox instead."""
import base64
import hashlib
import hmac
import json
import urllib.parse
import uuid
from datetime import UTC, datetime

from crm.notify.transport import ChannelError, http_call, post_json

TWILIO_BASE = "https://api.twilio.com"
ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com"
ALIYUN_REGION = "cn-hangzhou"

class SmsProvider:
    """Send one text to one E.164 number; returns the provider's message id, raises ChannelError on refusal."""

    name = "sms"

    def __init__(self, config: dict):
        self.config = config

    def send(self, phone_e164: str, text: str, notification) -> str:
        raise NotImplementedError


class HttpProvider(SmsProvider):
    """A generic JSON API: POST {"to", "text", "reference"} with the tenant's auth header; any 2xx is success."""

    name = "http"

    def send(self, phone_e164: str, text: str, notification) -> str:
        key = notification.idempotency_key
        headers = {"Idempotency-Key": key}
        if self.config.get("auth_value"):
            headers[self.config.get("auth_header") or "Authorization"] = self.config["auth_value"]
        answer = post_json(self.config["url"], {"to": phone_e164, "text": text, "reference": key}, headers)
        data = answer.json()
        if not answer.ok:
            detail = _first(data, "message", "error", "detail", "error_description") or answer.excerpt()
            raise ChannelError(f"SMS provider answered HTTP {answer.status}: {detail}")
        return str(_first(data, "id", "message_id", "messageId", "sid") or "")


class TwilioProvider(SmsProvider):
    """Twilio's Messages API: form To/From/Body, basic auth with the account SID and auth token."""

    name = "twilio"

    def send(self, phone_e164: str, text: str, notification) -> str:
        sid, sender = self.config["account_sid"], self.config["sender"]
        base = (self.config.get("base_url") or TWILIO_BASE).rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{urllib.parse.quote(sid)}/Messages.json"
        # A Messaging Service (MG...) picks the sender itself; anything else is the sending number.
        form = {"To": phone_e164, "Body": text,
                ("MessagingServiceSid" if sender.startswith("MG") else "From"): sender}
        credentials = base64.b64encode(f"{sid}:{self.config['auth_token']}".encode()).decode()
        answer = http_call("POST", url, body=urllib.parse.urlencode(form).encode(),
                           headers={"Authorization": f"Basic {credentials}",
                                    "Content-Type": "application/x-www-form-urlencoded"})
        data = answer.json()
        if not answer.ok or not data.get("sid"):
            detail = data.get("message") or answer.excerpt()
            code = f" (code {data['code']})" if data.get("code") else ""
            status = "" if answer.ok else f" (HTTP {answer.status})"
            raise ChannelError(f"Twilio refused the message{status}: {detail}{code}")
        return str(data["sid"])


def aliyun_quote(value: str) -> str:
    """Alibaba Cloud's percent-encoding: RFC 3986, UTF-8, space as %20, '*' encoded, '~' kept."""
    return urllib.parse.quote(value, safe="~")


def aliyun_signature(params: dict, secret: str, method: str = "GET") -> str:
    """Signature version 1.0: HMAC-SHA1 (key: secret + "&") of METHOD&%2F&encoded(sorted canonical query)."""
    canonical = "&".join(f"{aliyun_quote(k)}={aliyun_quote(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{aliyun_quote('/')}&{aliyun_quote(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def aliyun_number(phone_e164: str) -> str:
    """Mainland numbers without +86; other countries as country code and number without '+'."""
    if phone_e164.startswith("+86"):
        return phone_e164[3:]
    return phone_e164.lstrip("+")


class AliyunProvider(SmsProvider):
    """Aliyun SMS (dysmsapi SendSms): the tenant's sign name and, per message kind, an approved template code
    filled from the message's variables."""

    name = "aliyun"

    def template_code(self, kind: str) -> str:
        templates = self.config.get("templates") or {}
        code = templates.get(kind) or templates.get("default")
        if not code:
            raise ChannelError(f"no Aliyun template code for {kind} messages: add one in the messaging settings")
        return code

    def send(self, phone_e164: str, text: str, notification) -> str:
        params = {
            "AccessKeyId": self.config["access_key_id"],
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": notification.idempotency_key[:64],
            "PhoneNumbers": aliyun_number(phone_e164),
            "RegionId": self.config.get("region") or ALIYUN_REGION,
            "SignName": self.config["sign_name"],
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code(notification.kind),
            "TemplateParam": json.dumps({k: str(v) for k, v in (notification.payload or {}).items()},
                                        ensure_ascii=False, separators=(",", ":")),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self.config["access_key_secret"])
        query = "&".join(f"{aliyun_quote(k)}={aliyun_quote(v)}" for k, v in params.items())
        endpoint = (self.config.get("endpoint") or ALIYUN_ENDPOINT).rstrip("/")
        answer = http_call("GET", f"{endpoint}/?{query}")
        data = answer.json()
        if data.get("Code") != "OK":
            detail, code = data.get("Message") or answer.excerpt(), data.get("Code") or f"HTTP {answer.status}"
            raise ChannelError(f"Aliyun SMS refused the message: {detail} ({code})")
        return str(data.get("BizId") or data.get("RequestId") or "")


PROVIDERS = {"http": HttpProvider, "twilio": TwilioProvider, "aliyun": AliyunProvider}


def _first(data: dict, *names):
    return next((data[name] for name in names if data.get(name) not in (None, "")), None)


def provider(config: dict) -> SmsProvider:
    """The adapter for a provider's settings (as `tenant_config` returns them)."""
    adapter = PROVIDERS.get(config.get("provider"))
    if adapter is None:
        raise ChannelError(f"unknown SMS provider {config.get('provider')!r}")
    return adapter(config)
