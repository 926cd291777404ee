"""/api/v1 resources: parse, check access, call the same operations as the web pages, serialise.

No business rule lives here: submissions, answers, withdrawals and decisions go through
onestop.applications.operations, onestop.reviews (claims, operations) and onestop.certificates, which
flush and audit; each request commits once (`commit()`), which hands over the after-commit jobs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask import current_app, request, send_file, url_for
from flask_smorest import Blueprint
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.wrappers import Response

from forms.builder import build_form, build_supplement_form
from onestop.accounts.models import Department, User
from onestop.api import schemas as s
from onestop.api.auth import current_token, rate_limit_key, requires
from onestop.api.errors import fail
from onestop.api.models import IdempotencyKey
from onestop.applications.engine import open_request
from onestop.applications.expected import application_forecast
from onestop.applications.models import Application, Step
from onestop.applications.operations import (
    AnswerError,
    SubmissionError,
    answer_supplements,
    lock_application,
    submit,
    withdraw,
)
from onestop.applications.tracking import timeline
from onestop.applications.uploads import UploadError, check_and_store, upload_error_text
from onestop.audit.operations import Actor, record, verify_chain
from onestop.catalog.models import BundleVersion
from onestop.catalog.operations import bundle_of, current_version, current_versions, department_map
from onestop.certificates.models import Certificate
from onestop.certificates.operations import file_path
from onestop.certificates.service import verify_url
from onestop.certificates.verification import verify_upload
from onestop.certificates.views import MAX_UPLOAD, public_view
from onestop.core.clock import local_now, local_tz, now
from onestop.core.i18n import current_lang
from onestop.core.jobs import commit
from onestop.extensions import db, limiter
from onestop.reviews import claims, queries
from onestop.reviews.operations import Decision, DecisionError, decide
from workflows.catalog.schema import Bundle, FieldType
from workflows.states import InvalidTransition, StepAction, allowed_step_actions

IDEMPOTENCY_LIFETIME = timedelta(hours=24)
_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")

catalog_bp = Blueprint("api_catalog", __name__, url_prefix="/api/v1", description="Catalog and guides (public), and who a token acts as")
applications_bp = Blueprint("api_applications", __name__, url_prefix="/api/v1",
                            description="An applicant's applications: create, read, track, supplement, withdraw")
desk_bp = Blueprint("api_desk", __name__, url_prefix="/api/v1", description="A department's queue and decisions")
certificates_bp = Blueprint("api_certificates", __name__, url_prefix="/api/v1",
                            description="Certificates (电子证照): download and verify")
audit_bp = Blueprint("api_audit", __name__, url_prefix="/api/v1", description="Figures for auditors")
BLUEPRINTS = [catalog_bp, applications_bp, desk_bp, certificates_bp, audit_bp]


def _text(t: Any) -> dict[str, str]:
    return {"zh": t.zh, "en": t.en}


def _limit(limit: Any) -> dict[str, Any]:
    return {"amount": limit.amount, "unit": limit.unit.value}


def _user() -> User:
    return current_token().user


# -- catalog -------------------------------------------------------------------------------------------

def _summary(version: BundleVersion) -> dict[str, Any]:
    bundle = bundle_of(version)
    return {"code": bundle.code, "version": bundle.version, "name": _text(bundle.name), "audience": bundle.audience,
            "life_event": _text(bundle.life_event), "lead_department": bundle.lead_department,
            "promised_limit": _limit(bundle.guide.promised_limit),
            "departments": sorted({i.department for i in bundle.items})}


@catalog_bp.route("/catalog")
@catalog_bp.response(200, s.BundleSummary(many=True))
def catalog() -> list[dict[str, Any]]:
    """Every matter (一件事) that can be applied for, in its current version."""
    return [_summary(v) for v in current_versions()]


@catalog_bp.route("/catalog/<code>")
@catalog_bp.response(200, s.GuideSchema)
def guide(code: str) -> dict[str, Any]:
    """One guide (一本指南): the one form's fields, the one set of materials, the items and their limits."""
    version = current_version(code[:64])
    if version is None:
        fail("not_found")
    bundle = bundle_of(version)
    return {
        **_summary(version), "summary": _text(bundle.guide.summary), "eligibility": _text(bundle.guide.eligibility),
        "fees": _text(bundle.guide.fees), "legal_basis": list(bundle.guide.legal_basis),
        "fields_": [{"key": f.key, "type": f.type.value, "label": _text(f.label), "required": f.required,
                     "choices": [c.value for c in f.choices] if f.choices else None, "min": f.min, "max": f.max,
                     "max_length": f.max_length, "items": list(f.items),
                     "show_if": f.show_if.model_dump(mode="json", exclude_none=True) if f.show_if else None}
                    for f in bundle.fields],
        "materials": [{"key": m.key, "name": _text(m.name), "required": m.required, "key_material": m.key_material,
                       "held_by_government": m.held_by_government, "formats": list(m.formats), "items": list(m.items),
                       "show_if": m.show_if.model_dump(mode="json", exclude_none=True) if m.show_if else None}
                      for m in bundle.materials],
        "items": [{"code": i.code, "name": _text(i.name), "department": i.department, "requires": list(i.requires),
                   "limit": _limit(i.limit), "statutory_limit": _limit(i.statutory_limit),
                   "modes": [m.value for m in i.modes], "conditional": i.condition is not None,
                   "legal_basis": i.legal_basis} for i in bundle.items],
    }


