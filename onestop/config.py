"""Settings from the environment, parsed strictly.

Every setting has one place here. A bad value stops start-up with a message naming the variable, the value
and what was expected, rather than failing later in a request.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


def _int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def _url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme.split("+", 1)[0] not in schemes:
        raise ConfigError(f"{name}={raw!r}: expected a URL starting with one of {', '.join(s + '://' for s in schemes)}")
    return raw


def _smtp(raw: str) -> dict[str, Any]:
    """ONESTOP_SMTP_URL: smtp://[user:password@]host[:port] (STARTTLS when the server offers it and
    always on 587), or smtps://... (TLS from the start, port 465 by default)."""
    name = "ONESTOP_SMTP_URL"
    parts = urlsplit(raw)
    if parts.password:  # the messages below must not print the password
        raw = raw.replace(":" + parts.password + "@", ":***@", 1)
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"{name}={raw!r}: expected a URL starting with smtp:// or smtps://")
    if not parts.hostname:
        raise ConfigError(f"{name}={raw!r}: the URL names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{name}={raw!r}: only user, password, host and port belong in it")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: the port is not a number from 1 to 65535") from None
    return {"ssl": parts.scheme == "smtps", "host": parts.hostname, "port": port,
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None}


def _mail_from(raw: str) -> str:
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", raw):
        raise ConfigError(f"ONESTOP_MAIL_FROM={raw!r}: expected an e-mail address such as noreply@example.gov.cn")
    return raw


