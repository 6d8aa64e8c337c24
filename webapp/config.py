"""Settings from the environment, with safe embedded defaults."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("AFTERDESK_INSTANCE", ROOT / "instance"))


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the app refuses to start."""


def _is_production() -> bool:
    return os.environ.get("AFTERDESK_ENV", "").lower() in {"production", "prod"}


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY") or os.environ.get("AFTERDESK_SECRET_KEY")
    if key:
        return key
    if _is_production():
        raise ConfigError(
            "SECRET_KEY is not set. In production (AFTERDESK_ENV=production) the app needs a "
            "secret key from the environment, e.g. SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')."
        )
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        INSTANCE.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{INSTANCE / 'afterdesk.db'}"
    # Accept the common short forms and use psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _trusted_proxies(value: str) -> int:
    try:
        hops = int(value.strip() or 0)
    except ValueError:
        hops = -1
    if hops < 0:
        raise ConfigError(f"TRUSTED_PROXIES must be a whole number of proxies (0 or more), not {value!r}.")
    return hops


class Config:
    PRODUCTION = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    @property
    def SQLALCHEMY_ENGINE_OPTIONS(self) -> dict:  # noqa: N802 - read by Flask-SQLAlchemy by this name
        """A pooled connection is checked before use (a restarted database costs no request), and
        a PostgreSQL that does not answer fails the request within seconds (503), not minutes."""
        options: dict[str, object] = {"pool_pre_ping": True}
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
            options["connect_args"] = {"connect_timeout": 5}
        return options

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "afterdesk_session"
    # Idle and absolute session lifetimes (ASVS 3.3).
    SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
    SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # The session cookie is written only when the session changed (not on every request): the
    # last-seen time moves at most once a minute, so the idle timeout is exact to that minute.
    SESSION_REFRESH_EACH_REQUEST = False
    SESSION_SEEN_RESOLUTION = timedelta(minutes=1)
    # Where signed-in sessions live (R27, webapp/sessions.py): "" = the app's database (the embedded
    # default); a redis:// URL (REDIS_URL when set) = Redis. The store keeps only each id's SHA-256.
    SESSION_STORE_URL = ""
    SESSION_REDIS_PREFIX = "afterdesk:"
    # The language is the browser's preference, in a cookie of its own: it outlives sign-out and is
    # known even while the session store cannot be reached (the 503 page).
    LANGUAGE_COOKIE_NAME = "afterdesk_lang"
    LANGUAGE_COOKIE_LIFETIME = timedelta(days=365)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    SHOP_TIMEZONE = "Asia/Shanghai"
    RATELIMIT_HEADERS_ENABLED = False
    # Responses of 500 bytes and more are compressed (brotli or gzip, as the browser accepts); the
    # small htmx fragments that poll are sent as they are.
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_MIN_SIZE = 500
    COMPRESS_LEVEL = 6
    COMPRESS_BR_LEVEL = 4
    COMPRESS_MIMETYPES = ["text/html", "text/css", "text/csv", "text/javascript", "application/javascript",
                          "application/json", "image/svg+xml"]
    # Static files are fingerprinted (?v=<content hash>, web/static_files.py): cached for a year.
    SEND_FILE_MAX_AGE_DEFAULT = timedelta(days=365)
    LOGIN_FAILURE_LIMIT = "10 per 5 minutes"
    # Argon2id parameters (argon2-cffi defaults: RFC 9106 low-memory profile).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    # Origins allowed to frame the compact chat-panel pages (space separated), e.g. the IM console.
    EMBED_FRAME_ANCESTORS = "'self'"
    ORDERS_PAGE_SIZE = 25

    # Payout processing (R6). A payout nobody touches is final within 30 minutes.
    PAYOUT_CLAIM_LEASE_SECONDS = 60  # a worker that claimed a payout and went silent loses it after this
    PAYOUT_POLL_SECONDS = 2  # how often to ask the channel about an accepted payout
    PAYOUT_GIVE_UP_MINUTES = 25  # unknown to the channel this long after creation: failed, money released
    WORKER_INTERVAL_SECONDS = 1.0
    # "thread": the dev server runs a worker thread (embedded default); "off": run `flask worker`.
    WORKER_MODE = "thread"
    READYZ_HEARTBEAT_MAX_AGE_SECONDS: float = 30  # /readyz: some worker must have beaten this recently
    METRICS_TOKEN = ""  # /metrics also answers `Authorization: Bearer <token>` (else loopback only)
    # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host (nginx alone: 1). 0 trusts none:
    # the client address is the socket's. More than there really are lets a client forge its address.
    TRUSTED_PROXIES = 0

    # The payment channel. Without CHANNEL_URL the embedded simulated channel below is used;
    # with it, the HTTP channel (protocol in webapp/channel/protocol.py), e.g. `python -m channelsim`.
    CHANNEL_URL = ""
    CHANNEL_SECRET = ""
    CHANNEL_NOTIFY_URL = ""  # where the channel posts signed notifications: <app base URL>/channel/notify
    CHANNEL_CONNECT_TIMEOUT = 2.0
    CHANNEL_READ_TIMEOUT = 5.0  # every channel call ends within connect + read timeout ...
    CHANNEL_REQUEST_TTL_SECONDS = 20  # ... each request is refused by the channel after this ...
    # (the claim lease, PAYOUT_CLAIM_LEASE_SECONDS, is longer still: see check_channel_timing)
    CHANNEL_CLOCK_SKEW_SECONDS = 5  # allowance between our clock and the channel's
    NOTIFY_TOLERANCE_SECONDS = 300  # notifications signed longer ago (or ahead) are refused

    # The embedded simulated payment channel.
    SIM_CHANNEL_SETTLE_SECONDS: float = 3
    SIM_CHANNEL_TRANSIENT_RATE = 0.02
    SIM_CHANNEL_FROZEN_BUYERS = "buyer4"  # demo buyer 赵六's wallet is frozen: payouts to them fail
    SIM_CHANNEL_OUTAGE = False

    # Sign-in throttling (services/signin_throttle.py; OWASP's device cookies). Each limit counts password
    # checks, reserved before the check and given back on success. LOGIN_FAILURE_LIMIT (above) is a login
    # name's budget for unknown browsers (a lockout of untrusted attempts on that account).
    LOGIN_IP_FAILURE_LIMIT = ""  # an address's budget for unknown browsers (IPv6: per /64); "": LOGIN_FAILURE_LIMIT
    LOGIN_DEVICE_FAILURE_LIMIT = "10 per 5 minutes"  # a browser that signed in to that login before: its own budget
    LOGIN_REQUEST_LIMIT = "30 per minute"  # every sign-in POST per address, whatever its outcome (a flood guard)
    LOGIN_DEVICE_COOKIE_LIFETIME = timedelta(days=180)
    LOGIN_DEVICE_COOKIE_ENTRIES = 5  # logins one browser is remembered for
    # Where the counters live: "" = Redis at REDIS_URL when set (RATELIMIT_STORAGE_URI), else the app's
    # database; or "database", or a redis:// URL.
    SIGNIN_THROTTLE_STORAGE_URI = ""
    # Step-up re-authentication (ASVS 4.3.3): changes to money settings (quotas, approval thresholds, the
    # undo window, fast refund, creating a sub-account, setting its password) need the password entered
    # this recently (a sign-in counts); otherwise the "confirm your password" page comes first.
    STEP_UP_MAX_AGE = timedelta(minutes=5)

    def __init__(self) -> None:
        self.PRODUCTION = _is_production()
        self.SECRET_KEY = _secret_key()
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        self.RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL", "memory://")
        self.SESSION_STORE_URL = os.environ.get("REDIS_URL", "")
        self.EMBED_FRAME_ANCESTORS = os.environ.get("EMBED_FRAME_ANCESTORS", self.EMBED_FRAME_ANCESTORS)
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
        self.READYZ_HEARTBEAT_MAX_AGE_SECONDS = float(os.environ.get("READYZ_HEARTBEAT_MAX_AGE_SECONDS", 30))
        env = os.environ.get
        self.TRUSTED_PROXIES = _trusted_proxies(env("TRUSTED_PROXIES", ""))
        self.WORKER_MODE = env("AFTERDESK_WORKER", self.WORKER_MODE)
        self.SIM_CHANNEL_SETTLE_SECONDS = float(env("SIM_CHANNEL_SETTLE_SECONDS", self.SIM_CHANNEL_SETTLE_SECONDS))
        self.SIM_CHANNEL_TRANSIENT_RATE = float(env("SIM_CHANNEL_TRANSIENT_RATE", self.SIM_CHANNEL_TRANSIENT_RATE))
        self.SIM_CHANNEL_FROZEN_BUYERS = env("SIM_CHANNEL_FROZEN_BUYERS", self.SIM_CHANNEL_FROZEN_BUYERS)
        self.SIM_CHANNEL_OUTAGE = env("SIM_CHANNEL_OUTAGE", "") in {"1", "true", "on", "yes"}
        self.CHANNEL_URL = env("CHANNEL_URL", "")
        self.CHANNEL_SECRET = env("CHANNEL_SECRET", "")
        self.CHANNEL_NOTIFY_URL = env("CHANNEL_NOTIFY_URL", "")
        for key in ("CHANNEL_CONNECT_TIMEOUT", "CHANNEL_READ_TIMEOUT", "CHANNEL_REQUEST_TTL_SECONDS",
                    "PAYOUT_CLAIM_LEASE_SECONDS", "PAYOUT_GIVE_UP_MINUTES"):
            value = env(key)
            if value:
                setattr(self, key, float(value))
        if self.CHANNEL_URL and not self.CHANNEL_SECRET:
            raise ConfigError("CHANNEL_URL is set but CHANNEL_SECRET is not: the channel's requests and "
                              "notifications are signed with it.")
        if self.PRODUCTION:
            self.SESSION_COOKIE_SECURE = True
            self.SESSION_COOKIE_NAME = "__Host-afterdesk"
            self.LANGUAGE_COOKIE_NAME = "__Host-afterdesk-lang"


