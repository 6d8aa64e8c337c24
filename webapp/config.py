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


class Config:
    PRODUCTION = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "afterdesk_session"
    # Idle and absolute session lifetimes (ASVS 3.3).
    SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
    SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    SHOP_TIMEZONE = "Asia/Shanghai"
    RATELIMIT_HEADERS_ENABLED = False
    LOGIN_FAILURE_LIMIT = "10 per 5 minutes"
    # Argon2id parameters (argon2-cffi defaults: RFC 9106 low-memory profile).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    # Origins allowed to frame the compact chat-panel pages (space separated), e.g. the IM console.
    EMBED_FRAME_ANCESTORS = "'self'"
    ORDERS_PAGE_SIZE = 25

    def __init__(self) -> None:
        self.PRODUCTION = _is_production()
        self.SECRET_KEY = _secret_key()
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        self.RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL", "memory://")
        self.EMBED_FRAME_ANCESTORS = os.environ.get("EMBED_FRAME_ANCESTORS", self.EMBED_FRAME_ANCESTORS)
        if self.PRODUCTION:
            self.SESSION_COOKIE_SECURE = True
            self.SESSION_COOKIE_NAME = "__Host-afterdesk"


class TestConfig(Config):
    TESTING = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024

    def __init__(self, database_url: str, **overrides) -> None:
        self.PRODUCTION = False
        self.SECRET_KEY = "test-secret-key"
        self.SQLALCHEMY_DATABASE_URI = database_url
        self.RATELIMIT_STORAGE_URI = "memory://"
        for key, value in overrides.items():
            setattr(self, key, value)
