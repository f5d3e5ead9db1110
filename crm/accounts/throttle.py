"""Sign-in throttling that slows a password guesser without locking the real user out.

Failures are counted per (account email, client address) pair in Redis: the first LOGIN_FREE_FAILURES cost
nothing, then each further attempt from that pair must wait twice as long as the one before (2 s, 4 s, 8 s ...
up to LOGIN_MAX_DELAY_SECONDS). The owner signing in from another address is not slowed at all; a success
clears the pair. One Lua script checks the wait and counts the attempt at once, so a burst of parallel guesses
gets no more tries than the same guesses one by one. The per-address limit (LOGIN_IP_LIMITS) stays on top."""
import hashlib
import ipaddress
import math
from datetime import timedelta

from flask import current_app, request
from flask_babel import format_timedelta
from flask_babel import gettext as _

from crm.extensions import redis_connection

# KEYS: attempts counter, gate. ARGV: free failures, max delay (s), seconds the counter is kept.
# Returns the milliseconds to wait (the attempt is refused and not counted), or 0 (go ahead, counted).
ATTEMPT = """
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return wait end
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local free = tonumber(ARGV[1])
if n >= free then
  local delay = math.min(2 ^ (n - free + 1), tonumber(ARGV[2]))
  redis.call('SET', KEYS[2], '1', 'PX', math.floor(delay * 1000))
end
return 0
"""


class TooSoon(Exception):
    """This pair must wait before trying again."""

    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds

    def message(self) -> str:
        # Whole minutes past a minute, rounded up, so "try again in 2 minutes" is never too early.
        seconds = self.seconds if self.seconds < 60 else math.ceil(self.seconds / 60) * 60
        when = format_timedelta(timedelta(seconds=seconds), threshold=1, add_direction=True)
        return _("Too many failed sign-ins for this email from your network. Please try again %(when)s.",
                 when=when)


def check(email: str) -> None:
    """Count this attempt, or raise TooSoon while the pair must still wait."""
    config = current_app.config
    attempts, gate = _keys(email)
    kept = config["LOGIN_FAILURES_KEPT_HOURS"] * 3600
    wait_ms = redis_connection().register_script(ATTEMPT)(
        keys=[attempts, gate], args=[config["LOGIN_FREE_FAILURES"], config["LOGIN_MAX_DELAY_SECONDS"], kept])
    if wait_ms:
        raise TooSoon(math.ceil(wait_ms / 1000))


def succeeded(email: str) -> None:
    """The right password: this pair starts again from nothing."""
    redis_connection().delete(*_keys(email))


def _keys(email: str) -> tuple[str, str]:
    # Hashed: the email is whatever was typed, and Redis keys should not hold addresses in clear.
    pair = hashlib.sha256(f"{email.strip().lower()}\0{_client()}".encode()).hexdigest()[:32]
    return f"signin:attempts:{pair}", f"signin:gate:{pair}"


def _client() -> str:
    """The client's address; an IPv6 client by its /64, which one subscriber usually holds whole."""
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