# -- applications: parsing the one form and the materials --------------------------------------------------

def _payload(schema: ma.Schema) -> tuple[dict[str, Any], dict[str, FileStorage]]:
    """JSON (materials as base64), or multipart/form-data: a `payload` part with the JSON and one file
    part per material, named by the material's key."""
    files: dict[str, FileStorage] = {}
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("payload", "{}")
        files = {k: v for k, v in request.files.items() if v is not None}
    elif request.mimetype == "application/json" or not request.get_data(cache=True):
        raw = request.get_data(as_text=True) or "{}"
    else:
        fail("unsupported_media_type")
    if "\x00" in raw:
        fail("bad_request", {"_": ["NUL characters are not accepted."]})
    try:
        data = json.loads(raw)
    except ValueError:
        fail("bad_request", {"_": ["The body is not valid JSON."]})
    if not isinstance(data, dict):
        fail("validation_failed", {"_": ["Expected a JSON object."]})
    try:
        return schema.load(data), files
    except ma.ValidationError as exc:
        fail("validation_failed", exc.normalized_messages())


def _decoded_materials(loaded: list[dict[str, Any]], files: dict[str, FileStorage]) -> dict[str, tuple[str, bytes]]:
    limit = current_app.config["ONESTOP_UPLOAD_MAX_BYTES"]
    result: dict[str, tuple[str, bytes]] = {}
    problems: dict[str, list[str]] = {}
    for item in loaded:
        try:
            content = base64.b64decode(item["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            problems[item["key"]] = ["content_base64 is not valid base64."]
            continue
        result[item["key"]] = (item["filename"], content)
    for key, upload in files.items():
        result[key] = (upload.filename or "material", upload.stream.read(limit + 1))
    if problems:
        fail("validation_failed", {"materials": problems})
    return result


def _formdata(bundle: Bundle, answers: dict[str, Any], keys: list[str] | None = None) -> MultiDict[str, str]:
    """JSON answers as the form would post them: text, 'y' for a ticked box, nothing for an empty one."""
    problems: dict[str, list[str]] = {}
    known = {f.key: f for f in bundle.fields}
    allowed = set(keys) if keys is not None else set(known)
    data: MultiDict[str, str] = MultiDict()
    for key, value in answers.items():
        if key not in known or key not in allowed:
            problems[key] = ["Unknown field." if key not in known else "Not asked."]
            continue
        if value is None or value is False:
            continue
        if isinstance(value, bool):
            if known[key].type is not FieldType.BOOLEAN:
                problems[key] = ["Expected a text or a number."]
                continue
            data[key] = "y"
        elif isinstance(value, int | float | str):
            data[key] = str(value)
        else:
            problems[key] = ["Expected a text, a number or true/false."]
    if problems:
        fail("validation_failed", {"answers": problems})
    return data


def _field_errors(form: Any, keys: list[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key in keys:
        field = form[key]
        if not field.validate(form):
            errors[key] = [str(e) for e in field.errors]
    return errors


def _store_materials(bundle: Bundle, user: User, uploads: dict[str, tuple[str, bytes]],
                     allowed: set[str]) -> dict[str, int]:
    specs = {m.key: m for m in bundle.materials if not m.held_by_government}
    problems: dict[str, list[str]] = {}
    ids: dict[str, int] = {}
    for key, (filename, content) in uploads.items():
        spec = specs.get(key)
        if spec is None or key not in allowed:
            problems[key] = ["Unknown material." if spec is None else "Not asked."]
            continue
        try:
            ids[key] = check_and_store(FileStorage(io.BytesIO(content), filename=filename[:255]), user, key,
                                       list(spec.formats)).id
        except UploadError as exc:
            problems[key] = [upload_error_text(exc, spec.formats)]
    if problems:
        fail("material_invalid", {"materials": problems})
    return ids


def _request_digest(bundle_code: str, answers: dict[str, Any], uploads: dict[str, tuple[str, bytes]]) -> str:
    canonical = json.dumps({"bundle": bundle_code, "answers": answers,
                            "materials": {k: hashlib.sha256(c).hexdigest() for k, (_n, c) in uploads.items()}},
                           sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _application_key(key: str) -> str:
    return "api:" + hashlib.sha256(key.encode()).hexdigest()[:60]


def _replay(record_: IdempotencyKey, digest: str) -> Response:
    if record_.expires_at <= now():
        fail("idempotency_key_expired", {"expired_at": record_.expires_at.isoformat()})
    if not hmac.compare_digest(record_.request_sha256, digest):
        fail("idempotency_key_reused")
    application = db.session.get(Application, record_.application_id)
    assert application is not None
    response = _json(s.ApplicationSchema().dump(_application(application)), 200)
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = url_for("api_applications.application", reference=application.reference)
    return response


def _json(data: Any, status: int) -> Response:
    response = current_app.response_class(json.dumps(data, ensure_ascii=False), status=status,
                                          mimetype="application/json")
    return response


_CREATE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": "ApplicationCreate"},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "payload": {"type": "string", "description": "the JSON body without materials"}},
            "additionalProperties": {"type": "string", "format": "binary"}}},
    },
}
_IDEMPOTENCY_HEADER = {"in": "header", "name": "Idempotency-Key", "required": True,
                       "schema": {"type": "string", "pattern": _KEY.pattern},
                       "description": "The same key with the same body within 24 hours returns the application it "
                                      "created (200, Idempotent-Replayed: true); with another body, or after 24 "
                                      "hours, it is refused (422) and nothing changes."}


@applications_bp.route("/applications", methods=["POST"])
@requires("apply")
@applications_bp.doc(requestBody=_CREATE_BODY, parameters=[_IDEMPOTENCY_HEADER])
@applications_bp.response(201, s.ApplicationSchema, headers={"Location": {"schema": {"type": "string"}}})
@applications_bp.alt_response(200, schema=s.ApplicationSchema, description="a replay of the same request")
def create_application() -> Any:
    """Submit the one form with the one set of materials (一表申请, 一套材料)."""
    user = _user()
    key = request.headers.get("Idempotency-Key", "")
    if not _KEY.match(key):
        fail("idempotency_key_required")
    body, files = _payload(s.ApplicationCreate())
    version = current_version(body["bundle"])
    if version is None:
        fail("validation_failed", {"bundle": ["Unknown matter."]})
    bundle = bundle_of(version)
    uploads = _decoded_materials(body["materials"], files)
    digest = _request_digest(bundle.code, body["answers"], uploads)
    existing = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user.id,
                                                              IdempotencyKey.key == key))
    if existing is not None:
        return _replay(existing, digest)
    if not user.is_applicant:
        fail("forbidden")
    if (bundle.audience == "enterprise") != (user.enterprise_id is not None):
        fail("wrong_audience")
    form = build_form(bundle, current_lang(), today=local_now().date())(
        formdata=_formdata(bundle, body["answers"]), meta={"csrf": False})
    errors = _field_errors(form, [f.key for f in bundle.fields])
    if errors:
        fail("validation_failed", {"answers": errors})
    answers = form.answers()
    refusals = bundle.refusals(answers, local_now().date())
    if refusals:
        fail("not_eligible", {"conditions": [r.get(current_lang()) for r in refusals]})
    visible = {m.key: m for m in bundle.materials if not m.held_by_government
               and (m.show_if is None or m.show_if.holds(answers))}
    missing = [k for k, m in visible.items() if m.required and m.key_material and k not in uploads]
    if missing:
        fail("validation_failed", {"materials": {k: ["This key material is required."] for k in missing}})
    material_ids = _store_materials(bundle, user, uploads, set(visible))
    try:
        result = submit(user, version, answers, material_ids, _application_key(key))
        if not result.created:  # the application exists but its key's record is gone: an old key
            fail("idempotency_key_expired")
        db.session.add(IdempotencyKey(user_id=user.id, key=key, request_sha256=digest,
                                      application_id=result.application.id, created_at=now(),
                                      expires_at=now() + IDEMPOTENCY_LIFETIME))
        db.session.flush()
        # Serialised before the commit, from the rows in hand (the commit expires them: reading them
        # back would cost a round trip per table); only a committed application is ever returned.
        created = s.ApplicationSchema().dump(_application(result.application))
        commit()
    except IntegrityError:
        # The same key sent twice at the same instant: the other request created it; answer as a replay.
        db.session.rollback()
        existing = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user.id,
                                                                  IdempotencyKey.key == key))
        if existing is None:
            raise
        return _replay(existing, digest)
    except SubmissionError as exc:
        db.session.rollback()
        fail("not_eligible" if exc.code == "not_eligible" else "validation_failed", {"_": [exc.code]})
    response = _json(created, 201)
    response.headers["Location"] = url_for("api_applications.application", reference=created["reference"])
    return response


