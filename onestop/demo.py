"""Demo data beyond accounts: plausible answers for a bundle's form and a few sample applications, so that
a fresh `make run` shows every desk with something on it (a queue to work, a supplement to answer, a
completed matter with its certificates, figures for the auditor).

Everything here goes through the same operations as the pages (submit, decide): the samples are real
applications with real clocks, audit events and messages. Tests use the answer samples too.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from pypdf import PdfWriter
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from onestop.accounts.models import User
from onestop.applications.models import Application
from onestop.applications.operations import submit
from onestop.applications.uploads import check_and_store
from onestop.catalog.operations import bundle_of, current_version
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews.operations import Decision, decide
from workflows.catalog.schema import Bundle, FieldType
from workflows.states import StepAction

RESTAURANT_ANSWERS: dict[str, Any] = {
    "enterprise_name": "郑州豫味餐饮管理有限公司", "credit_code": None, "legal_rep_name": "李明",
    "operator_name": "王芳", "operator_id": None, "operator_phone": "13800000002", "shop_name": "豫味小馆（花园路店）",
    "shop_address": "郑州市金水区花园路18号", "floor_area": 350, "seats": 120, "food_category": "hot",
    "food_safety_manager": "赵强", "daily_drainage": 12, "wants_outdoor_sign": False,
}

COMPANY_ANSWERS: dict[str, Any] = {
    "company_name": "郑州新芽科技有限公司", "company_type": "llc", "registered_capital": 100,
    "business_scope": "软件开发；信息技术咨询服务", "company_address": "郑州市金水区经三路25号", "employees": 5,
    "legal_rep_name": "张三", "legal_rep_id": None, "legal_rep_phone": "13800000001", "seal_sets": 1,
    "invoice_type": "electronic", "want_housing_fund": True, "want_bank_account": True, "bank_name": "icbc",
}

SAMPLE_ANSWERS = {"restaurant_opening": RESTAURANT_ANSWERS, "company_establishment": COMPANY_ANSWERS}


def blank_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def plausible_answers(bundle: Bundle, applicant: User, **overrides: Any) -> dict[str, Any]:
    """Plausible answers for every field of a bundle (the known samples where there are some); fields
    hidden by the answers are left out, as the form would."""
    samples = SAMPLE_ANSWERS.get(bundle.code, {})
    answers: dict[str, Any] = {}
    for spec in bundle.fields:
        if spec.key in samples and samples[spec.key] is not None:
            answers[spec.key] = samples[spec.key]
            continue
        answers[spec.key] = {
            FieldType.SELECT: lambda s: s.choices[0].value,
            FieldType.NUMBER: lambda s: int(s.min or 1),
            FieldType.INTEGER: lambda s: int(s.min or 1),
            FieldType.BOOLEAN: lambda s: s.required,  # a required checkbox is a commitment: ticked
            FieldType.DATE: lambda s: "2025-01-06",
            FieldType.RESIDENT_ID: lambda s: applicant.id_number,
            FieldType.CREDIT_CODE: lambda s: applicant.enterprise.credit_code if applicant.enterprise else None,
            FieldType.PHONE: lambda s: "13800000002",
            FieldType.EMAIL: lambda s: "op@example.cn",
        }.get(spec.type, lambda s: "测试内容")(spec)
    answers.update(overrides)
    return {k: v for k, v in answers.items()
            if v is not None and (bundle.field(k).show_if is None or bundle.field(k).show_if.holds(answers))}


def submit_sample(bundle_code: str, applicant: User, **overrides: Any) -> Application:
    """Submit a bundle for `applicant` with plausible answers and a blank PDF for every required material."""
    version = current_version(bundle_code)
    bundle = bundle_of(version)
    answers = plausible_answers(bundle, applicant, **overrides)
    materials = {}
    for spec in bundle.materials:
        if (spec.show_if is None or spec.show_if.holds(answers)) and not spec.held_by_government and spec.required:
            storage = FileStorage(io.BytesIO(blank_pdf()), filename=f"{spec.key}.pdf")
            materials[spec.key] = check_and_store(storage, applicant, spec.key, ["pdf", "jpeg", "png"]).id
    return submit(applicant, version, answers, materials, uuid.uuid4().hex).application


def _reviewer(department_code: str) -> User:
    user = db.session.scalar(select(User).where(User.username == f"{department_code}_reviewer"))
    assert user is not None, f"demo reviewer {department_code}_reviewer"
    return user


def _work_open_steps(application: Application, skip: frozenset[str] = frozenset(), rounds: int = 10) -> None:
    """Accept and approve every open step (but those of `skip`), round after round, as the reviewers would."""
    for _ in range(rounds):
        open_steps = [s for s in application.steps if s.state in ("received", "accepted") and s.item_code not in skip]
        if not open_steps:
            return
        for step in open_steps:
            reviewer = _reviewer(step.department.code)
            if step.state == "received":
                decide(step.id, None, Decision(StepAction.ACCEPT), reviewer)
            decide(step.id, None, Decision(StepAction.APPROVE), reviewer)


def create_samples(person: User, operator: User) -> list[str]:
    """A few applications in telling states; returns one line per sample for the console."""
    lines = []
    done = submit_sample("company_establishment", person)
    commit()
    _work_open_steps(done)
    commit()
    lines.append(f"{done.reference}  企业开办  {person.username}: 已办结, 电子证照已签发 / completed, certificates issued")

    restaurant = submit_sample("restaurant_opening", operator)
    commit()
    _work_open_steps(restaurant, skip=frozenset({"food_licence", "fire_check", "drainage_permit"}))
    fire = next(s for s in restaurant.steps if s.item_code == "fire_check")
    decide(fire.id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
        {"kind": "material", "key": "fire_safety_plan", "message": "缺少疏散示意图，请补充后重新上传"},
    ]), _reviewer("fire"))
    food = next(s for s in restaurant.steps if s.item_code == "food_licence")
    decide(food.id, None, Decision(StepAction.ACCEPT), _reviewer("samr"))
    commit()
    lines.append(f"{restaurant.reference}  开办餐饮店  {operator.username}: 营业执照已准予, 消防待补正, "
                 "排水待受理 / licence approved, fire check awaits a supplement, drainage in the queue")

    lines.extend(offer_sample_benefit(operator))

    waiting = submit_sample("company_establishment", person, company_name="郑州青禾文化传媒有限公司",
                            want_bank_account=False)
    commit()
    lines.append(f"{waiting.reference}  企业开办  {person.username}: 待受理 / in the reviewers' queues")
    return lines


def offer_sample_benefit(operator: User) -> list[str]:
    """Last year's unemployment-insurance data of the demo enterprise (as 人社 would hold it), then the
    match: the enterprise finds a 稳岗返还 offer waiting, with its amount and formula (免申即享)."""
    from onestop.audit.operations import Actor
    from onestop.benefits.operations import import_enterprise_data, match
    from onestop.catalog.operations import current_versions
    from onestop.core.clock import local_now

    enterprise = operator.enterprise
    assert enterprise is not None
    year = local_now().year - 1
    data = ("credit_code,name,year,insured_staff,layoffs,premiums_paid,arrears\n"
            f"{enterprise.credit_code},{enterprise.name},{year},48,1,18650.40,0\n").encode()
    import_enterprise_data(data, "demo-unemployment-insurance.csv", Actor.system())
    lines = []
    for version in current_versions():
        if bundle_of(version).intake == "offer":
            report = match(version, Actor.system(), year)
            lines.extend(f"(offer)  {bundle_of(version).name.zh}  {operator.username}: 待企业一键确认 / awaiting the "
                         "enterprise's one-click confirmation" for _ in report.offered)
    commit()
    return lines
