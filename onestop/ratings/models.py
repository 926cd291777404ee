"""好差评: one rating per application and department; bad ratings are answered within a limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.accounts.models import Department
from onestop.core.db import UTCDateTime
from onestop.extensions import db

# The five levels of the national 好差评 system; 2 and 1 are bad ratings (差评).
LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD = 2  # a level at or below this is a bad rating
DEEMED_LEVEL = 3  # no rating within 5 working days after the end counts as 基本满意


class Rating(db.Model):  # type: ignore[name-defined]
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("application_id", "department_id"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        # A deemed rating is the system's (no rater), and it is always 基本满意.
        CheckConstraint("deemed = (rater_id IS NULL)", name="deemed_iff_no_rater"),
        CheckConstraint("NOT deemed OR level = 3", name="deemed_level"),
        # Exactly the bad ratings must be answered, by a due date.
        CheckConstraint("(level <= 2) = (reply_due_at IS NOT NULL)", name="bad_has_reply_due"),
        CheckConstraint("reply IS NULL OR level <= 2", name="reply_only_to_bad"),
        CheckConstraint("(reply IS NULL) = (replied_at IS NULL)", name="replied_at"),
        CheckConstraint("NOT extended OR (extension_reason IS NOT NULL AND level <= 2)", name="extension_reason"),
        CheckConstraint("appeal_state IS NULL OR appeal_state IN ('pending', 'upheld', 'dismissed')",
                        name="appeal_state"),
        CheckConstraint("(appeal_state IS NULL) = (appeal_reason IS NULL)", name="appeal_reason"),
        CheckConstraint("(appeal_state IN ('upheld', 'dismissed')) = (appeal_decided_at IS NOT NULL)",
                        name="appeal_decided"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    level: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deemed: Mapped[bool] = mapped_column(default=False)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A bad rating: the head answers (and says what was remedied) by reply_due_at; one extension.
    reply_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    extended: Mapped[bool] = mapped_column(default=False)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The staff member rated may appeal within 2 working days; the head decides. An upheld appeal
    # takes the rating out of the department's figures; the applicant still sees it and the reply.
    appeal_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    appeal_state: Mapped[str | None] = mapped_column(String(16))
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appealed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    appeal_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    appeal_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appeal_note: Mapped[str | None] = mapped_column(Text)
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the head was told once

    department: Mapped[Department] = relationship()

    @property
    def is_bad(self) -> bool:
        return self.level <= BAD

    @property
    def counts(self) -> bool:
        """Whether the rating counts in the department's figures (an upheld appeal removes it)."""
        return self.appeal_state != "upheld"
