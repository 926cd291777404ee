"""The one clock. Every "now" in onestop comes from here, so tests can freeze time in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def local_tz() -> ZoneInfo:
    name = current_app.config["ONESTOP_TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def local_now() -> datetime:
    return now().astimezone(local_tz())


def to_local(value: datetime | None) -> datetime | None:
    return value.astimezone(local_tz()) if value is not None else None
