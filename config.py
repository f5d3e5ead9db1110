"""Configuration read from environment variables, with safe development defaults."""
import os
from datetime import timedelta

DEV_SECRET_KEY = "dev-only-secret-key-change-me"


def database_uri(url: str) -> str:
    """SQLAlchemy URI for a postgresql:// URL, using the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings shared by every environment; each read from the environment when the app is made."""

    def __init__(self, environ=os.environ):
        self.ENV = environ.get("CRM_ENV", "development")
        self.SECRET_KEY = environ.get("SECRET_KEY", DEV_SECRET_KEY)
        self.SQLALCHEMY_DATABASE_URI = database_uri(environ.get("DATABASE_URL", ""))
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = environ.get("REDIS_URL", "")
        self.BASE_URL = environ.get("BASE_URL", "http://127.0.0.1:5000")
        self.SMTP_URL = environ.get("SMTP_URL", "")  # smtp://user:pass@host:port; empty keeps mail in the dev outbox
        self.MAIL_FROM = environ.get("MAIL_FROM", "CRM <no-reply@crm.localhost>")
        self.DEV_OUTBOX = self.ENV != "production"
        # The outbox: attempts per message, and the waits (seconds) between them.
        self.NOTIFY_MAX_ATTEMPTS = int(environ.get("NOTIFY_MAX_ATTEMPTS", "5"))
        self.NOTIFY_BACKOFF = [int(s) for s in environ.get("NOTIFY_BACKOFF", "30,120,600,1800").split(",")]
        self.NOTIFY_STALE_SECONDS = int(environ.get("NOTIFY_STALE_SECONDS", "120"))
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.ENV == "production"
        self.REMEMBER_COOKIE_SECURE = self.ENV == "production"
        # Server-side sessions (crm/accounts/sessions.py) end after this long unused, and this long after sign-in
        # however busy (docs/security.md says why these defaults). The signed cookie expires with the latter.
        self.SESSION_IDLE_HOURS = float(environ.get("SESSION_IDLE_HOURS", "8"))
        self.SESSION_MAX_HOURS = float(environ.get("SESSION_MAX_HOURS", "24"))
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=self.SESSION_MAX_HOURS)
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session: a page left open still works
        self.LOGIN_LIMITS = environ.get("LOGIN_LIMITS", "5 per 5 minutes")
        self.LOGIN_IP_LIMITS = environ.get("LOGIN_IP_LIMITS", "30 per 5 minutes")
        # argon2id cost: a name from argon2.profiles (RFC_9106_LOW_MEMORY: m=64 MiB, t=3, p=4, ~110 ms here).
        self.ARGON2_PROFILE = environ.get("ARGON2_PROFILE", "RFC_9106_LOW_MEMORY")
        self.TENANT_POOL_SIZE = int(environ.get("TENANT_POOL_SIZE", "3"))  # spare schemas kept ready
        self.TENANT_CACHE_SECONDS = float(environ.get("TENANT_CACHE_SECONDS", "10"))
        self.BABEL_DEFAULT_LOCALE = "en"
        self.BABEL_DEFAULT_TIMEZONE = environ.get("TIMEZONE", "Asia/Shanghai")
        self.LANGUAGES = ("en", "zh_Hans_CN")
        self.FIELD_KEYS = environ.get("FIELD_KEYS", "")  # id:base64key,... newest first; see docs/operations.md
        self.FIELD_INDEX_KEY = environ.get("FIELD_INDEX_KEY", "")
        # Wrong second-factor codes (sign-in step, turning it off) per account, before a wait.
        self.TWO_FACTOR_LIMITS = environ.get("TWO_FACTOR_LIMITS", "5 per 5 minutes")
        self.TESTING = False

    def check(self) -> None:
        """Refuse to run in production with development secrets or no servers."""
        if self.ENV != "production":
            return
        if self.SECRET_KEY == DEV_SECRET_KEY or len(self.SECRET_KEY) < 32:
            raise RuntimeError("CRM_ENV=production needs a SECRET_KEY of at least 32 random characters.")
        if not self.FIELD_KEYS or not self.FIELD_INDEX_KEY:
            raise RuntimeError("CRM_ENV=production needs FIELD_KEYS and FIELD_INDEX_KEY for sensitive fields.")
        if self.ARGON2_PROFILE == "CHEAPEST":
            raise RuntimeError("CRM_ENV=production refuses ARGON2_PROFILE=CHEAPEST (it is for the test suite).")
        if not self.SQLALCHEMY_DATABASE_URI or not self.REDIS_URL:
            raise RuntimeError("CRM_ENV=production needs DATABASE_URL and REDIS_URL.")