def check_channel_timing(cfg) -> None:
    """Fencing needs: a call ends (connect + read timeout) before its request expires at the
    channel (TTL), and the request expires before the worker's claim lease runs out."""
    call = float(cfg["CHANNEL_CONNECT_TIMEOUT"]) + float(cfg["CHANNEL_READ_TIMEOUT"])
    ttl, lease = float(cfg["CHANNEL_REQUEST_TTL_SECONDS"]), float(cfg["PAYOUT_CLAIM_LEASE_SECONDS"])
    if not call < ttl < lease:
        raise ConfigError(f"channel timing must satisfy connect + read timeout ({call:g} s) < "
                          f"CHANNEL_REQUEST_TTL_SECONDS ({ttl:g} s) < PAYOUT_CLAIM_LEASE_SECONDS ({lease:g} s)")


class TestConfig(Config):
    TESTING = True
    WORKER_MODE = "off"  # tests drive the worker by hand
    SIM_CHANNEL_TRANSIENT_RATE = 0.0
    SIM_CHANNEL_FROZEN_BUYERS = "frozen-buyer"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024

    def __init__(self, database_url: str, **overrides) -> None:
        self.PRODUCTION = False
        self.SECRET_KEY = "test-secret-key"
        self.SQLALCHEMY_DATABASE_URI = database_url
        self.RATELIMIT_STORAGE_URI = "memory://"
        for key, value in overrides.items():
            setattr(self, key, value)
