"""Test factories: accounts, files and applications in the life-cycle states tests need."""

from __future__ import annotations

import io
import itertools
import uuid
from typing import Any

from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from onestop.accounts.models import Department, StaffRoleName, User, UserKind
from onestop.accounts.operations import create_staff, register_enterprise, register_person
from onestop.applications.models import Application, Step
from onestop.applications.operations import submit
from onestop.applications.uploads import check_and_store
from onestop.catalog.operations import bundle_of, current_version
from onestop.demo import COMPANY_ANSWERS, RESTAURANT_ANSWERS, blank_pdf, plausible_answers  # noqa: F401
from onestop.extensions import db
from onestop.reviews.operations import Decision, decide
from workflows.identity import credit_code_check_char, resident_id_check_digit
from workflows.states import StepAction

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def id_number(birth: str = "19900307") -> str:
    first17 = f"410105{birth}{next(_seq) % 1000:03d}"
    return first17 + resident_id_check_digit(first17)


def credit_code() -> str:
    first17 = f"91410100MA{next(_seq) % 10**7:07d}"
    return first17 + credit_code_check_char(first17)


pdf_bytes = blank_pdf


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "PNG")
    return out.getvalue()


def make_person(username: str | None = None, consent: bool = True, **extra: Any) -> User:
    from onestop.core.clock import now

    user = register_person(
        username=username or f"person{next(_seq)}", password=PASSWORD, name=extra.pop("name", "张三"),
        id_number=extra.pop("id_number", None) or id_number(), phone="13800000001", email="p@example.cn",
        address="郑州市金水区经三路25号", **extra,
    )
    user.prefill_consent_at = now() if consent else None
    return user


def make_operator(username: str | None = None, consent: bool = True, code: str | None = None,
                  enterprise_name: str = "郑州豫味餐饮管理有限公司") -> User:
    from onestop.core.clock import now

    user = register_enterprise(
        username=username or f"operator{next(_seq)}", password=PASSWORD, credit_code=code or credit_code(),
        enterprise_name=enterprise_name, legal_representative="李明", enterprise_address="郑州市金水区花园路18号",
        operator_name="王芳", operator_id_number=id_number("19880512"), phone="13800000002",
    )
    user.prefill_consent_at = now() if consent else None
    return user


def department(code: str) -> Department:
    return db.session.scalar(select(Department).where(Department.code == code))


def make_reviewer(department_code: str, username: str | None = None, head: bool = False) -> User:
    dept = department(department_code)
    roles = [(dept, StaffRoleName.REVIEWER)] + ([(dept, StaffRoleName.HEAD)] if head else [])
    return create_staff(username=username or f"{department_code}_r{next(_seq)}", password=PASSWORD,
                        name=f"{dept.name_zh}审批员", roles=roles)


def make_auditor() -> User:
    return create_staff(username=f"auditor{next(_seq)}", password=PASSWORD, name="监察员", kind=UserKind.AUDITOR)


def answers_for(bundle_code: str, applicant: User, **overrides: Any) -> dict[str, Any]:
    """Plausible answers for every field of a bundle (the known samples where there are some)."""
    return plausible_answers(bundle_of(current_version(bundle_code)), applicant, **overrides)


def upload(owner: User, key: str, content: bytes | None = None, filename: str = "file.pdf") -> int:
    storage = FileStorage(io.BytesIO(content or pdf_bytes()), filename=filename)
    return check_and_store(storage, owner, key, ["pdf", "jpeg", "png"]).id


def make_application(
    bundle_code: str = "restaurant_opening", applicant: User | None = None, answers: dict[str, Any] | None = None,
    state: str = "submitted",
) -> Application:
    """An application in a named life-cycle state: submitted, licence_approved, completed."""
    version = current_version(bundle_code)
    bundle = bundle_of(version)
    if applicant is None:
        applicant = make_operator() if bundle.audience == "enterprise" else make_person()
    if answers is None:
        answers = answers_for(bundle_code, applicant)
        if bundle_code == "restaurant_opening":
            answers["operator_id"] = applicant.id_number
    materials = {}
    for spec in bundle.materials:
        visible = spec.show_if is None or spec.show_if.holds(answers)
        if visible and not spec.held_by_government and spec.required:
            materials[spec.key] = upload(applicant, spec.key)
    application = submit(applicant, version, answers, materials, uuid.uuid4().hex).application
    if state in ("licence_approved", "completed"):
        approve_open_steps(application, rounds=1 if state == "licence_approved" else 10)
    return application


def approve_open_steps(application: Application, rounds: int = 10) -> None:
    """Accept and approve every open step, round after round, as the departments' reviewers would."""
    reviewers: dict[int, User] = {}
    for _ in range(rounds):
        open_steps = [s for s in application.steps if s.state in ("received", "accepted")]
        if not open_steps:
            return
        for step in open_steps:
            reviewer = reviewers.get(step.department_id)
            if reviewer is None:
                reviewer = reviewers[step.department_id] = make_reviewer(step.department.code)
            if step.state == "received":
                decide(step.id, None, Decision(StepAction.ACCEPT), reviewer)
            decide(step.id, None, Decision(StepAction.APPROVE), reviewer)


def step_of(application: Application, item_code: str) -> Step:
    return next(s for s in application.steps if s.item_code == item_code)
