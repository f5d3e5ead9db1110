"""Configuration read from environment variables, with safe development defaults."""
import os
import secrets
from datetime import timedelta
from pathlib import Path


def database_uri(url: str) -> str:
    """SQLAlchemy URI for a postgresql:// URL, using the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def connect_args(environ=os.environ) -> dict:
    """psycopg's connection arguments. Behind a pooler in transaction mode (DATABASE_POOL_MODE=transaction, e.g.
    PgBouncer 1.18 as Debian ships it) a server connection serves other clients between two transactions, so no
    statement may stay prepared on it: psycopg's automatic preparing (from a query's fifth run) is turned off."""
    if environ.get("DATABASE_POOL_MODE", "session") == "transaction":
        return {"prepare_threshold": None}
    return {}


class Config:
    """Settings shared by every environment; each read from the environment when the app is made."""

    def __init__(self, environ=os.environ):
        self.ENV = environ.get("CRM_ENV", "development")
        self.SECRET_KEY = environ.get("SECRET_KEY", "")  # empty outside production: see instance_secret_key()
        self.SQLALCHEMY_DATABASE_URI = database_uri(environ.get("DATABASE_URL", ""))
        # A connection is replaced after DATABASE_RECYCLE_SECONDS: a backend keeps the catalog entries of every
        # tenant schema it touched (issue 19: 216-295 KiB each), so a long-lived one grows with the tenants served.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "connect_args": connect_args(environ),
                                          "pool_recycle": int(environ.get("DATABASE_RECYCLE_SECONDS", "600"))}
        self.REDIS_URL = environ.get("REDIS_URL", "")
        # The address users open the app at: every link that leaves the app (email, SMS, bot, inbox) starts with it,
        # jobs included, which have no request to take a host from. scripts/run.py sets it to the address it serves.
        self.BASE_URL = environ.get("BASE_URL", "" if self.ENV == "production" else "http://127.0.0.1:5000")
        self.SMTP_URL = environ.get("SMTP_URL", "")  # smtp://user:pass@host:port; empty keeps mail in the dev outbox
        self.MAIL_FROM = environ.get("MAIL_FROM", "CRM <no-reply@crm.localhost>")
        self.DEV_OUTBOX = self.ENV != "production"
        # The outbox: attempts per message, and the waits (seconds) between them.
        self.NOTIFY_MAX_ATTEMPTS = int(environ.get("NOTIFY_MAX_ATTEMPTS", "5"))
        self.NOTIFY_BACKOFF = [int(s) for s in environ.get("NOTIFY_BACKOFF", "30,120,600,1800").split(",")]
        self.NOTIFY_STALE_SECONDS = int(environ.get("NOTIFY_STALE_SECONDS", "120"))
        # Outgoing webhooks (crm/webhooks): attempts per event, the waits (seconds) between them, how long a claim
        # lives, and how many failed attempts in a row switch a subscription off (its admins are emailed).
        self.WEBHOOK_MAX_ATTEMPTS = int(environ.get("WEBHOOK_MAX_ATTEMPTS", "8"))
        self.WEBHOOK_BACKOFF = [int(s) for s in environ.get("WEBHOOK_BACKOFF", "30,120,600,1800,7200,21600").split(",")]
        self.WEBHOOK_STALE_SECONDS = int(environ.get("WEBHOOK_STALE_SECONDS", "60"))
        self.WEBHOOK_DISABLE_AFTER = int(environ.get("WEBHOOK_DISABLE_AFTER", "50"))
        # List exports (crm/exports): up to this many rows stream straight to the browser; more are written by a
        # job into EXPORT_DIR (default: instance/exports, a folder per workspace) and fetched through a link that
        # works this many hours, for the member who asked only.
        self.EXPORT_STREAM_ROWS = int(environ.get("EXPORT_STREAM_ROWS", "50000"))
        self.EXPORT_DIR = environ.get("EXPORT_DIR", "")
        self.EXPORT_LINK_HOURS = float(environ.get("EXPORT_LINK_HOURS", "24"))
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.ENV == "production"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.ENV == "production"
        # Server-side sessions (crm/accounts/sessions.py) end after this long unused, and this long after sign-in
        # however busy (docs/security.md says why these defaults). The signed cookie expires with the latter.
        self.SESSION_IDLE_HOURS = float(environ.get("SESSION_IDLE_HOURS", "8"))
        self.SESSION_MAX_HOURS = float(environ.get("SESSION_MAX_HOURS", "24"))
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=self.SESSION_MAX_HOURS)
        # Proxies in front that set X-Forwarded-For/-Proto (0: none), so throttling sees the client's address
        # and HTTPS is recognised behind a TLS proxy.
        self.PROXY_HOPS = int(environ.get("PROXY_HOPS", "0"))
        # Logs (crm/monitoring): "text" as Python prints them, or "json" (one object a line with the request id
        # and tenant id: the shipped scripts/deploy units set it); /metrics answers only Bearer METRICS_TOKEN.
        self.LOG_FORMAT = environ.get("LOG_FORMAT", "text")
        self.LOG_LEVEL = environ.get("LOG_LEVEL", "INFO")
        self.METRICS_TOKEN = environ.get("METRICS_TOKEN", "")
        # The largest request body accepted (a 413 page beyond); the routes that take files raise their own.
        self.MAX_CONTENT_LENGTH = int(environ.get("MAX_REQUEST_KB", "2048")) * 1024
        # The largest customer file an import reads (crm/imports/reading.py); an XLSX may unpack to 20 times it.
        self.IMPORT_MAX_BYTES = int(float(environ.get("IMPORT_MAX_MB", "50")) * 1024 * 1024)
        # Where uploaded customer files wait for their import, outside the web root; empty: instance/imports.
        # Each workspace has its own folder below it (its schema's name).
        self.IMPORT_DIR = environ.get("IMPORT_DIR", "")
        # Attachments (crm/attachments): the largest file, how many one upload may carry, the image size (pixels)
        # past which no thumbnail is made (a decompression bomb is a small file of a huge image).
        self.ATTACHMENT_MAX_BYTES = int(float(environ.get("ATTACHMENT_MAX_MB", "25")) * 1024 * 1024)
        self.ATTACHMENT_MAX_FILES = int(environ.get("ATTACHMENT_MAX_FILES", "10"))
        self.ATTACHMENT_UPLOAD_MAX_BYTES = self.ATTACHMENT_MAX_BYTES * self.ATTACHMENT_MAX_FILES
        self.ATTACHMENT_MAX_PIXELS = int(environ.get("ATTACHMENT_MAX_PIXELS", "40000000"))
        # Workspace backups (crm/backups/): the newest BACKUP_KEEP archives of each workspace stay in the storage
        # backend; the nightly run takes one a day, once the workspace's BACKUP_HOUR (its own time zone) has passed.
        self.BACKUP_KEEP = int(environ.get("BACKUP_KEEP", "7"))
        self.BACKUP_HOUR = int(environ.get("BACKUP_HOUR", "2"))
        # "Export everything" (crm/workspace_export/): the archive's emailed link works this many days; the hourly
        # cleanup then deletes the archive.
        self.WORKSPACE_EXPORT_DAYS = float(environ.get("WORKSPACE_EXPORT_DAYS", "7"))
        # Stored files (crm/storage.py): "local" (FILE_DIR, default instance/files, a folder per workspace) or
        # "s3" (any S3-compatible store; credentials from the environment as boto3 reads them).
        self.FILE_STORAGE = environ.get("FILE_STORAGE", "local")
        self.FILE_DIR = environ.get("FILE_DIR", "")
        self.FILE_S3_BUCKET = environ.get("FILE_S3_BUCKET", "")
        self.FILE_S3_ENDPOINT_URL = environ.get("FILE_S3_ENDPOINT_URL", "")
        self.FILE_S3_REGION = environ.get("FILE_S3_REGION", "")
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session: a page left open still works
        self.LOGIN_IP_LIMITS = environ.get("LOGIN_IP_LIMITS", "30 per 5 minutes")
        # Failed sign-ins slow down the (email, address) pair that made them: this many are free, then each
        # further attempt waits twice as long as the one before (2 s, 4 s, ...) up to the cap; a success, or a
        # day without attempts, starts the count again. See crm/accounts/throttle.py.
        self.LOGIN_FREE_FAILURES = int(environ.get("LOGIN_FREE_FAILURES", "3"))
        self.LOGIN_MAX_DELAY_SECONDS = int(environ.get("LOGIN_MAX_DELAY_SECONDS", "300"))
        self.LOGIN_FAILURES_KEPT_HOURS = int(environ.get("LOGIN_FAILURES_KEPT_HOURS", "24"))
        self.CSP_REPORT_LIMITS = environ.get("CSP_REPORT_LIMITS", "60 per minute")
        # Calls one API token may make (crm/api/core.py), shared by every API route; a 429 with Retry-After beyond.
        self.API_RATE_LIMIT = environ.get("API_RATE_LIMIT", "600 per minute")
        # argon2id cost: a name from argon2.profiles (RFC_9106_LOW_MEMORY: m=64 MiB, t=3, p=4, ~110 ms here).
        self.ARGON2_PROFILE = environ.get("ARGON2_PROFILE", "RFC_9106_LOW_MEMORY")
        self.TENANT_POOL_SIZE = int(environ.get("TENANT_POOL_SIZE", "3"))  # spare schemas kept ready
        # A known tenant is kept this long per process; a suspension or rename reaches every process within
        # TENANT_CACHE_CHECK_SECONDS (tenants/resolver.py: a stamp in Redis).
        self.TENANT_CACHE_SECONDS = float(environ.get("TENANT_CACHE_SECONDS", "300"))
        self.TENANT_CACHE_CHECK_SECONDS = float(environ.get("TENANT_CACHE_CHECK_SECONDS", "1"))
        # A database connection is replaced once it has served this many tenant schemas (tenants/binding.py).
        self.TENANT_SCHEMAS_PER_CONNECTION = int(environ.get("TENANT_SCHEMAS_PER_CONNECTION", "100"))
        self.TENANT_CACHE_SIZE = int(environ.get("TENANT_CACHE_SIZE", "2000"))  # known tenants kept per process
        self.BABEL_DEFAULT_LOCALE = "en"
        self.BABEL_DEFAULT_TIMEZONE = environ.get("TIMEZONE", "Asia/Shanghai")
        self.LANGUAGES = ("en", "zh_Hans_CN")
        self.FIELD_KEYS = environ.get("FIELD_KEYS", "")  # id:base64key,... newest first; see docs/operations.md
        self.FIELD_INDEX_KEY = environ.get("FIELD_INDEX_KEY", "")
        # Wrong second-factor codes (sign-in step, turning it off) per account, before a wait.
        self.TWO_FACTOR_LIMITS = environ.get("TWO_FACTOR_LIMITS", "5 per 5 minutes")
        # Where every call to Stripe goes (a tenant's order payments, crm/payments/stripe_api.py): tests point it at
        # a local fake (tests/fake_stripe.py).
        self.STRIPE_API_BASE = environ.get("STRIPE_API_BASE", "https://api.stripe.com")
        # Billing (crm/billing): on when STRIPE_SECRET_KEY is set. Off (self-hosted), every workspace is on
        # SELF_HOSTED_PLAN (a key of public.plans; "unlimited" has no limit). A trial that ends unpaid moves the
        # workspace to FREE_PLAN; a failed payment leaves BILLING_GRACE_DAYS before the workspace turns read-only.
        self.STRIPE_SECRET_KEY = environ.get("STRIPE_SECRET_KEY", "")
        # The signing secret of the platform account's webhook endpoint (/billing/stripe-webhook).
        self.STRIPE_WEBHOOK_SECRET = environ.get("STRIPE_WEBHOOK_SECRET", "")
        # The event name of the Stripe billing meter that counts SMS past a metered plan's credits.
        self.STRIPE_SMS_METER = environ.get("STRIPE_SMS_METER", "crm_sms")
        self.SELF_HOSTED_PLAN = environ.get("SELF_HOSTED_PLAN", "unlimited")
        self.FREE_PLAN = environ.get("FREE_PLAN", "free")
        self.BILLING_GRACE_DAYS = int(environ.get("BILLING_GRACE_DAYS", "7"))
        self.TESTING = False

    def check(self) -> None:
        """Refuse to run in production with development secrets or no servers."""
        if self.ENV != "production":
            return
        if len(self.SECRET_KEY) < 32:
            raise RuntimeError("CRM_ENV=production needs a SECRET_KEY of at least 32 random characters.")
        if not self.FIELD_KEYS or not self.FIELD_INDEX_KEY:
            raise RuntimeError("CRM_ENV=production needs FIELD_KEYS and FIELD_INDEX_KEY for sensitive fields.")
        if self.ARGON2_PROFILE == "CHEAPEST":
            raise RuntimeError("CRM_ENV=production refuses ARGON2_PROFILE=CHEAPEST (it is for the test suite).")
        if not self.SQLALCHEMY_DATABASE_URI or not self.REDIS_URL:
            raise RuntimeError("CRM_ENV=production needs DATABASE_URL and REDIS_URL.")
        if not self.BASE_URL.startswith(("https://", "http://")):
            raise RuntimeError("CRM_ENV=production needs BASE_URL, the address users open (https://crm.example.com).")


def instance_secret_key(instance: Path) -> str:
    """This development instance's own random secret key, made on its first start and kept in
    `instance/secret_key` (mode 0600), so sessions survive restarts and no published key ever signs them."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = instance / f"secret_key.{os.getpid()}.tmp"
        draft.touch(mode=0o600)
        draft.write_text(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)  # atomic: when several processes start at once, the first key wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key: delete it and start again to make a new one.")
    return key