def _own(reference: str) -> Application:
    application = db.session.scalar(select(Application).where(Application.reference == reference[:32]))
    # Another applicant's application is "not found": its existence is not confirmed either.
    if application is None or not application.is_owned_by(_user()):
        fail("not_found")
    return application


def _step_row(step: Step, departments: dict[int, Department]) -> dict[str, Any]:
    return {"id": step.id, "item": step.item_code, "department": departments[step.department_id].code,
            "state": step.state, "received_at": step.received_at, "accepted_at": step.accepted_at,
            "due_at": step.due_at, "decided_at": step.decided_at, "reason": step.reason,
            "legal_basis": step.legal_basis, "version": step.version_id}


def _certificate(c: Certificate) -> dict[str, Any]:
    return {"id": c.id, "serial": c.serial, "title": c.title, "kind": c.kind, "state": c.state,
            "issued_at": c.issued_at, "valid_until": c.valid_until, "revoked": c.is_revoked,
            "revoked_at": c.revoked_at, "revoke_reason": c.revoke_reason, "sha256": c.sha256,
            "verify_url": verify_url(c.token)}


def _todo(application: Application) -> list[dict[str, Any]]:
    todo = []
    for step in application.steps:
        req = open_request(step) if step.state == "supplement" else None
        if req is not None:
            todo += [{"item": step.item_code, "kind": p["kind"], "key": p["key"], "message": p["message"],
                      "due_at": req.due_at} for p in req.problems]
        todo += [{"item": step.item_code, "kind": "promised", "key": k, "message": "容缺受理时承诺补交",
                  "due_at": step.outstanding_due_at} for k in step.outstanding_materials or []]
    return todo


