"""Physical results of an application and where each is on its way, for the applicant and the staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from onestop.applications.models import Application, Step
from onestop.catalog.operations import bundle_of
from onestop.deliveries.models import Delivery
from onestop.extensions import db
from workflows.catalog.schema import Bundle, Output

# The form fields a bundle with a physical result asks for (a unit test checks every such bundle has them).
ADDRESS_FIELDS = ("delivery_recipient", "delivery_phone", "delivery_address")


@dataclass(frozen=True)
class PhysicalResult:
    output: Output
    step: Step
    delivery: Delivery | None  # None: not posted yet
    address: dict[str, Any]  # what the application gave (recipient, phone, address)

    @property
    def status(self) -> str:
        """not_issued (the item was not approved) | preparing | posted | delivered | returned"""
        if self.step.state != "approved":
            return "not_issued"
        return self.delivery.state if self.delivery is not None else "preparing"


def _address(application: Application) -> dict[str, Any]:
    answers = application.answer_map
    return {"recipient": answers.get("delivery_recipient"), "phone": answers.get("delivery_phone"),
            "address": answers.get("delivery_address")}


def deliveries_of(application: Application, bundle: Bundle) -> list[PhysicalResult]:
    steps = {s.item_code: s for s in application.steps}
    posted = {d.output_key: d for d in db.session.scalars(
        select(Delivery).where(Delivery.application_id == application.id))}
    return [PhysicalResult(o, steps[o.item], posted.get(o.key), _address(application))
            for o in bundle.outputs if o.physical and o.item in steps]


def to_post(department_ids: set[int], limit: int = 100) -> list[tuple[Application, PhysicalResult]]:
    """Approved physical results of ended applications, in these departments, not yet delivered."""
    steps = db.session.scalars(
        select(Step).join(Application).options(selectinload(Step.application))
        .where(Step.department_id.in_(department_ids), Step.state == "approved",
               Application.state.in_(("completed", "partially_completed")))
        .order_by(Application.ended_at).limit(limit * 4)
    ).all()
    result = []
    for step in steps:
        bundle = bundle_of(step.application.bundle_version)
        if not any(o.physical and o.item == step.item_code for o in bundle.outputs):
            continue
        for physical in deliveries_of(step.application, bundle):
            if physical.step.id == step.id and physical.status in ("preparing", "posted", "returned"):
                result.append((step.application, physical))
    return result[:limit]
