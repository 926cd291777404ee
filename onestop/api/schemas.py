"""Marshmallow schemas of /api/v1: what requests carry and responses return (and the OpenAPI document)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from onestop.api.models import SCOPES


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class ErrorBody(ma.Schema):
    code = fields.String(required=True, metadata={"description": "stable error code"})
    message = fields.String(required=True, metadata={"description": "中文说明"})
    message_en = fields.String(required=True, metadata={"description": "English message"})
    details = fields.Raw(metadata={"description": "per-field problems, where there are some"})


class ErrorEnvelope(ma.Schema):
    error = fields.Nested(ErrorBody, required=True)


class TextSchema(ma.Schema):
    zh = fields.String(required=True)
    en = fields.String(required=True)


class LimitSchema(ma.Schema):
    amount = fields.String(required=True, metadata={"description": "a decimal, e.g. \"0.5\""})
    unit = fields.String(required=True)


class BundleSummary(ma.Schema):
    code = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.Nested(TextSchema, required=True)
    audience = fields.String(required=True, validate=validate.OneOf(["person", "enterprise"]))
    life_event = fields.Nested(TextSchema, required=True)
    lead_department = fields.String(required=True)
    promised_limit = fields.Nested(LimitSchema, required=True)
    departments = fields.List(fields.String(), required=True)


class FieldSchema(ma.Schema):
    key = fields.String(required=True)
    type = fields.String(required=True)
    label = fields.Nested(TextSchema, required=True)
    required = fields.Boolean(required=True)
    choices = fields.List(fields.String(), allow_none=True)
    min = fields.String(allow_none=True)
    max = fields.String(allow_none=True)
    max_length = fields.Integer(allow_none=True)
    show_if = fields.Dict(allow_none=True)
    items = fields.List(fields.String(), required=True)


class MaterialSpecSchema(ma.Schema):
    key = fields.String(required=True)
    name = fields.Nested(TextSchema, required=True)
    required = fields.Boolean(required=True)
    key_material = fields.Boolean(required=True)
    held_by_government = fields.Boolean(required=True)
    formats = fields.List(fields.String(), required=True)
    show_if = fields.Dict(allow_none=True)
    items = fields.List(fields.String(), required=True)


class ItemSchema(ma.Schema):
    code = fields.String(required=True)
    name = fields.Nested(TextSchema, required=True)
    department = fields.String(required=True)
    requires = fields.List(fields.String(), required=True)
    limit = fields.Nested(LimitSchema, required=True)
    statutory_limit = fields.Nested(LimitSchema, required=True)
    modes = fields.List(fields.String(), required=True)
    conditional = fields.Boolean(required=True)
    legal_basis = fields.String(required=True)


class GuideSchema(BundleSummary):
    summary = fields.Nested(TextSchema, required=True)
    eligibility = fields.Nested(TextSchema, required=True)
    fees = fields.Nested(TextSchema, required=True)
    legal_basis = fields.List(fields.String(), required=True)
    fields_ = fields.List(fields.Nested(FieldSchema), required=True, data_key="fields")
    materials = fields.List(fields.Nested(MaterialSpecSchema), required=True)
    items = fields.List(fields.Nested(ItemSchema), required=True)


class MaterialUpload(Strict):
    key = fields.String(required=True, validate=validate.Length(min=1, max=64))
    filename = fields.String(load_default="material", validate=validate.Length(max=255))
    content_base64 = fields.String(required=True, validate=validate.Length(min=1))


class ApplicationCreate(Strict):
    bundle = fields.String(required=True, validate=validate.Length(min=1, max=64))
    answers = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    materials = fields.List(fields.Nested(MaterialUpload), load_default=list)


class SupplementAnswer(Strict):
    answers = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), load_default=dict)
    materials = fields.List(fields.Nested(MaterialUpload), load_default=list)


class WithdrawArgs(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ProblemSchema(ma.Schema):
    kind = fields.String(required=True)
    key = fields.String(required=True)
    message = fields.String(required=True)


class StepSchema(ma.Schema):
    id = fields.Integer(required=True)
    item = fields.String(required=True)
    department = fields.String(required=True)
    state = fields.String(required=True)
    received_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    legal_basis = fields.String(allow_none=True)
    version = fields.Integer(required=True)


class TodoSchema(ma.Schema):
    item = fields.String(required=True)
    kind = fields.String(required=True)
    key = fields.String(required=True)
    message = fields.String(required=True)
    due_at = fields.DateTime(allow_none=True)


class CertificateSchema(ma.Schema):
    id = fields.Integer(required=True)
    serial = fields.String(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)
    state = fields.String(required=True)
    issued_at = fields.DateTime(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    revoked = fields.Boolean(required=True)
    revoked_at = fields.DateTime(allow_none=True)
    revoke_reason = fields.String(allow_none=True)
    sha256 = fields.String(allow_none=True)
    verify_url = fields.String(required=True)


class ApplicationSchema(ma.Schema):
    reference = fields.String(required=True)
    query_code = fields.String(required=True)
    bundle = fields.String(required=True)
    bundle_version = fields.Integer(required=True)
    state = fields.String(required=True)
    submitted_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(allow_none=True)
    expected_completion = fields.DateTime(allow_none=True)
    answers = fields.Dict(required=True)
    materials = fields.List(fields.Dict(), required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True)
    todo = fields.List(fields.Nested(TodoSchema), required=True)
    certificates = fields.List(fields.Nested(CertificateSchema), required=True)


class ApplicationListItem(ma.Schema):
    reference = fields.String(required=True)
    bundle = fields.String(required=True)
    state = fields.String(required=True)
    submitted_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(allow_none=True)


class ApplicationList(ma.Schema):
    items = fields.List(fields.Nested(ApplicationListItem), required=True)
    next_cursor = fields.String(allow_none=True)


class ListArgs(ma.Schema):
    after = fields.String(validate=validate.Length(max=64))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TrackEvent(ma.Schema):
    at = fields.DateTime(required=True)
    action = fields.String(required=True)
    state = fields.String(required=True)
    by_system = fields.Boolean(required=True)


class TrackStep(ma.Schema):
    item = fields.String(required=True)
    department = fields.String(required=True)
    state = fields.String(required=True)
    due_at = fields.DateTime(allow_none=True)
    events = fields.List(fields.Nested(TrackEvent), required=True)


class TrackSchema(ma.Schema):
    reference = fields.String(required=True)
    bundle = fields.String(required=True)
    state = fields.String(required=True)
    submitted_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(allow_none=True)
    expected_completion = fields.DateTime(allow_none=True)
    steps = fields.List(fields.Nested(TrackStep), required=True)


class TrackArgs(ma.Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=32))
    query_code = fields.String(required=True, validate=validate.Length(min=1, max=16))


class QueueArgs(ma.Schema):
    tab = fields.String(load_default="to_accept", validate=validate.OneOf(
        ["to_accept", "in_progress", "waiting", "due_soon", "overdue", "finished"]))
    after = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class QueueRowSchema(ma.Schema):
    step_id = fields.Integer(required=True)
    reference = fields.String(required=True)
    bundle = fields.String(required=True)
    item = fields.String(required=True)
    state = fields.String(required=True)
    applicant = fields.String(required=True, metadata={"description": "enterprise name, or a person's masked name"})
    received_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    held_by = fields.String(allow_none=True)
    version = fields.Integer(required=True)


class QueueSchema(ma.Schema):
    department = fields.String(required=True)
    tab = fields.String(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    items = fields.List(fields.Nested(QueueRowSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class StepDetailSchema(StepSchema):
    reference = fields.String(required=True)
    bundle = fields.String(required=True)
    allowed_actions = fields.List(fields.String(), required=True)
    answers = fields.Dict(required=True, metadata={"description": "only the fields this item needs"})
    materials = fields.List(fields.Dict(), required=True)
    open_problems = fields.List(fields.Nested(ProblemSchema), required=True)


class DecisionArgs(Strict):
    action = fields.String(required=True, validate=validate.OneOf(
        ["accept", "request_supplement", "suspend", "resume", "approve", "reject"]))
    reason = fields.String(validate=validate.Length(max=2000), allow_none=True)
    legal_basis = fields.String(validate=validate.Length(max=500), allow_none=True)
    problems = fields.List(fields.Nested(ProblemSchema), load_default=list)
    outstanding = fields.List(fields.String(), load_default=list)
    promised_by = fields.AwareDateTime(allow_none=True)
    on_commitment = fields.Boolean(load_default=False)
    expected_version = fields.Integer(allow_none=True, metadata={"description": "the step version you read; "
                                                                 "a stale one is refused"})


class VerifySchema(ma.Schema):
    status = fields.String(required=True)
    certificate = fields.Dict(allow_none=True)
    details = fields.List(fields.String(), required=True)


class VolumeArgs(ma.Schema):
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")


class VolumeRow(ma.Schema):
    bundle = fields.String(required=True)
    submitted = fields.Integer(required=True)
    in_progress = fields.Integer(required=True)
    ended = fields.Integer(required=True)
    steps_decided = fields.Integer(required=True)
    steps_on_time = fields.Integer(required=True)


class VolumesSchema(ma.Schema):
    start = fields.Date(allow_none=True, data_key="from")
    end = fields.Date(allow_none=True, data_key="to")
    bundles = fields.List(fields.Nested(VolumeRow), required=True)


class ChainSchema(ma.Schema):
    ok = fields.Boolean(required=True)
    checked = fields.Integer(required=True)
    broken_at_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)


class WhoAmI(ma.Schema):
    user = fields.String(required=True)
    kind = fields.String(required=True)
    token = fields.String(required=True)
    token_kind = fields.String(required=True)
    system = fields.String(allow_none=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)
