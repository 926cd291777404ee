"""Template filters: local times, masked numbers, catalog texts in the page's language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from flask_babel import format_datetime
from flask_babel import gettext as _

from onestop.core.clock import to_local
from onestop.core.i18n import current_lang
from workflows.identity import mask_name, mask_phone, mask_resident_id


def local_time(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    if value is None:
        return ""
    return format_datetime(to_local(value), fmt)


def text(value: Any) -> str:
    """A catalog Text (zh/en) in the current language."""
    if value is None:
        return ""
    if hasattr(value, "get"):
        return str(value.get(current_lang()))
    return str(value)


def limit_text(limit: Any) -> str:
    """0.5 个工作日 / 0.5 working days; accepts a catalog TimeLimit or a step's (amount, unit)."""
    amount, unit = (limit.amount, limit.unit) if hasattr(limit, "amount") else limit
    number = format(Decimal(amount).normalize(), "f")
    texts = {
        "working_days": _("%(n)s working days", n=number),
        "natural_days": _("%(n)s days", n=number),
        "working_hours": _("%(n)s working hours", n=number),
        "minutes": _("%(n)s minutes", n=number),
    }
    return texts[str(getattr(unit, "value", unit))]


def application_state(state: str) -> str:
    return {
        "in_progress": _("In progress"),
        "completed": _("Completed"),
        "partially_completed": _("Partially completed"),
        "rejected": _("Rejected"),
        "withdrawn": _("Withdrawn"),
    }.get(state, state)


def step_state(state: str) -> str:
    return {
        "waiting": _("Waiting for a prior item"),
        "received": _("Received, to be accepted"),
        "accepted": _("Accepted, under review"),
        "supplement": _("Waiting for your supplement"),
        "suspended": _("Suspended"),
        "approved": _("Approved"),
        "rejected": _("Rejected"),
        "terminated": _("Terminated"),
    }.get(state, state)


def role_label(role: str) -> str:
    return {
        "person": _("Applicant"), "enterprise": _("Applicant"), "reviewer": _("Reviewer"),
        "head": _("Department head"), "system": _("the system"), "admin": _("Administrator"),
        "auditor": _("Auditor"),
    }.get(role, role)


def due_explanation(step: Any) -> list[str]:
    from onestop.applications.engine import explain

    return explain(step, current_lang())


def init_app(app: Flask) -> None:
    @app.context_processor
    def _unread() -> dict[str, Any]:
        from flask_login import current_user
        from sqlalchemy import func, select

        from onestop.applications.models import Notification
        from onestop.extensions import db

        if not current_user or not current_user.is_authenticated:
            return {"unread_count": 0}
        count = db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == current_user.id, Notification.read_at.is_(None)))
        return {"unread_count": count}

    app.jinja_env.filters.update(
        local_time=local_time,
        text=text,
        limit=limit_text,
        app_state=application_state,
        step_state=step_state,
        due_explanation=due_explanation,
        role=role_label,
        mask_id=mask_resident_id,
        mask_phone=mask_phone,
        mask_name=mask_name,
    )
