"""Pinned bundle versions: an application keeps the definition it was submitted under."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.db import UTCDateTime
from onestop.extensions import db
from workflows.catalog.schema import Bundle


class BundleVersion(db.Model):  # type: ignore[name-defined]
    __tablename__ = "bundle_versions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_current: Mapped[bool] = mapped_column(default=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @cached_property
    def bundle(self) -> Bundle:
        return Bundle.model_validate(self.definition)
