"""Read models of ratings: the applicant's panel, the head's list of bad ratings, the staff's own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from onestop.accounts.models import Department
from onestop.applications.models import Application
from onestop.core.clock import now
from onestop.extensions import db
from onestop.ratings.models import BAD, Rating
from onestop.ratings.operations import rateable_department_ids


@dataclass(frozen=True)
class PanelRow:
    department: Department
    rating: Rating | None


def rating_panel(application: Application) -> list[PanelRow]:
    """One row per department that served the application, with its rating when given (or deemed)."""
    ratings = {r.department_id: r for r in db.session.scalars(
        select(Rating).where(Rating.application_id == application.id))}
    departments = {d.id: d for d in db.session.scalars(
        select(Department).where(Department.id.in_(rateable_department_ids(application))))}
    return [PanelRow(departments[d], ratings.get(d)) for d in rateable_department_ids(application)]


def bad_ratings(department_ids: set[int], *, answered: bool = False, limit: int = 100) -> list[Rating]:
    """Bad ratings of these departments: awaiting an answer (the earliest due first), or answered."""
    stmt = select(Rating).where(Rating.department_id.in_(department_ids), Rating.level <= BAD)
    if answered:
        stmt = stmt.where(Rating.reply.is_not(None)).order_by(Rating.replied_at.desc())
    else:
        stmt = stmt.where(Rating.reply.is_(None)).order_by(Rating.reply_due_at, Rating.id)
    return list(db.session.scalars(stmt.limit(limit)))


def bad_ratings_to_answer(department_ids: set[int]) -> tuple[int, int]:
    """(awaiting an answer, of which overdue): for the head's supervision page and its badge."""
    waiting = bad_ratings(department_ids, limit=1000)
    current = now()
    return len(waiting), sum(1 for r in waiting if r.reply_due_at is not None and r.reply_due_at < current)


def pending_appeals(department_ids: set[int]) -> list[Rating]:
    return list(db.session.scalars(select(Rating).where(
        Rating.department_id.in_(department_ids), Rating.appeal_state == "pending").order_by(Rating.appealed_at)))
