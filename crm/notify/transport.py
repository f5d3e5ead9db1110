"""The leaf every channel stands on: ChannelError, and one outgoing HTTP call with a timeout, no redirects and
(in production) no private addresses. It imports nothing from the rest of crm.notify.

In production the call connects to the very addresses the guard vetted (pinned): a name whose DNS answer changes
between the check and the connection (DNS rebinding) cannot steer the call into the private network. The Host
header, TLS SNI and the certificate check stay on the name."""
import functools
import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from flask import current_app

TIMEOUT = 10  # seconds for a provider to answer
MAX_ANSWER = 64 * 1024  # bytes of an answer read (ids and error messages are small)


class ChannelError(RuntimeError):
    """A message could not be handed to its channel (the service refused, timed out, or is not set up)."""


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


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to one of `addresses` (already vetted) instead of resolving the host again."""

    def __init__(self, *args, addresses: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        # http.client opens its socket through this attribute; TLS is wrapped after it, on self.host (the name).
        self._create_connection = functools.partial(_connect_to_one_of, addresses)


class _PinnedHTTPSConnection(_PinnedHTTPConnection, http.client.HTTPSConnection):
    pass


def _connect_to_one_of(addresses: tuple[str, ...], host_and_port, *args):
    """The first of the vetted addresses that accepts, in the resolver's order, as socket.create_connection tries
    the addresses of a name."""
    error = None
    for address in addresses:
        try:
            return socket.create_connection((address, host_and_port[1]), *args)
        except OSError as failed:
            error = failed
    raise error or OSError("no address to connect to")


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, addresses: tuple[str, ...]):
        super().__init__()
        self.addresses = addresses

    def http_open(self, req):
        return self.do_open(functools.partial(_PinnedHTTPConnection, addresses=self.addresses), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, addresses: tuple[str, ...]):
        super().__init__()
        self.addresses = addresses

    def https_open(self, req):
        return self.do_open(functools.partial(_PinnedHTTPSConnection, addresses=self.addresses), req,
                            context=self._context)


_opener = urllib.request.build_opener(_NoRedirects)


def _pinned_opener(addresses: tuple[str, ...]):
    """An opener whose connections go to `addresses` only. No proxy from the environment: a proxy would resolve
    the name again itself, which is the gap pinning closes."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects,
                                       _PinnedHTTPHandler(addresses), _PinnedHTTPSHandler(addresses))


def private_hosts_allowed() -> bool:
    """Outside production (and when MESSAGING_PRIVATE_HOSTS says so) local test servers and sinks are fine."""
    config = current_app.config
    return bool(config.get("MESSAGING_PRIVATE_HOSTS", config.get("ENV") != "production"))


def check_destination(url: str) -> tuple[str, ...] | None:
    """Refuse anything but http(s), and in production any host inside the private network (a tenant's URL
    must not reach the machines behind the app). Returns the vetted addresses to connect to (None where private
    hosts are allowed and nothing was checked)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError(f"not an http(s) URL: {url[:80]}")
    if private_hosts_allowed():
        return None
    try:
        # In the resolver's order (the order a connection tries them), each once.
        addresses = tuple(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443,
                                                                                   type=socket.SOCK_STREAM)))
    except (OSError, UnicodeError) as error:
        raise ChannelError(f"{parts.hostname} cannot be resolved: {error}") from error
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise ChannelError(f"{parts.hostname} is a private address; messages only go to public services")
    if not addresses:
        raise ChannelError(f"{parts.hostname} cannot be resolved")
    return addresses


def http_call(method: str, url: str, *, body: bytes | None = None, headers: dict | None = None) -> Answer:
    """One HTTP request with the adapters' timeout; any HTTP status is returned, a network failure or a
    timeout raises ChannelError."""
    addresses = check_destination(url)
    opener = _opener if addresses is None else _pinned_opener(addresses)
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"User-Agent": "CRM-notify/1", **(headers or {})})
    host = urllib.parse.urlsplit(url).hostname
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return Answer(response.status, response.read(MAX_ANSWER))
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.read(MAX_ANSWER) if error.fp else b"")
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise ChannelError(f"{host} did not answer within {TIMEOUT} s") from error
        raise ChannelError(f"{host} cannot be reached: {error.reason}") from error
    except TimeoutError as error:
        raise ChannelError(f"{host} did not answer within {TIMEOUT} s") from error
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise ChannelError(f"{host} cannot be reached: {error}") from error


def post_json(url: str, payload: dict, headers: dict | None = None) -> Answer:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return http_call("POST", url, body=body, headers={"Content-Type": "application/json; charset=utf-8",
                                                      **(headers or {})})