def _dev_secret_key(instance: Path) -> str:
    """A random key kept under instance/, so development sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass
class Settings:
    env: str
    instance_path: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    timezone: str
    upload_max_bytes: int
    session_idle_minutes: int
    argon2_profile: str
    public_url: str
    pki_dir: Path
    tsa_url: str | None
    smtp: dict[str, Any] | None = None
    mail_from: str = "noreply@onestop.invalid"
    claim_idle_minutes: int = 30
    service_hall: str = "郑州市政务服务中心 综合窗口"
    api_rate_limit: str = "600 per minute"
    extra: dict[str, Any] = field(default_factory=dict)

    def flask_config(self) -> dict[str, Any]:
        production = self.env == "production"
        return {
            "ONESTOP_ENV": self.env,
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(self.database_url),
            "REDIS_URL": self.redis_url,
            "ONESTOP_TIMEZONE": self.timezone,
            "MAX_CONTENT_LENGTH": self.upload_max_bytes + 1024 * 1024,  # form fields on top of the file
            "ONESTOP_UPLOAD_MAX_BYTES": self.upload_max_bytes,
            "ONESTOP_UPLOAD_DIR": str(self.instance_path / "uploads"),
            "PERMANENT_SESSION_LIFETIME": self.session_idle_minutes * 60,
            "SESSION_REFRESH_EACH_REQUEST": True,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": production,
            "REMEMBER_COOKIE_DURATION": 0,
            "WTF_CSRF_TIME_LIMIT": 3600 * 8,
            "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
            "BABEL_DEFAULT_TIMEZONE": self.timezone,
            "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "RATELIMIT_HEADERS_ENABLED": True,
            "ONESTOP_ARGON2_PROFILE": self.argon2_profile,
            "ONESTOP_PUBLIC_URL": self.public_url,
            "ONESTOP_PKI_DIR": str(self.pki_dir),
            "ONESTOP_TSA_URL": self.tsa_url,
            "ONESTOP_CERTIFICATE_DIR": str(self.instance_path / "certificates"),
            "ONESTOP_SMTP": self.smtp,
            "ONESTOP_MAIL_FROM": self.mail_from,
            "ONESTOP_CLAIM_IDLE_MINUTES": self.claim_idle_minutes,
            "ONESTOP_SERVICE_HALL": self.service_hall,
            "ONESTOP_API_RATE_LIMIT": self.api_rate_limit,
            **self.extra,
        }


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Several threads share the file in the development server and in tests; writes are serialised
        # by SQLite itself, and a busy writer waits instead of failing at once.
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_pre_ping": True}


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; synchronous=NORMAL in WAL mode stays consistent and
    loses nothing on an application crash (only on a power cut, the last commits)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def load_settings(environ: dict[str, str] | None = None, instance_path: Path | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    instance = Path(env.get("ONESTOP_INSTANCE_PATH") or instance_path or PROJECT_ROOT / "instance")

    mode = env.get("ONESTOP_ENV", "development").strip().lower()
    if mode not in {"development", "production", "testing"}:
        raise ConfigError(f"ONESTOP_ENV={mode!r}: expected development, production or testing")

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'onestop.sqlite3'}"
    database_url = _url("DATABASE_URL", database_url, ("sqlite", "postgresql"))
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    redis_url = env.get("REDIS_URL") or None
    if redis_url:
        redis_url = _url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))

    secret_key = env.get("SECRET_KEY", "")
    if mode == "production":
        if len(secret_key) < 32:
            raise ConfigError("SECRET_KEY must be set to at least 32 random characters in production")
    elif not secret_key:
        secret_key = _dev_secret_key(instance)

    tz = env.get("ONESTOP_TIMEZONE", "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"ONESTOP_TIMEZONE={tz!r}: not a known IANA time zone") from None

    argon2_profile = env.get("ONESTOP_ARGON2_PROFILE", "default")
    if argon2_profile not in {"default", "fast-insecure-tests-only"}:
        raise ConfigError(f"ONESTOP_ARGON2_PROFILE={argon2_profile!r}: expected default")
    if argon2_profile != "default" and mode == "production":
        raise ConfigError("ONESTOP_ARGON2_PROFILE may only be lowered in tests")

    # The address printed in certificates' QR codes: it must be where the public reaches this site.
    public_url = env.get("ONESTOP_PUBLIC_URL", "")
    if not public_url:
        if mode == "production":
            raise ConfigError("ONESTOP_PUBLIC_URL must be set in production (the address in certificates' QR codes)")
        public_url = "http://127.0.0.1:5000"
    public_url = _url("ONESTOP_PUBLIC_URL", public_url, ("http", "https")).rstrip("/")
    if "?" in public_url or "#" in public_url:
        raise ConfigError(f"ONESTOP_PUBLIC_URL={public_url!r}: expected a site address without query or fragment")

    tsa_url = env.get("ONESTOP_TSA_URL") or None
    if tsa_url:
        tsa_url = _url("ONESTOP_TSA_URL", tsa_url, ("http", "https"))
    smtp = _smtp(env["ONESTOP_SMTP_URL"]) if env.get("ONESTOP_SMTP_URL") else None
    mail_from = _mail_from(env.get("ONESTOP_MAIL_FROM", "noreply@onestop.invalid"))

    return Settings(
        env=mode,
        instance_path=instance,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        timezone=tz,
        upload_max_bytes=_int("ONESTOP_UPLOAD_MAX_MB", env.get("ONESTOP_UPLOAD_MAX_MB", "10"), 1) * 1024 * 1024,
        session_idle_minutes=_int("ONESTOP_SESSION_IDLE_MINUTES", env.get("ONESTOP_SESSION_IDLE_MINUTES", "30"), 1),
        argon2_profile=argon2_profile,
        public_url=public_url,
        pki_dir=Path(env.get("ONESTOP_PKI_DIR") or instance / "pki"),
        tsa_url=tsa_url,
        smtp=smtp,
        mail_from=mail_from,
        claim_idle_minutes=_int("ONESTOP_CLAIM_IDLE_MINUTES", env.get("ONESTOP_CLAIM_IDLE_MINUTES", "30"), 1),
        service_hall=_service_hall(env.get("ONESTOP_SERVICE_HALL", "郑州市政务服务中心 综合窗口")),
        api_rate_limit=_rate_limit(env.get("ONESTOP_API_RATE_LIMIT", "600 per minute")),
    )


def _service_hall(raw: str) -> str:
    """The hall whose comprehensive window (综合窗口) the window clerks serve: printed on acceptance slips."""
    hall = raw.strip()
    if not hall or len(hall) > 100:
        raise ConfigError(f"ONESTOP_SERVICE_HALL={raw!r}: expected the hall's name, 1 to 100 characters")
    return hall


def _rate_limit(raw: str) -> str:
    """Per API token, in Flask-Limiter's notation ("600 per minute", "10/second;1000/hour")."""
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"ONESTOP_API_RATE_LIMIT={raw!r}: expected e.g. '600 per minute'") from None
    return raw

