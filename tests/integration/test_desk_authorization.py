"""Who may reach what on the desk: a role × URL matrix, forged form fields, data minimisation, and the
audit events of staff views of personal data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onestop.audit.models import AuditEvent
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews import claims, sampling
from onestop.reviews.operations import Decision, DecisionError, decide
from tests.factories import PASSWORD, make_application, make_auditor, make_operator, make_reviewer, step_of
from tests.integration.test_web import csrf, hidden
from workflows.states import StepAction

ROLES = ("anonymous", "applicant", "samr_reviewer", "samr_head", "water_reviewer", "auditor", "admin")


@pytest.fixture
def world(app):
    """One restaurant application past its business licence, and one account per role."""
    from onestop.accounts.models import UserKind
    from onestop.accounts.operations import create_staff

    operator = make_operator("authz_op")
    application = make_application("restaurant_opening", applicant=operator, state="licence_approved")
    users = {
        "applicant": operator,
        "samr_reviewer": make_reviewer("samr", "authz_samr"),
        "samr_head": make_reviewer("samr", "authz_head", head=True),
        "water_reviewer": make_reviewer("water", "authz_water"),
        "auditor": make_auditor(),
        "admin": create_staff(username="authz_admin", password=PASSWORD, name="管理员", kind=UserKind.ADMIN),
    }
    food = step_of(application, "food_licence")
    material = next(m for m in application.materials if m.material_key == "floor_plan")
    decide(food.id, None, Decision(StepAction.ACCEPT), users["samr_reviewer"])
    extension_step = food
    commit()
    from onestop.reviews.operations import request_extension

    extension = request_extension(extension_step.id, 2, "专家论证", users["samr_reviewer"])
    commit()
    return {"application": application, "food": food, "material": material, "users": users,
            "extension": extension}


def _login_as(client, world, role: str) -> None:
    if role == "anonymous":
        return
    user = world["users"][role]
    token = csrf(client, "/login")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302


# GET pages: the expected status for each role (302: to the login page).
PAGES = {
    "/desk/": {"anonymous": 302, "applicant": 403, "samr_reviewer": 200, "samr_head": 200, "water_reviewer": 200,
               "auditor": 403, "admin": 403},
    "/desk/?dept=samr": {"anonymous": 302, "applicant": 403, "samr_reviewer": 200, "samr_head": 200,
                         "water_reviewer": 404, "auditor": 403, "admin": 403},
    "/desk/steps/{food}": {"anonymous": 302, "applicant": 403, "samr_reviewer": 200, "samr_head": 200,
                           "water_reviewer": 404, "auditor": 403, "admin": 403},
    "/desk/steps/{food}/materials/{material}": {"anonymous": 302, "applicant": 403, "samr_reviewer": 200,
                                                "samr_head": 200, "water_reviewer": 404, "auditor": 403,
                                                "admin": 403},
    "/desk/supervision": {"anonymous": 302, "applicant": 403, "samr_reviewer": 403, "samr_head": 200,
                          "water_reviewer": 403, "auditor": 403, "admin": 403},
    "/desk/supervision?dept=water": {"anonymous": 302, "applicant": 403, "samr_reviewer": 403,
                                     "samr_head": 404, "water_reviewer": 403, "auditor": 403, "admin": 403},
    "/desk/extensions": {"anonymous": 302, "applicant": 403, "samr_reviewer": 403, "samr_head": 200,
                         "water_reviewer": 403, "auditor": 403, "admin": 403},
}


@pytest.mark.parametrize("role", ROLES)
def test_pages_by_role(client, world, role):
    _login_as(client, world, role)
    for template, expected in PAGES.items():
        url = template.format(food=world["food"].id, material=world["material"].id)
        response = client.get(url)
        assert response.status_code == expected[role], (role, url, response.status_code)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]


# POST actions on the market-regulation step: who may do them. Nobody but the right role changes anything.
ACTIONS = {
    "claim": {"samr_reviewer", "samr_head"},
    "reassign": {"samr_head"},
    "extension_decision": {"samr_head"},
    "post_check": set(),  # nothing approved on commitment yet: refused for everyone
    # Last: only the holder of the claim (the head gave the step to the reviewer just above).
    "decide": {"samr_reviewer"},
}


@pytest.mark.parametrize("role", ROLES)
def test_actions_by_role_change_nothing_unless_allowed(client, world, role):
    food, users = world["food"], world["users"]
    claims.claim(food, users["samr_reviewer"]) if role == "samr_reviewer" else None
    commit()
    _login_as(client, world, role)
    token = csrf(client, "/login") if role == "anonymous" else csrf(client, "/messages")
    version = str(food.version_id)
    posts = {
        "claim": (f"/desk/steps/{food.id}/claim", {}),
        "reassign": (f"/desk/steps/{food.id}/reassign", {"to_user": str(users["samr_reviewer"].id), "reassign_reason": "x"}),
        "extension_decision": (f"/desk/extensions/{world['extension'].id}", {"decision": "approve"}),
        "post_check": (f"/desk/post-checks/{food.id}", {"outcome": "revoked", "note": "x"}),
        "decide": (f"/desk/steps/{food.id}/decide", {"action": "approve", "version": version, "confirmed": "1"}),
    }
    for name, (url, data) in posts.items():
        before = _snapshot(world)
        response = client.post(url, data={"csrf_token": token, **data})
        db.session.expire_all()
        changed = _snapshot(world) != before
        assert changed == (role in ACTIONS[name]), (role, name, response.status_code)
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        elif role in ("applicant", "auditor", "admin"):
            assert response.status_code == 403
        elif role == "water_reviewer":
            assert response.status_code in (403, 404)


def _snapshot(world) -> tuple:
    from onestop.applications.models import Step, StepExtension

    step = db.session.get(Step, world["food"].id)
    extension = db.session.get(StepExtension, world["extension"].id)
    return (step.state, step.claimed_by_id, step.claimed_at, step.claim_expires_at, step.post_check_outcome, extension.state,
            step.extension_amount)


def test_a_reviewer_of_another_department_cannot_act_by_form_fields(client, world):
    food = world["food"]
    water = world["users"]["water_reviewer"]
    _login_as(client, world, "water_reviewer")
    queue = client.get("/desk/").get_data(as_text=True)
    # The bulk form takes step ids: another department's ids are ignored, not even named.
    response = client.post("/desk/bulk-accept", data={"csrf_token": hidden(queue, "csrf_token"),
                                                      "step": [str(food.id)], "confirmed": "1"},
                           follow_redirects=True)
    assert "请先勾选要受理的环节" in response.get_data(as_text=True)
    db.session.refresh(food)
    assert food.state == "accepted" and food.claimed_by_id is None
    # The operations refuse too, whatever the page.
    with pytest.raises(DecisionError):
        decide(food.id, None, Decision(StepAction.APPROVE), water)
    with pytest.raises(claims.ClaimError):
        claims.claim(food, water)
    with pytest.raises(sampling.SampleError):
        from tests.factories import department

        sampling.draw(department("samr"), food.received_at.date(), food.received_at.date(), 5, water)
    db.session.rollback()


def test_auditors_cannot_decide_even_through_the_operation(world):
    with pytest.raises(DecisionError) as error:
        decide(world["food"].id, None, Decision(StepAction.APPROVE), world["users"]["auditor"])
    assert error.value.code == "forbidden"


def test_reviewers_see_only_their_items_fields_and_materials(client, world):
    operator = world["users"]["applicant"]
    make_reviewer("fire", "authz_fire")
    commit()
    fire = step_of(world["application"], "fire_check")
    token = csrf(client, "/login")
    client.post("/login", data={"username": "authz_fire", "password": PASSWORD, "csrf_token": token})
    page = client.get(f"/desk/steps/{fire.id}").get_data(as_text=True)
    # The fire check needs the shop and the floor area, not the operator's ID number, the legal
    # representative or the food-safety manager.
    assert "营业面积" in page and operator.id_number not in page
    assert "法定代表人" not in page and "食品安全管理员" not in page
    assert "食品安全管理制度" not in page  # a material of the food licence only
    food_rules = next(m for m in world["application"].materials if m.material_key == "food_safety_rules")
    assert client.get(f"/desk/steps/{fire.id}/materials/{food_rules.id}").status_code == 404
    # Asking the applicant about a field outside the item is refused by the operation.
    from onestop.accounts.models import User

    fire_reviewer = db.session.scalar(select(User).where(User.username == "authz_fire"))
    with pytest.raises(DecisionError) as error:
        decide(fire.id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
            {"kind": "field", "key": "food_safety_manager", "message": "请更换"}]), fire_reviewer)
    assert error.value.code == "problem_not_in_item"


def test_every_staff_view_of_personal_data_is_an_audit_event(client, world):
    food, material = world["food"], world["material"]
    reviewer = world["users"]["samr_reviewer"]
    _login_as(client, world, "samr_reviewer")
    client.get(f"/desk/steps/{food.id}")
    client.get(f"/desk/steps/{food.id}/materials/{material.id}")
    viewed = db.session.scalars(select(AuditEvent).where(AuditEvent.actor_id == reviewer.id).where(
        AuditEvent.tag.in_(["personal_data:viewed", "material:viewed"])).order_by(AuditEvent.seq)).all()
    assert [e.tag for e in viewed] == ["personal_data:viewed", "material:viewed"]
    assert set(viewed[0].data["fields"]) >= {"operator_name", "food_safety_manager"}
    assert viewed[0].ip is not None and viewed[0].department_id == food.department_id
    assert viewed[1].data == {"application": world["application"].reference, "step": food.id, "key": "floor_plan"}