def _application(application: Application) -> dict[str, Any]:
    departments = {d.id: d for d in department_map().values()}
    forecast = application_forecast(application) if application.state == "in_progress" else None
    # Results exist only once an application has ended.
    certificates = [] if application.state == "in_progress" else db.session.scalars(select(Certificate).where(
        Certificate.application_id == application.id, Certificate.state == "issued").order_by(Certificate.id))
    return {
        "reference": application.reference, "query_code": application.query_code,
        "bundle": application.bundle_version.code, "bundle_version": application.bundle_version.version,
        "state": application.state, "submitted_at": application.submitted_at, "ended_at": application.ended_at,
        "expected_completion": forecast.ends if forecast else None,
        "answers": application.answer_map,
        "materials": [{"id": m.id, "key": m.material_key, "filename": m.filename, "sha256": m.sha256,
                       "size": m.size} for m in application.materials],
        "steps": [_step_row(st, departments) for st in sorted(application.steps, key=lambda x: x.id)],
        "todo": _todo(application),
        "certificates": [_certificate(c) for c in certificates],
    }


@applications_bp.route("/applications")
@requires("read")
@applications_bp.arguments(s.ListArgs, location="query")
@applications_bp.response(200, s.ApplicationList)
def applications(args: dict[str, Any]) -> dict[str, Any]:
    """The token holder's applications, newest first (an enterprise's operators share theirs)."""
    user = _user()
    if not user.is_applicant:
        fail("forbidden")
    owner = (Application.enterprise_id == user.enterprise_id) if user.enterprise_id \
        else (Application.applicant_id == user.id)
    stmt = select(Application).where(owner).order_by(Application.id.desc()).limit(args["limit"] + 1)
    after = args.get("after")
    if after:
        if not after.isdigit():
            fail("validation_failed", {"after": ["Not a cursor from this list."]})
        stmt = stmt.where(Application.id < int(after))
    rows = list(db.session.scalars(stmt))
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"items": [{"reference": a.reference, "bundle": a.bundle_version.code, "state": a.state,
                       "submitted_at": a.submitted_at, "ended_at": a.ended_at} for a in rows],
            "next_cursor": str(rows[-1].id) if more and rows else None}


