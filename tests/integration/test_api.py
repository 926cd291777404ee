"""/api/v1: tokens and scopes, the error envelope, idempotent submission, the applicant's and the
reviewer's operations through the API, and the refusals that must change nothing."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from onestop.api.models import ApiToken, IdempotencyKey
from onestop.api.tokens import create_token, revoke_token
from onestop.applications.models import Application, Material, Step
from onestop.audit.models import AuditEvent
from onestop.catalog.operations import bundle_of, current_version
from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.extensions import db
from tests.factories import (
    answers_for,
    make_application,
    make_auditor,
    make_operator,
    make_person,
    make_reviewer,
    pdf_bytes,
    png_bytes,
    step_of,
)


def token_for(user: Any, *scopes: str) -> str:
    secret = create_token(user, "test", scopes or ("read",), user).secret
    commit()
    return secret


def auth(secret: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **headers}


def counts() -> tuple[int, int, int, int]:
    db.session.expire_all()
    return (db.session.scalar(select(func.count(Application.id))), db.session.scalar(select(func.count(Material.id))),
            db.session.scalar(select(func.count(AuditEvent.id))), db.session.scalar(select(func.count(Step.id))))


def newborn_body(applicant: Any, **overrides: Any) -> dict[str, Any]:
    bundle = bundle_of(current_version("newborn_birth"))
    answers = answers_for("newborn_birth", applicant, **overrides)
    materials = [{"key": m.key, "filename": f"{m.key}.pdf",
                  "content_base64": base64.b64encode(pdf_bytes() if "pdf" in m.formats else png_bytes()).decode()}
                 for m in bundle.materials if not m.held_by_government and m.required
                 and (m.show_if is None or m.show_if.holds(answers))]
    return {"bundle": "newborn_birth", "answers": answers, "materials": materials}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"] and error["message_en"]
    return error


# -- tokens, scopes, envelope ---------------------------------------------------------------------------

def test_tokens_are_stored_hashed_and_name_their_user(app, client):
    person = make_person()
    secret = token_for(person, "read", "apply")
    row = db.session.scalar(select(ApiToken))
    assert secret.startswith(f"ost_{row.prefix}_")
    assert secret not in (row.secret_sha256, row.prefix) and len(row.secret_sha256) == 64
    response = client.get("/api/v1/me", headers=auth(secret))
    assert response.status_code == 200
    assert response.get_json() == {"user": person.username, "kind": "person", "token": row.prefix,
                                   "token_kind": "personal", "system": None, "scopes": ["apply", "read"]}
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None


def test_refusals_come_in_one_envelope_with_stable_codes(app, client):
    person = make_person()
    secret = token_for(person, "read")
    assert_error(client.get("/api/v1/applications"), 401, "unauthenticated")
    assert_error(client.get("/api/v1/applications", headers=auth("ost_nothing_here")), 401, "invalid_token")
    assert_error(client.get("/api/v1/applications", headers=auth(secret[:-2] + "xx")), 401, "invalid_token")
    assert_error(client.get("/api/v1/no-such-thing", headers=auth(secret)), 404, "not_found")
    assert_error(client.delete("/api/v1/catalog"), 405, "method_not_allowed")
    error = assert_error(client.get("/api/v1/applications?limit=0", headers=auth(secret)), 422, "validation_failed")
    assert "limit" in error["details"]
    assert_error(client.get("/api/v1/catalog/no_such_bundle"), 404, "not_found")


def test_a_token_with_the_wrong_scope_changes_nothing(app, client):
    person = make_person()
    read_only = token_for(person, "read")
    body = newborn_body(person)
    before = counts()
    error = assert_error(client.post("/api/v1/applications", json=body,
                                     headers=auth(read_only, **{"Idempotency-Key": "k1"})), 403, "insufficient_scope")
    assert error["details"] == {"required": "apply", "granted": ["read"]}
    assert counts() == before
    # A reviewer's token cannot be given "apply"; an applicant's cannot decide.
    reviewer = make_reviewer("samr")
    with pytest.raises(Exception, match="scope_not_allowed"):
        create_token(reviewer, "x", ["apply"], reviewer)
    with pytest.raises(Exception, match="scope_not_allowed"):
        create_token(person, "x", ["decide"], person)


def test_a_revoked_token_is_refused_and_changes_nothing(app, client):
    person = make_person()
    secret = token_for(person, "read", "apply")
    assert client.get("/api/v1/applications", headers=auth(secret)).status_code == 200
    revoke_token(db.session.scalar(select(ApiToken)), person)
    commit()
    before = counts()
    assert_error(client.post("/api/v1/applications", json=newborn_body(person),
                             headers=auth(secret, **{"Idempotency-Key": "k1"})), 401, "token_revoked")
    assert_error(client.get("/api/v1/applications", headers=auth(secret)), 401, "token_revoked")
    assert counts() == before


def test_another_applicants_application_is_not_found_and_unchanged(app, client):
    owner, other = make_person(), make_person()
    application = make_application("newborn_birth", applicant=owner)
    commit()
    secret = token_for(other, "read", "apply")
    before = counts()
    state = application.state
    ref = application.reference
    assert_error(client.get(f"/api/v1/applications/{ref}", headers=auth(secret)), 404, "not_found")
    assert_error(client.get(f"/api/v1/applications/{ref}/track", headers=auth(secret)), 404, "not_found")
    assert_error(client.post(f"/api/v1/applications/{ref}/withdraw", json={"reason": "不办了"},
                             headers=auth(secret)), 404, "not_found")
    assert_error(client.post(f"/api/v1/applications/{ref}/supplement", json={"answers": {}},
                             headers=auth(secret)), 404, "not_found")
    assert counts() == before
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == state
    # The owner does see it; the public progress check needs the query code.
    mine = token_for(owner, "read")
    assert client.get(f"/api/v1/applications/{ref}", headers=auth(mine)).get_json()["reference"] == ref
    assert_error(client.get(f"/api/v1/track?reference={ref}&query_code=WRONG"), 404, "not_found")
    tracked = client.get(f"/api/v1/track?reference={ref}&query_code={application.query_code}")
    assert tracked.status_code == 200 and tracked.get_json()["steps"]


# -- submission -----------------------------------------------------------------------------------------

def test_submission_through_the_api_is_idempotent(app, client):
    person = make_person()
    secret = token_for(person, "read", "apply")
    body = newborn_body(person)
    first = client.post("/api/v1/applications", json=body, headers=auth(secret, **{"Idempotency-Key": "order-1"}))
    assert first.status_code == 201, first.get_data(as_text=True)
    created = first.get_json()
    assert created["state"] == "in_progress" and created["steps"]
    assert first.headers["Location"].endswith(f"/api/v1/applications/{created['reference']}")
    assert {m["key"] for m in created["materials"]} == {m["key"] for m in body["materials"]}
    before = counts()
    again = client.post("/api/v1/applications", json=body, headers=auth(secret, **{"Idempotency-Key": "order-1"}))
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["reference"] == created["reference"]
    assert counts() == before
    # The same key with another body is refused: nothing changes.
    other = dict(body, answers={**body["answers"], "child_name": "李四"})
    assert_error(client.post("/api/v1/applications", json=other, headers=auth(secret, **{"Idempotency-Key": "order-1"})),
                 422, "idempotency_key_reused")
    assert counts() == before
    listed = client.get("/api/v1/applications", headers=auth(secret)).get_json()
    assert [a["reference"] for a in listed["items"]] == [created["reference"]]


def test_an_expired_idempotency_key_is_refused_and_changes_nothing(app, client):
    person = make_person()
    secret = token_for(person, "read", "apply")
    body = newborn_body(person)
    assert client.post("/api/v1/applications", json=body,
                       headers=auth(secret, **{"Idempotency-Key": "day-1"})).status_code == 201
    before = counts()
    with time_machine.travel(now() + timedelta(hours=25), tick=False):
        error = assert_error(client.post("/api/v1/applications", json=body,
                                         headers=auth(secret, **{"Idempotency-Key": "day-1"})),
                             422, "idempotency_key_expired")
        assert "expired_at" in error["details"]
        assert counts() == before
        # A new key goes through.
        assert client.post("/api/v1/applications", json=body,
                           headers=auth(secret, **{"Idempotency-Key": "day-2"})).status_code == 201
    assert db.session.scalar(select(func.count(IdempotencyKey.id))) == 2


def test_submission_refusals_say_what_is_wrong_and_store_nothing(app, client):
    person = make_person()
    secret = token_for(person, "apply")
    body = newborn_body(person)
    before = counts()
    assert_error(client.post("/api/v1/applications", json=body, headers=auth(secret)), 400, "idempotency_key_required")
    wrong_check = body["answers"]["applicant_id"][:17] + ("0" if body["answers"]["applicant_id"][17] != "0" else "1")
    bad = dict(body, answers={**body["answers"], "applicant_id": wrong_check, "applicant_phone": "123"})
    error = assert_error(client.post("/api/v1/applications", json=bad, headers=auth(secret, **{"Idempotency-Key": "a"})),
                         422, "validation_failed")
    assert set(error["details"]["answers"]) == {"applicant_id", "applicant_phone"}  # every mistake at once
    assert "校验位" in error["details"]["answers"]["applicant_id"][0]  # field messages: Chinese by default
    english = client.post("/api/v1/applications", json=bad,
                          headers=auth(secret, **{"Idempotency-Key": "a", "Accept-Language": "en-US,en;q=0.8"}))
    assert "check digit" in english.get_json()["error"]["details"]["answers"]["applicant_id"][0]
    unknown = dict(body, answers={**body["answers"], "no_such_field": "x"})
    error = assert_error(client.post("/api/v1/applications", json=unknown,
                                     headers=auth(secret, **{"Idempotency-Key": "b"})), 422, "validation_failed")
    assert "no_such_field" in error["details"]["answers"]
    broken = dict(body, materials=[dict(body["materials"][0], content_base64=base64.b64encode(b"not a pdf").decode())])
    error = assert_error(client.post("/api/v1/applications", json=broken,
                                     headers=auth(secret, **{"Idempotency-Key": "c"})), 422, "material_invalid")
    assert counts() == before
    # An enterprise matter is not for a person.
    restaurant = {"bundle": "restaurant_opening", "answers": {}, "materials": []}
    assert_error(client.post("/api/v1/applications", json=restaurant, headers=auth(secret, **{"Idempotency-Key": "d"})),
                 403, "wrong_audience")
    assert counts() == before


def test_multipart_submission_with_files(app, client):
    import json

    person = make_person()
    secret = token_for(person, "apply", "read")
    body = newborn_body(person)
    data: dict[str, Any] = {"payload": json.dumps({"bundle": body["bundle"], "answers": body["answers"]})}
    import io

    for m in body["materials"]:
        data[m["key"]] = (io.BytesIO(base64.b64decode(m["content_base64"])), m["filename"])
    response = client.post("/api/v1/applications", data=data, content_type="multipart/form-data",
                           headers=auth(secret, **{"Idempotency-Key": "mp-1"}))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(response.get_json()["materials"]) == len(body["materials"])


def test_withdraw_through_the_api(app, client):
    person = make_person()
    application = make_application("newborn_birth", applicant=person)
    commit()
    secret = token_for(person, "apply", "read")
    ref = application.reference
    assert_error(client.post(f"/api/v1/applications/{ref}/withdraw", json={}, headers=auth(secret)),
                 422, "validation_failed")
    response = client.post(f"/api/v1/applications/{ref}/withdraw", json={"reason": "信息填错了"}, headers=auth(secret))
    assert response.status_code == 200 and response.get_json()["state"] == "withdrawn"
    assert_error(client.post(f"/api/v1/applications/{ref}/withdraw", json={"reason": "再撤一次"}, headers=auth(secret)),
                 409, "invalid_state")


# -- the desk ---------------------------------------------------------------------------------------------

def test_a_reviewer_decides_through_the_api_and_the_applicant_answers(app, client):
    operator = make_operator()
    application = make_application("restaurant_opening", applicant=operator)
    commit()
    licence = step_of(application, "business_licence")
    reviewer = make_reviewer(licence.department.code)
    outsider = make_reviewer("fire" if licence.department.code != "fire" else "samr")
    commit()
    decide_token = token_for(reviewer, "read", "decide")
    read_token = token_for(reviewer, "read")
    outsider_token = token_for(outsider, "read", "decide")
    dept = licence.department.code
    page = client.get(f"/api/v1/departments/{dept}/queue", headers=auth(read_token)).get_json()
    assert licence.id in [row["step_id"] for row in page["items"]]
    assert_error(client.get(f"/api/v1/departments/{dept}/queue", headers=auth(outsider_token)), 404, "not_found")
    assert_error(client.get(f"/api/v1/steps/{licence.id}", headers=auth(outsider_token)), 404, "not_found")
    detail = client.get(f"/api/v1/steps/{licence.id}", headers=auth(read_token)).get_json()
    assert "accept" in detail["allowed_actions"]
    before = counts()
    assert_error(client.post(f"/api/v1/steps/{licence.id}/decisions", json={"action": "accept"},
                             headers=auth(read_token)), 403, "insufficient_scope")
    assert_error(client.post(f"/api/v1/steps/{licence.id}/decisions", json={"action": "accept"},
                             headers=auth(outsider_token)), 404, "not_found")
    assert counts() == before
    accepted = client.post(f"/api/v1/steps/{licence.id}/decisions", json={"action": "accept"},
                           headers=auth(decide_token))
    assert accepted.status_code == 200 and accepted.get_json()["state"] == "accepted"
    # A rejection needs its reason and legal basis; the refusal changes nothing.
    assert_error(client.post(f"/api/v1/steps/{licence.id}/decisions", json={"action": "reject"},
                             headers=auth(decide_token)), 422, "decision_refused")
    field = next(f.key for f in bundle_of(application.bundle_version).fields if "business_licence" in f.items)
    asked = client.post(f"/api/v1/steps/{licence.id}/decisions", headers=auth(decide_token), json={
        "action": "request_supplement", "problems": [{"kind": "field", "key": field, "message": "请核对"}]})
    assert asked.status_code == 200 and asked.get_json()["state"] == "supplement"
    applicant_token = token_for(operator, "read", "apply")
    ref = application.reference
    todo = client.get(f"/api/v1/applications/{ref}", headers=auth(applicant_token)).get_json()["todo"]
    assert [t["key"] for t in todo] == [field]
    value = application.answer_map[field]
    answered = client.post(f"/api/v1/applications/{ref}/supplement", headers=auth(applicant_token),
                           json={"answers": {field: value}})
    assert answered.status_code == 200, answered.get_data(as_text=True)
    assert answered.get_json()["todo"] == []
    approved = client.post(f"/api/v1/steps/{licence.id}/decisions", json={"action": "approve"},
                           headers=auth(decide_token))
    assert approved.status_code == 200 and approved.get_json()["state"] == "approved"
    assert_error(client.post(f"/api/v1/steps/{licence.id}/decisions", json={"action": "approve"},
                             headers=auth(decide_token)), 409, "already_decided")


def test_auditor_figures_need_the_audit_scope(app, client):
    make_application("newborn_birth")
    auditor = make_auditor()
    commit()
    secret = token_for(auditor, "read", "audit")
    response = client.get("/api/v1/audit/volumes", headers=auth(secret))
    assert response.status_code == 200
    rows = {r["bundle"]: r for r in response.get_json()["bundles"]}
    assert rows["newborn_birth"]["submitted"] == 1 and rows["newborn_birth"]["in_progress"] == 1
    chain = client.get("/api/v1/audit/chain", headers=auth(secret)).get_json()
    assert chain["ok"] is True and chain["checked"] > 0
    person = make_person()
    commit()
    assert_error(client.get("/api/v1/audit/volumes", headers=auth(token_for(person, "read"))), 403, "insufficient_scope")


def test_rate_limit_per_token_answers_429_in_the_envelope(database_url, tmp_path):
    from tests.conftest import IsolatedClient, make_app

    app = make_app(database_url, tmp_path / "instance", RATELIMIT_ENABLED=True, ONESTOP_API_RATE_LIMIT="3 per minute")
    with app.app_context():
        person = make_person()
        first, second = token_for(person, "read"), token_for(person, "read")
        app.test_client_class = IsolatedClient
        client = app.test_client()
        for _ in range(3):
            assert client.get("/api/v1/me", headers=auth(first)).status_code == 200
        assert_error(client.get("/api/v1/me", headers=auth(first)), 429, "rate_limited")
        assert client.get("/api/v1/me", headers=auth(second)).status_code == 200  # each token its own budget
        # The progress check needs no token: it has its own limit per address.
        statuses = [client.get("/api/v1/track?reference=X&query_code=Y").status_code for _ in range(31)]
        assert statuses[0] == 404 and statuses[-1] == 429
        db.session.remove()
        db.engine.dispose()


# -- the token pages ------------------------------------------------------------------------------------------

def test_a_user_makes_and_revokes_a_personal_token_on_their_page(app, client):
    import re

    from tests.integration.test_web import csrf, login

    person = make_person()
    other = make_person()
    commit()
    login(client, person.username)
    page = client.post("/account/api-tokens", data={"csrf_token": csrf(client, "/account/api-tokens"),
                                                    "name": "报税软件", "scopes": ["read"]})
    html = page.get_data(as_text=True)
    secret = re.search(r"ost_[0-9a-f]{12}_[A-Za-z0-9_\-]+", html).group(0)
    assert client.get("/api/v1/me", headers=auth(secret)).status_code == 200
    again = client.get("/account/api-tokens").get_data(as_text=True)
    assert secret not in again and "报税软件" in again  # shown once, listed by its prefix
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == person.id))
    # Another user cannot revoke it.
    login(client, other.username)
    refused = client.post(f"/account/api-tokens/{token.id}/revoke",
                          data={"csrf_token": csrf(client, "/account/api-tokens")})
    assert refused.status_code == 404
    assert client.get("/admin/api-tokens").status_code == 403
    login(client, person.username)
    done = client.post(f"/account/api-tokens/{token.id}/revoke",
                       data={"csrf_token": csrf(client, "/account/api-tokens")}, follow_redirects=True)
    assert "已撤销" in done.get_data(as_text=True)
    assert_error(client.get("/api/v1/me", headers=auth(secret)), 401, "token_revoked")


def test_an_administrator_makes_a_system_token_acting_as_a_named_account(app, client):
    import re

    from onestop.accounts.models import UserKind
    from onestop.accounts.operations import create_staff
    from tests.factories import PASSWORD
    from tests.integration.test_web import csrf, login

    create_staff(username="admin9", password=PASSWORD, name="管理员", kind=UserKind.ADMIN)
    reviewer = make_reviewer("samr")
    commit()
    login(client, "admin9")
    page = client.post("/admin/api-tokens", data={
        "csrf_token": csrf(client, "/admin/api-tokens"), "name": "审批系统对接", "system_name": "市场监管审批系统",
        "username": reviewer.username, "scopes": ["read", "decide"]})
    secret = re.search(r"ost_[0-9a-f]{12}_[A-Za-z0-9_\-]+", page.get_data(as_text=True)).group(0)
    me = client.get("/api/v1/me", headers=auth(secret)).get_json()
    assert me["user"] == reviewer.username and me["token_kind"] == "system" and me["system"] == "市场监管审批系统"
    refused = client.post("/admin/api-tokens", data={
        "csrf_token": csrf(client, "/admin/api-tokens"), "name": "x", "system_name": "x",
        "username": reviewer.username, "scopes": ["apply"]})
    assert "该账户不能被授予所选的某项权限范围" in refused.get_data(as_text=True)


def test_the_same_key_sent_twice_at_once_creates_one_application(app, backend):
    """Two requests with one Idempotency-Key racing on PostgreSQL: one creates, the other replays it."""
    import threading

    if backend != "postgresql":
        pytest.skip("SQLite serialises writers: no race to show")
    from tests.conftest import IsolatedClient

    person = make_person()
    secret = token_for(person, "apply")
    body = newborn_body(person)
    app.test_client_class = IsolatedClient
    barrier = threading.Barrier(2)
    results: list[int] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        results.append(client.post("/api/v1/applications", json=body,
                                   headers=auth(secret, **{"Idempotency-Key": "race"})).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 201], results
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Application.id))) == 1
