"""Auditors are strictly read-only, and only auditors reach the supervision pages: a role × URL matrix,
every POST route of the application tried as an auditor, and tampering with the audit trail found at
exactly the changed or deleted event by the page and by `flask onestop audit verify`."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from onestop.audit.models import AuditEvent
from onestop.core.jobs import commit
from onestop.extensions import db
from tests.factories import approve_open_steps, make_application
from tests.integration.test_audit_and_jobs import _tamper
from tests.integration.test_desk_authorization import ROLES, _login_as, world  # noqa: F401  (fixture)
from tests.integration.test_web import csrf

PAGES = (
    "/supervision/",
    "/supervision/?period=year&at=2026-01-01&department=samr",
    "/supervision/applications?show=ended",
    "/supervision/applications/{reference}",
    "/supervision/export/applications.csv",
    "/supervision/export/departments.xlsx",
    "/supervision/export/log.csv?reference={reference}",
    "/supervision/audit",
    "/supervision/samples",
)


@pytest.mark.parametrize("role", ROLES)
def test_only_auditors_reach_the_supervision_pages(client, world, role):  # noqa: F811
    _login_as(client, world, role)
    for template in PAGES:
        url = template.format(reference=world["application"].reference)
        response = client.get(url)
        expected = 200 if role == "auditor" else 302 if role == "anonymous" else 403
        assert response.status_code == expected, (role, url, response.status_code)
        if expected == 302:
            assert "/login" in response.headers["Location"]


def _state() -> dict[str, int]:
    """Every table's rows, but the audit trail (the auditor's own events are expected there)."""
    skip = {"audit_events", "audit_chain_head", "alembic_version"}
    with db.engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in db.metadata.tables if t not in skip}
        counts["_steps"] = hash(tuple(conn.execute(sa.text(
            "SELECT id, state, version_id, claimed_by_id, extension_amount FROM steps ORDER BY id")).all()))
        counts["_users"] = hash(tuple(conn.execute(sa.text(
            "SELECT id, kind, failed_logins FROM users ORDER BY id")).all()))
    return counts


def test_an_auditor_changes_nothing_through_any_post_route(app, client, world):  # noqa: F811
    """Every POST route of the application, with a valid CSRF token and plausible ids: the auditor is
    refused and no table changes (their own export jobs and audit events aside)."""
    _login_as(client, world, "auditor")
    token = csrf(client, "/supervision/")
    ids = {"step_id": world["food"].id, "application_id": world["application"].id,
           "extension_id": world["extension"].id, "material_id": world["material"].id,
           "reference": world["application"].reference, "department_code": "samr", "outcome": "upheld",
           "kind": "person", "code": "restaurant_opening"}
    allowed = {"accounts.logout", "supervision.start_export"}
    # Forms anyone may post (they answer with the form and its errors), still changing nothing here.
    public = {"accounts.login", "accounts.register_kind", "applications.track", "certificates.verify_file",
              "activation.activate_page",
              "api_pages.personal_tokens"}  # an auditor may hold an audit-scope token of their own
    tried = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.endpoint in allowed or rule.endpoint == "static":
            continue
        values = {arg: ids.get(arg, 1) for arg in rule.arguments}
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m, v=values: str(v[m.group(1)]), rule.rule)
        before = _state()
        response = client.post(url, data={"csrf_token": token, "action": "approve", "decision": "approve",
                                          "confirmed": "1", "reason": "x", "note": "x",
                                          "bundle": "restaurant_opening", "item": "food_licence", "enabled": "on"})
        db.session.expire_all()
        refused = range(400, 500)  # any refusal (the API answers 401 or 415 to a session and a form)
        assert response.status_code in refused or rule.endpoint in public, (rule.endpoint, url, response.status_code)
        assert _state() == before, rule.endpoint
        tried += 1
    assert tried >= 20
    assert client.get("/supervision/").status_code == 200  # still logged in, still an auditor


def _cli_verify(app) -> str:
    result = app.test_cli_runner().invoke(args=["onestop", "audit", "verify"])
    return result.output + (result.stderr if hasattr(result, "stderr") else "")


@pytest.mark.parametrize("change", ["edit", "delete"])
def test_a_changed_or_deleted_event_is_found_at_exactly_that_event_by_page_and_command(app, client, change):
    from tests.factories import make_auditor

    application = make_application("restaurant_opening")
    approve_open_steps(application)
    auditor = make_auditor()
    commit()
    total = db.session.scalar(select(func.count()).select_from(AuditEvent))
    target = total // 2
    assert "audit trail intact" in _cli_verify(app)
    client.post("/login", data={"username": auditor.username, "password": "correct horse battery",
                                "csrf_token": csrf(client, "/login")})
    intact = client.get("/supervision/audit").get_data(as_text=True)
    assert 'data-ok="1"' in intact
    if change == "edit":
        _tamper("UPDATE audit_events SET actor_role = 'head' WHERE seq = :s", s=target)
    else:
        _tamper("DELETE FROM audit_events WHERE seq = :s", s=target)
    page = client.get("/supervision/audit").get_data(as_text=True)
    assert f'data-broken-at="{target}"' in page
    assert ("记录后内容被修改" in page) if change == "edit" else ("已被删除" in page)
    output = _cli_verify(app)
    assert f"broken at event {target}:" in output
    assert ("changed" in output) if change == "edit" else ("missing" in output)