@applications_bp.route("/applications/<reference>")
@requires("read")
@applications_bp.response(200, s.ApplicationSchema)
def application(reference: str) -> dict[str, Any]:
    """One of the token holder's applications: steps, the merged to-do list (一次性告知), results."""
    return _application(_own(reference))


def _track(application: Application, public: bool) -> dict[str, Any]:
    forecast = application_forecast(application) if application.state == "in_progress" else None
    steps = []
    for group in timeline(application, public=public):
        for tracked in group.steps:
            steps.append({"item": tracked.step.item_code, "department": group.department.code,
                          "state": tracked.step.state, "due_at": tracked.step.due_at,
                          "events": [{"at": e.at, "action": e.action, "state": e.to_state, "by_system": e.by_system}
                                     for e in tracked.events]})
    return {"reference": application.reference, "bundle": application.bundle_version.code,
            "state": application.state, "submitted_at": application.submitted_at,
            "ended_at": application.ended_at, "expected_completion": forecast.ends if forecast else None,
            "steps": steps}


@applications_bp.route("/applications/<reference>/track")
@requires("read")
@applications_bp.response(200, s.TrackSchema)
def track_own(reference: str) -> dict[str, Any]:
    """Progress, department by department, parcel-tracking style."""
    return _track(_own(reference), public=False)


@applications_bp.route("/track")
@limiter.limit("30 per minute", key_func=rate_limit_key)  # no token: guessing query codes stays slow
@applications_bp.arguments(s.TrackArgs, location="query")
@applications_bp.response(200, s.TrackSchema)
def track_public(args: dict[str, Any]) -> dict[str, Any]:
    """Progress by reference number and query code, without a token; no personal data."""
    candidate = db.session.scalar(select(Application).where(Application.reference == args["reference"]))
    code = args["query_code"].strip().upper()
    if candidate is None or not hmac.compare_digest(candidate.query_code, code):
        fail("not_found")
    return _track(candidate, public=True)


def _asked(application: Application) -> tuple[list[str], list[str]]:
    fields: list[str] = []
    materials: list[str] = []
    for item in _todo(application):
        target = fields if item["kind"] == "field" else materials
        if item["key"] not in target:
            target.append(item["key"])
    return fields, materials


@applications_bp.route("/applications/<reference>/supplement", methods=["POST"])
@requires("apply")
@applications_bp.doc(requestBody={"required": True, "content": {
    "application/json": {"schema": "SupplementAnswer"},
    "multipart/form-data": {"schema": {"type": "object", "properties": {"payload": {"type": "string"}},
                                       "additionalProperties": {"type": "string", "format": "binary"}}}}})
