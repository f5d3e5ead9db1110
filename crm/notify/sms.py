"""SMS through the tenant's provider: one small interface (`send`), three adapters (a generic HTTP API, Twilio,
Aliyun SMS), and the outgoing HTTP call every messaging adapter shares (bots.py uses it too).

Without a provider configured, channels.py keeps the message in the development outbox instead."""
import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app

TIMEOUT = 10  # seconds for a provider to answer
MAX_ANSWER = 64 * 1024  # bytes of an answer read (ids and error messages are small)
TWILIO_BASE = "https://api.twilio.com"
ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com"
ALIYUN_REGION = "cn-hangzhou"


def channel_error(message: str) -> Exception:
    from crm.notify.channels import ChannelError  # channels imports this module lazily; keep it that way

    return ChannelError(message)


# --- the outgoing HTTP call -------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> dict:
        """The answer as a JSON object; {} when it is something else."""
        try:
            value = json.loads(self.body.decode("utf-8", "replace"))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def excerpt(self, limit: int = 200) -> str:
        text = " ".join(self.body.decode("utf-8", "replace").split())
        return text[:limit] + ("…" if len(text) > limit else "")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A provider that redirects is answered as an error: a message is never re-sent somewhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def private_hosts_allowed() -> bool:
    """Outside production (and when MESSAGING_PRIVATE_HOSTS says so) local test servers and sinks are fine."""
    config = current_app.config
    return bool(config.get("MESSAGING_PRIVATE_HOSTS", config.get("ENV") != "production"))


def check_destination(url: str) -> None:
    """Refuse anything but http(s), and in production any host inside the private network (a tenant's URL
    must not reach the machines behind the app)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise channel_error(f"not an http(s) URL: {url[:80]}")
    if private_hosts_allowed():
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (OSError, UnicodeError) as error:
        raise channel_error(f"{parts.hostname} cannot be resolved: {error}") from error
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise channel_error(f"{parts.hostname} is a private address; messages only go to public services")


def http_call(method: str, url: str, *, body: bytes | None = None, headers: dict | None = None) -> Answer:
    """One HTTP request with the adapters' timeout; any HTTP status is returned, a network failure or a
    timeout raises ChannelError."""
    check_destination(url)
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"User-Agent": "CRM-notify/1", **(headers or {})})
    host = urllib.parse.urlsplit(url).hostname
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            return Answer(response.status, response.read(MAX_ANSWER))
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.read(MAX_ANSWER) if error.fp else b"")
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise channel_error(f"{host} did not answer within {TIMEOUT} s") from error
        raise channel_error(f"{host} cannot be reached: {error.reason}") from error
    except TimeoutError as error:
        raise channel_error(f"{host} did not answer within {TIMEOUT} s") from error
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise channel_error(f"{host} cannot be reached: {error}") from error


def post_json(url: str, payload: dict, headers: dict | None = None) -> Answer:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return http_call("POST", url, body=body, headers={"Content-Type": "application/json; charset=utf-8",
                                                      **(headers or {})})


# --- the adapters -------------------------------------------------------------------------------------------

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
            raise channel_error(f"SMS provider answered HTTP {answer.status}: {detail}")
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
            raise channel_error(f"Twilio refused the message{status}: {detail}{code}")
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
            raise channel_error(f"no Aliyun template code for {kind} messages: add one in the messaging settings")
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
            raise channel_error(f"Aliyun SMS refused the message: {detail} ({code})")
        return str(data.get("BizId") or data.get("RequestId") or "")


PROVIDERS = {"http": HttpProvider, "twilio": TwilioProvider, "aliyun": AliyunProvider}


def _first(data: dict, *names):
    return next((data[name] for name in names if data.get(name) not in (None, "")), None)


def tenant_config() -> dict | None:
    """The bound tenant's SMS provider settings with secrets decrypted; None when no provider is set up."""
    from crm.notify import config

    return config.sms_config()


def provider(config: dict) -> SmsProvider:
    """The adapter for a provider's settings (as `tenant_config` returns them)."""
    adapter = PROVIDERS.get(config.get("provider"))
    if adapter is None:
        raise channel_error(f"unknown SMS provider {config.get('provider')!r}")
    return adapter(config)
