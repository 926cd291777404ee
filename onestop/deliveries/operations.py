"""Posting a physical result, and its arrival (or return), each audited and told to the applicant."""

from __future__ import annotations

from onestop.accounts.models import User
from onestop.applications.models import Application, Step
from onestop.audit.operations import Actor, record
from onestop.catalog.operations import bundle_of
from onestop.core.clock import now
from onestop.deliveries.models import Delivery
from onestop.deliveries.queries import ADDRESS_FIELDS
from onestop.extensions import db
from onestop.jobs.notifications import notify_applicant


class DeliveryError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def post_result(step: Step, output_key: str, carrier: str, tracking_number: str, staff: User) -> Delivery:
    """The department mails the result: only once the whole application has ended (统一出件)."""
    if not step.can_be_worked_by(staff):
        raise DeliveryError("forbidden")
    application: Application = step.application
    bundle = bundle_of(application.bundle_version)
    output = next((o for o in bundle.outputs if o.key == output_key and o.item == step.item_code and o.physical), None)
    if output is None or step.state != "approved":
        raise DeliveryError("not_a_result")
    if application.state not in ("completed", "partially_completed"):
        raise DeliveryError("not_ended")  # all results leave together
    if db.session.query(Delivery.id).filter_by(application_id=application.id, output_key=output_key).first():
        raise DeliveryError("already_posted")
    answers = application.answer_map
    recipient, phone, address = (str(answers.get(k) or "") for k in ADDRESS_FIELDS)
    if not (recipient and phone and address):
        raise DeliveryError("no_address")
    delivery = Delivery(
        application_id=application.id, step_id=step.id, department_id=step.department_id, output_key=output_key,
        recipient=recipient, phone=phone, address=address, state="posted", carrier=carrier.strip(),
        tracking_number=tracking_number.strip(), posted_at=now(), posted_by_id=staff.id,
    )
    db.session.add(delivery)
    db.session.flush()
    actor = Actor(staff.id, staff.role_label, step.department_id)
    record("delivery:posted", "delivery", delivery.id,
           {"application": application.reference, "output": output_key, "carrier": delivery.carrier,
            "tracking_number": delivery.tracking_number}, actor=actor)
    notify_applicant(application.id, "result_posted", f"{output_key}:{delivery.tracking_number}")
    return delivery


def mark_delivered(delivery: Delivery, staff: User) -> None:
    _check(delivery, staff)
    delivery.state, delivery.delivered_at = "delivered", now()
    record("delivery:delivered", "delivery", delivery.id, actor=Actor(staff.id, staff.role_label, delivery.department_id))
    notify_applicant(delivery.application_id, "result_delivered", delivery.output_key)


def mark_returned(delivery: Delivery, note: str, staff: User) -> None:
    _check(delivery, staff)
    if not note.strip():
        raise DeliveryError("note_required")
    delivery.state, delivery.returned_at, delivery.note = "returned", now(), note.strip()
    record("delivery:returned", "delivery", delivery.id, {"note": delivery.note},
           actor=Actor(staff.id, staff.role_label, delivery.department_id))
    notify_applicant(delivery.application_id, "result_returned", delivery.output_key)


def _check(delivery: Delivery, staff: User) -> None:
    if not staff.can_work_in(delivery.department_id):
        raise DeliveryError("forbidden")
    if delivery.state != "posted":
        raise DeliveryError("not_on_its_way")