@applications_bp.response(200, s.ApplicationSchema)
def supplement(reference: str) -> dict[str, Any]:
    """Answer every open supplement request at once (the merged to-do list); only the asking departments
    resume."""
    application = _own(reference)
    user = _user()
    body, files = _payload(s.SupplementAnswer())
    bundle = bundle_of(application.bundle_version)
    fields, materials = _asked(application)
    if not fields and not materials:
        fail("invalid_state", {"_": ["Nothing is waiting for your answer."]})
    form = build_supplement_form(bundle, fields, materials, current_lang(), today=local_now().date())(
        formdata=_formdata(bundle, body["answers"], fields), meta={"csrf": False})
    errors = _field_errors(form, [k for k in fields if k in body["answers"]])
    if errors:
        fail("validation_failed", {"answers": errors})
    answers = {k: v for k, v in form.data.items() if k in body["answers"]}
    answers = {k: (int(v) if isinstance(v, Decimal) and v == v.to_integral_value() else float(v)
                   if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else
                   v.strip() if isinstance(v, str) else v) for k, v in answers.items()}
    material_ids = _store_materials(bundle, user, _decoded_materials(body["materials"], files), set(materials))
    locked = lock_application(application.id)
    assert locked is not None
    try:
        answer_supplements(locked, user, answers, material_ids)
        commit()
    except AnswerError as exc:
        db.session.rollback()
        fail("validation_failed" if exc.code in ("not_asked", "incomplete") else "invalid_state",
             {"_": [f"{exc.code}: {exc.detail}" if exc.detail else exc.code]})
    return _application(_own(reference))


@applications_bp.route("/applications/<reference>/withdraw", methods=["POST"])
@requires("apply")
@applications_bp.arguments(s.WithdrawArgs)
@applications_bp.response(200, s.ApplicationSchema)
def withdraw_application(args: dict[str, Any], reference: str) -> dict[str, Any]:
    """撤回: withdraw before completion, with a reason; open steps end as terminated."""
    application = _own(reference)
    user = _user()
    locked = lock_application(application.id)
    assert locked is not None
    try:
        withdraw(locked, args["reason"].strip(), Actor(user.id, user.kind))
        commit()
    except InvalidTransition:
        db.session.rollback()
        fail("invalid_state", {"_": ["This matter has ended and can no longer be withdrawn."]})
    return _application(_own(reference))


# -- the department's desk ---------------------------------------------------------------------------------

def _staff_department(code: str) -> Department:
    user = _user()
    department = db.session.scalar(select(Department).where(Department.code == code[:64]))
    # Another department's queue does not exist for this user.
    if department is None or not user.can_work_in(department.id):
        fail("not_found")
    return department


@desk_bp.route("/departments/<code>/queue")
@requires("read")
@desk_bp.arguments(s.QueueArgs, location="query")
@desk_bp.response(200, s.QueueSchema)
def queue(args: dict[str, Any], code: str) -> dict[str, Any]:
    """The department's queue, one tab at a time, most urgent first (keyset pages)."""
    department = _staff_department(code)
    try:
        page = queries.queue_page(department, args["tab"], queries.QueueFilter(), args.get("after"),
                                  size=args["limit"])
    except queries.BadCursor:
        fail("validation_failed", {"after": ["Not a cursor from this queue."]})
    return {"department": department.code, "tab": args["tab"], "counts": page.counts,
            "items": [{"step_id": r.step.id, "reference": r.reference, "bundle": r.bundle_code,
                       "item": r.step.item_code, "state": r.step.state, "applicant": r.applicant_name,
                       "received_at": r.step.received_at, "due_at": r.step.due_at, "held_by": r.holder_name,
                       "version": r.step.version_id} for r in page.rows],
            "next_cursor": page.next_cursor}


def _staff_step(step_id: int) -> Step:
    step = db.session.get(Step, step_id)
    if step is None or not step.can_be_worked_by(_user()):
        fail("not_found")
    return step


@desk_bp.route("/steps/<id:step_id>")
@requires("read")
@desk_bp.response(200, s.StepDetailSchema)
def step(step_id: int) -> dict[str, Any]:
    """A step of the department: only the fields and materials its item needs (data minimisation).
    Reading personal data is an audit event, as on the desk."""
    step_ = _staff_step(step_id)
    application = step_.application
    bundle = bundle_of(application.bundle_version)
    answers = application.answer_map
    fields = [f for f in bundle.fields if step_.item_code in f.items and f.key in answers]
    needed = {m.key for m in bundle.materials if step_.item_code in m.items}
    personal = [f.key for f in fields if f.personal]
    if personal:
        record("personal_data:viewed", "step", step_.id, {"application": application.reference, "fields": personal,
                                                          "via": "api"}, department_id=step_.department_id)
        commit()
    req = open_request(step_)
    departments = {d.id: d for d in department_map().values()}
    return {**_step_row(step_, departments), "reference": application.reference,
            "bundle": application.bundle_version.code,
            "allowed_actions": sorted({a.value for a in allowed_step_actions(step_.step_state)}
                                      - {"start", "terminate", "supplement_received"}),
            "answers": {f.key: answers[f.key] for f in fields},
            "materials": [{"id": m.id, "key": m.material_key, "sha256": m.sha256, "size": m.size,
                           "content_type": m.content_type} for m in application.materials if m.material_key in needed],
            "open_problems": list(req.problems) if req is not None else []}


