"""What the window lists: today's intakes, and results waiting to leave the window (出件)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from onestop.applications.models import Application
from onestop.extensions import db
from onestop.window.models import Handover, ResultCollection, WindowIntake
from onestop.window.operations import ENDED_WITH_RESULTS


def recent_intakes(limit: int = 50) -> list[WindowIntake]:
    return list(db.session.scalars(
        select(WindowIntake).options(selectinload(WindowIntake.applicant), selectinload(WindowIntake.application))
        .order_by(WindowIntake.created_at.desc(), WindowIntake.id.desc()).limit(limit)))


def ready_for_handover(limit: int = 200) -> list[ResultCollection]:
    """Ended applications with results whose applicant chose collection at the window or mail (at the
    window's intake or online), not yet handed over; the longest waiting first."""
    return list(db.session.scalars(
        select(ResultCollection).join(Application, Application.id == ResultCollection.application_id)
        .options(selectinload(ResultCollection.application).selectinload(Application.applicant))
        .where(ResultCollection.method.in_(("window", "mail")),
               Application.state.in_(ENDED_WITH_RESULTS),
               ~exists().where(Handover.application_id == Application.id))
        .order_by(Application.ended_at, Application.id).limit(limit)))


def recent_handovers(limit: int = 50) -> list[Handover]:
    return list(db.session.scalars(
        select(Handover).options(selectinload(Handover.application), selectinload(Handover.clerk))
        .order_by(Handover.handed_at.desc(), Handover.id.desc()).limit(limit)))


def intake_for(application_id: int) -> WindowIntake | None:
    return db.session.scalar(select(WindowIntake).where(WindowIntake.application_id == application_id))