@desk_bp.route("/steps/<id:step_id>/decisions", methods=["POST"])
@requires("decide")
@desk_bp.arguments(s.DecisionArgs)
@desk_bp.response(200, s.StepSchema)
def decide_step(args: dict[str, Any], step_id: int) -> dict[str, Any]:
    """A decision on the step (accept, also 容缺; request a supplement; suspend; resume; approve, also on
    commitment; reject with reason and legal basis). The caller claims the step for the decision, as a
    reviewer does on the desk; a step another reviewer holds is refused."""
    user = _user()
    step_ = _staff_step(step_id)
    if not step_.is_open:
        fail("already_decided")
    try:
        claims.claim(step_, user)
    except claims.ClaimError as exc:
        db.session.rollback()
        fail("claimed_by_other" if exc.holder is not None else "invalid_state")
    promised = args.get("promised_by")
    decision = Decision(
        StepAction(args["action"]), reason=(args.get("reason") or "").strip() or None,
        legal_basis=(args.get("legal_basis") or "").strip() or None,
        outstanding=list(args["outstanding"]) if args["action"] == "accept" else [],
        promised_by=promised.astimezone(local_tz()) if promised else None,
        problems=[dict(p) for p in args["problems"]] if args["action"] == "request_supplement" else [],
        on_commitment=bool(args["on_commitment"]) and args["action"] == "approve",
    )
    try:
        decided = decide(step_id, args.get("expected_version"), decision, user)
        commit()
    except DecisionError as exc:
        db.session.rollback()
        if exc.code in ("already_decided", "claimed_by_other"):
            fail(exc.code)
        if exc.code == "forbidden" or exc.code == "not_found":
            fail("not_found")
        if exc.code in ("not_allowed", "changed_meanwhile"):
            fail("invalid_state", {"_": [exc.code]})
        fail("decision_refused", {"_": [f"{exc.code}: {exc.detail}" if exc.detail else exc.code]})
    except StaleDataError:
        db.session.rollback()
        fail("already_decided")
    departments = {d.id: d for d in department_map().values()}
    return _step_row(decided, departments)


# -- certificates --------------------------------------------------------------------------------------------

def _downloadable(certificate_id: int) -> Certificate:
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or not certificate.can_be_downloaded_by(_user()):
        fail("not_found")
    return certificate


@certificates_bp.route("/certificates/<id:certificate_id>")
@requires("read")
@certificates_bp.response(200, s.CertificateSchema)
def certificate(certificate_id: int) -> dict[str, Any]:
    """A certificate's record: serial, state, SHA-256 of the sealed PDF, the public verification address."""
    return _certificate(_downloadable(certificate_id))


@certificates_bp.route("/certificates/<id:certificate_id>/pdf")
@requires("read")
@certificates_bp.response(200, description="The sealed PDF, as issued",
                          content_type="application/pdf")
def certificate_pdf(certificate_id: int) -> Response:
    """The sealed PDF (PAdES); staff downloads are audit events, as on the desk."""
    certificate_ = _downloadable(certificate_id)
    if not _user().is_applicant:
        record("certificate:downloaded", "certificate", certificate_.id, {"serial": certificate_.serial, "via": "api"},
               department_id=certificate_.department_id)
        commit()
    return send_file(file_path(certificate_), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{certificate_.serial}.pdf", max_age=0)


def _verdict(status: str, certificate_: Certificate | None, details: list[str]) -> dict[str, Any]:
    view = public_view(certificate_)
    if view is not None:
        view = {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in view.items()}
    return {"status": status, "certificate": view, "details": details}


@certificates_bp.route("/verify/<token>")
@certificates_bp.response(200, s.VerifySchema)
def verify_token(token: str) -> dict[str, Any]:
    """What a certificate's QR code says: valid, revoked or unknown (404). No token needed."""
    certificate_ = db.session.scalar(select(Certificate).where(Certificate.token == token[:32]))
    if certificate_ is None or not certificate_.is_issued:
        fail("not_found")
    return _verdict("revoked" if certificate_.is_revoked else "valid", certificate_, [])


@certificates_bp.route("/verify", methods=["POST"])
@limiter.limit("10 per minute", key_func=rate_limit_key)  # a signature check costs real CPU
@certificates_bp.doc(requestBody={"required": True, "content": {
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}})
@certificates_bp.response(200, s.VerifySchema)
def verify_pdf() -> dict[str, Any]:
    """Send a PDF: is it ours, intact (nothing changed after sealing) and standing (not revoked)?"""
    if request.mimetype != "application/pdf":
        fail("unsupported_media_type")
    data = request.get_data()
    if len(data) > MAX_UPLOAD:
        fail("payload_too_large")
    verdict = verify_upload(data)
    return _verdict(verdict.status, verdict.certificate, list(verdict.details))


# -- auditors -------------------------------------------------------------------------------------------------

def _auditor() -> None:
    if _user().kind not in ("auditor", "admin"):
        fail("forbidden")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), local_tz())


@audit_bp.route("/audit/volumes")
@requires("audit")
@audit_bp.arguments(s.VolumeArgs, location="query")
@audit_bp.response(200, s.VolumesSchema)
def volumes(args: dict[str, Any]) -> dict[str, Any]:
    """Per matter: applications submitted in the period (local dates, `to` included), still in progress,
    ended; their decided steps and how many were decided by their due date."""
    _auditor()
    start, end = args.get("start"), args.get("end")
    if start and end and end < start:
        fail("validation_failed", {"to": ["Must not be before 'from'."]})
    where = []
    if start:
        where.append(Application.submitted_at >= _day_start(start))
    if end:
        where.append(Application.submitted_at < _day_start(end + timedelta(days=1)))
    apps = db.session.execute(
        select(BundleVersion.code, func.count(Application.id),
               func.sum(case((Application.state == "in_progress", 1), else_=0)))
        .join(BundleVersion, BundleVersion.id == Application.bundle_version_id).where(*where)
        .group_by(BundleVersion.code)).all()
    decided = and_(Step.decided_at.is_not(None), Step.state.in_(("approved", "rejected")))
    steps = {code: (n, on_time) for code, n, on_time in db.session.execute(
        select(BundleVersion.code, func.count(Step.id),
               func.sum(case((and_(Step.due_at.is_not(None), Step.decided_at <= Step.due_at), 1), else_=0)))
        .join(Application, Application.id == Step.application_id)
        .join(BundleVersion, BundleVersion.id == Application.bundle_version_id)
        .where(decided, *where).group_by(BundleVersion.code))}
    record("audit:figures_read", "api", None, {"report": "volumes", "from": start, "to": end})
    commit()
    return {"start": start, "end": end, "bundles": [
        {"bundle": code, "submitted": int(n), "in_progress": int(open_ or 0), "ended": int(n) - int(open_ or 0),
         "steps_decided": int(steps.get(code, (0, 0))[0]), "steps_on_time": int(steps.get(code, (0, 0))[1] or 0)}
        for code, n, open_ in sorted(apps)]}


@audit_bp.route("/audit/chain")
@requires("audit")
@audit_bp.response(200, s.ChainSchema)
def chain() -> dict[str, Any]:
    """Verify the tamper-evident audit trail (each event carries the hash of the one before)."""
    _auditor()
    report = verify_chain()
    return {"ok": report.ok, "checked": report.checked, "broken_at_seq": report.broken_at_seq,
            "problem": report.problem}


@catalog_bp.route("/me")
@requires("read")
@catalog_bp.response(200, s.WhoAmI)
def me() -> dict[str, Any]:
    """Who the token acts as, and what it may do."""
    token = current_token()
    return {"user": token.user.username, "kind": token.user.kind, "token": token.prefix, "token_kind": token.kind,
            "system": token.system_name, "scopes": list(token.scopes)}
