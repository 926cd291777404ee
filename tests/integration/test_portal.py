"""The applicant portal through HTTP: the one form as saved drafts, prefill with consent, the check page,
submission with the expected completion date, tracking, and every refusal the portal promises."""

from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from onestop.applications.models import Application, Material
from onestop.catalog.operations import bundle_of, current_versions
from onestop.core.jobs import commit
from onestop.drafts.models import Draft
from onestop.extensions import db
from onestop.profiles.operations import share_fact
from onestop.profiles.queries import PROFILE_KEYS, keys_for, prefill
from tests.factories import (
    make_application,
    make_operator,
    make_person,
    make_reviewer,
    pdf_bytes,
    png_bytes,
    step_of,
)
from tests.integration.portal import (
    RESTAURANT_SHOP,
    csrf,
    fill,
    hidden,
    login,
    logout,
    post_step,
    restaurant_files,
    start,
    submit,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def zh(client) -> None:
    client.get("/?lang=zh")


# -- the one form ------------------------------------------------------------------------------------

def test_restaurant_through_the_steps_prefilled_checked_and_submitted(client):
    operator = make_operator("op1")
    commit()
    login(client, "op1")
    draft = start(client, "restaurant_opening")
    first = client.get(f"{draft}/enterprise").get_data(as_text=True)
    # Prefilled from the enterprise profile with consent, each field marked.
    assert f'value="{operator.enterprise.credit_code}"' in first
    assert first.count("来自档案") == 6  # the address is on the next step
    assert "本事项将提交至" in first and "市场监督管理局" in first
    draft_url = fill(client, "restaurant_opening", RESTAURANT_SHOP, restaurant_files())
    assert draft_url == draft  # the same draft is resumed, not a second one
    check = client.get(f"{draft}/check").get_data(as_text=True)
    assert "豫味小馆（花园路店）" in check and "热食类食品制售" in check and "预计办结时间" in check
    assert check.count(">已自动填写<") == 7
    response = submit(client, draft)
    assert response.status_code == 302 and "/receipt" in response.headers["Location"]
    application = db.session.scalar(select(Application))
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert application.reference in receipt and application.query_code in receipt and "预计办结时间" in receipt
    assert {a.field for a in application.answers if a.prefilled} == {
        "enterprise_name", "credit_code", "legal_rep_name", "operator_name", "operator_id", "operator_phone",
        "shop_address"}
    assert len(application.materials) == 5
    assert db.session.scalar(select(Draft)).state == "submitted"


def test_expected_completion_follows_the_item_graph_and_the_holidays(client):
    make_operator("op_dates")
    commit()
    with time_machine.travel(datetime(2026, 9, 29, 10, tzinfo=SHANGHAI), tick=False):
        login(client, "op_dates")
        draft = fill(client, "restaurant_opening", RESTAURANT_SHOP, restaurant_files())
        location = submit(client, draft).headers["Location"]
        receipt = client.get(location).get_data(as_text=True)
    # The licence: 1 working day from submission (due 30 September 17:00); the food licence then takes
    # 5 working days counted from the next working day after the National Day holiday (1-7 October),
    # the make-up Saturday 10 October included: 8, 9, 10, 12, 13 October.
    assert "2026-10-13 17:00" in receipt
    assert "2026-09-30 17:00" in receipt
    assert "营业执照（门店）" in receipt and "食品经营许可" in receipt


def test_a_draft_is_saved_on_leaving_a_step_and_resumed_on_another_device(app, client):
    make_operator("op_draft")
    commit()
    login(client, "op_draft")
    draft = start(client, "restaurant_opening")
    # Going back from a half-filled step saves what was typed, valid or not.
    post_step(client, draft, "shop", {"shop_name": "半成品小馆", "floor_area": "很大"}, action="back")
    other_device = app.test_client()
    login(other_device, "op_draft")
    resumed = other_device.get("/apply/restaurant_opening")
    assert resumed.headers["Location"].startswith(draft)
    page = other_device.get(f"{draft}/shop").get_data(as_text=True)
    assert 'value="半成品小馆"' in page and 'value="很大"' in page
    assert count(Draft) == 1
    # "Save and continue" refuses the wrong number next to its field, and keeps it.
    response = post_step(other_device, draft, "shop", {"shop_name": "半成品小馆", "floor_area": "很大"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "请输入数字。" in html and 'aria-invalid="true"' in html
    assert "请填写就餐座位数" in html and 'class="error-summary"' in html
    assert db.session.scalar(select(Draft)).answers["floor_area"] == "很大"
    listing = other_device.get("/my/applications").get_data(as_text=True)
    assert "草稿" in listing and "开办餐饮店" in listing


def test_conditional_answers_switch_departments_on_and_off(client):
    make_operator("op_cond")
    commit()
    login(client, "op_cond")
    draft = start(client, "restaurant_opening")
    post_step(client, draft, "shop", {**RESTAURANT_SHOP, "floor_area": "120"})
    page = client.get(f"{draft}/shop").get_data(as_text=True)
    fire = re.search(r'<li data-item="fire_check"[^>]*>', page).group(0)
    assert " hidden" in fire  # below 300 m²: no fire-safety check
    assert "此项回答决定是否需要办理" in page  # the floor area says it decides an item
    post_step(client, draft, "shop", {**RESTAURANT_SHOP, "floor_area": "350"})
    page = client.get(f"{draft}/shop").get_data(as_text=True)
    assert " hidden" not in re.search(r'<li data-item="fire_check"[^>]*>', page).group(0)
    materials = client.get(f"{draft}/materials").get_data(as_text=True)
    assert "消防安全制度及疏散预案" in materials


def test_bad_answers_get_chinese_messages_next_to_the_field(client):
    make_operator("op_bad")
    commit()
    login(client, "op_bad")
    draft = start(client, "restaurant_opening")
    response = post_step(client, draft, "enterprise", {
        "enterprise_name": "", "credit_code": "91410100MA44F7XH8A", "operator_id": "410105199003070019",
        "operator_phone": "12345", "legal_rep_name": "李明", "operator_name": "王芳"})
    html = response.get_data(as_text=True)
    assert "身份证号码校验位不正确" in html and "统一社会信用代码校验码不正确" in html
    assert "手机号码为以1开头的11位数字" in html and "请填写企业名称" in html
    assert 'id="credit_code-error"' in html and 'aria-describedby="credit_code-error"' in html or \
        'credit_code-error"' in html
    assert "Not a valid" not in html


def test_double_submit_and_replay_make_one_application(client):
    make_operator("op_twice")
    commit()
    login(client, "op_twice")
    draft = fill(client, "restaurant_opening", RESTAURANT_SHOP, restaurant_files())
    page = client.get(f"{draft}/check").get_data(as_text=True)
    token = hidden(page, "csrf_token")
    first = client.post(f"{draft}/submit", data={"csrf_token": token})
    second = client.post(f"{draft}/submit", data={"csrf_token": token})  # a second click, or a replay
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Application) == 1
    # Opening the form again after submitting starts a fresh draft, not the submitted one.
    assert client.get("/apply/restaurant_opening").headers["Location"] != f"{draft}/enterprise"


def test_uploads_refused_with_clear_messages_and_nothing_lost(app, client):
    make_operator("op_files")
    commit()
    login(client, "op_files")
    draft = fill(client, "restaurant_opening", RESTAURANT_SHOP)
    app.config["ONESTOP_UPLOAD_MAX_BYTES"] = 50_000
    fake_pdf = b"%PDF-1.7\n this is not really a PDF \n%%EOF"
    text_named_pdf = "这不是PDF，只是一段文字。".encode()
    response = post_step(client, draft, "materials", {}, files={
        "file_premises_proof": (io.BytesIO(text_named_pdf), "lease.pdf"),
        "file_floor_plan": (io.BytesIO(fake_pdf), "plan.pdf"),
        "file_food_safety_rules": (io.BytesIO(pdf_bytes() + b"0" * 60_000), "rules.pdf"),
        "file_fire_safety_plan": (io.BytesIO(png_bytes()), "fire.png"),
        "file_drainage_plan": (io.BytesIO(pdf_bytes()), "drainage.pdf"),
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "该文件内容不属于这些格式" in html  # text disguised as a PDF
    assert "该PDF文件无法打开" in html  # a "PDF" that does not parse
    assert "文件超过" in html  # larger than the limit
    assert html.count('aria-invalid="true"') == 3
    kept = db.session.scalars(select(Material).where(Material.draft_id.is_not(None))).all()
    assert sorted(m.material_key for m in kept) == ["drainage_plan", "fire_safety_plan"]
    assert "已收到" in html
    # Sending only the refused files again is enough.
    app.config["ONESTOP_UPLOAD_MAX_BYTES"] = 10 * 1024 * 1024
    post_step(client, draft, "materials", {}, files={
        f"file_{k}": (io.BytesIO(pdf_bytes(2)), f"{k}.pdf") for k in ("premises_proof", "floor_plan", "food_safety_rules")})
    assert submit(client, draft).status_code == 302
    application = db.session.scalar(select(Application))
    assert {m.material_key: m.pages for m in application.materials}["premises_proof"] == 2


def test_an_oversized_request_is_refused_with_a_message_and_the_draft_kept(app, client):
    make_operator("op_huge")
    commit()
    login(client, "op_huge")
    draft = fill(client, "restaurant_opening", RESTAURANT_SHOP)
    app.config["MAX_CONTENT_LENGTH"] = 20_000
    response = post_step(client, draft, "materials", {}, files={
        "file_premises_proof": (io.BytesIO(b"0" * 100_000), "huge.pdf")})
    assert response.status_code in (302, 413)
    page = client.get(f"{draft}/materials", follow_redirects=True).get_data(as_text=True)
    assert "文件过大" in page or "上传的文件过大" in page
    assert db.session.scalar(select(Draft)).answers["shop_name"] == RESTAURANT_SHOP["shop_name"]


def test_a_stale_csrf_token_is_refused_and_the_draft_is_unchanged(app, client):
    make_operator("op_csrf")
    commit()
    app.config["WTF_CSRF_ENABLED"] = True
    login(client, "op_csrf")
    draft = start(client, "restaurant_opening")
    response = client.post(f"{draft}/shop", data={"csrf_token": "stale.token", "action": "next", "shop_name": "改了"})
    assert response.status_code in (302, 400)
    page = client.get(f"{draft}/shop", follow_redirects=True).get_data(as_text=True)
    assert "页面已过期" in page
    assert "shop_name" not in db.session.scalar(select(Draft)).answers


def test_script_in_every_text_field_is_shown_escaped(client):
    operator = make_operator("op_xss")
    reviewer = make_reviewer("samr", "samr_xss")
    commit()
    login(client, "op_xss")
    evil = "<script>alert(1)</script>"
    draft = fill(client, "restaurant_opening", {
        **RESTAURANT_SHOP, "shop_name": evil, "food_safety_manager": evil, "enterprise_name": evil,
        "legal_rep_name": evil, "operator_name": evil, "shop_address": evil}, restaurant_files())
    for page in (client.get(f"{draft}/shop"), client.get(f"{draft}/check")):
        html = page.get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and evil not in html
    submit(client, draft)
    application = db.session.scalar(select(Application))
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    assert evil not in detail
    logout(client)
    login(client, reviewer.username)
    step = step_of(application, "business_licence")
    page = client.get(f"/desk/steps/{step.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and evil not in page
    assert operator.id


# -- prefill -------------------------------------------------------------------------------------------

def _complete_profile(audience: str):
    user = make_person() if audience == "person" else make_operator()
    for key in keys_for(audience):
        if key.startswith("enterprise."):
            sample = {"enterprise.type": "llc", "enterprise.penalty_authority": "samr",
                      "enterprise.penalty_category": "general", "enterprise.penalty_date": "2025-01-06"}
            if key not in ("enterprise.name", "enterprise.credit_code", "enterprise.legal_representative",
                           "enterprise.address"):
                share_fact(user.enterprise, key, sample.get(key, "测试"), "market_register")
        elif key.startswith("person.") and key in ("person.hukou_address", "person.spouse_name",
                                                   "person.spouse_id_number"):
            share_fact(user, key, "测试", "population_register")
    return user


@pytest.mark.parametrize("code", ["company_establishment", "restaurant_opening", "simple_deregistration",
                                  "utility_connection", "credit_repair", "newborn_birth"])
def test_a_complete_profile_fills_at_least_half_of_every_form(app, code):
    from workflows.measures import always_shown, prefill_share

    bundle = bundle_of(next(v for v in current_versions() if v.code == code))
    user = _complete_profile(bundle.audience)
    values, sources = prefill(user, bundle)
    shown = [f.key for f in always_shown(bundle)]
    filled = [k for k in shown if k in values]
    assert len(filled) * 2 >= len(shown), (code, filled, shown)
    # The figure the guide shows is the same measure, computed from the catalog.
    assert prefill_share(bundle, keys_for(bundle.audience)).prefilled == tuple(filled)
    assert set(sources.values()) == {"profile"}


def test_every_profile_key_a_bundle_names_exists(app):
    for version in current_versions():
        for spec in bundle_of(version).fields:
            assert spec.profile is None or spec.profile in PROFILE_KEYS, (version.code, spec.key, spec.profile)


def test_the_latest_application_of_the_same_matter_prefills_the_rest(client):
    operator = make_operator("op_again")
    first = make_application("restaurant_opening", applicant=operator)
    commit()
    login(client, "op_again")
    draft = start(client, "restaurant_opening")
    page = client.get(f"{draft}/shop").get_data(as_text=True)
    assert f'value="{first.answer_map["shop_name"]}"' in page
    assert f"来自您的办件{first.reference}" in page


def test_without_consent_nothing_is_prefilled_and_consent_can_be_revoked(client):
    operator = make_operator("consent_op")
    commit()
    login(client, "consent_op")
    draft = start(client, "restaurant_opening")
    assert operator.enterprise.credit_code in client.get(f"{draft}/enterprise").get_data(as_text=True)
    page = client.get("/profile").get_data(as_text=True)
    assert "410105********" in page  # the ID number is masked on the profile page
    assert "信息来源" in page or "来源" in page
    client.post("/profile", data={"csrf_token": hidden(page, "csrf_token"), "consent-decision": "revoke"})
    client.post(f"{draft}/discard", data={"csrf_token": csrf(client, "/profile")})
    fresh = start(client, "restaurant_opening")
    assert operator.enterprise.credit_code not in client.get(f"{fresh}/enterprise").get_data(as_text=True)
    db.session.expire_all()
    assert operator.prefill_consent_at is None


# -- authorization ------------------------------------------------------------------------------------

def test_another_applicants_draft_application_and_materials_are_not_found(app, client):
    owner = make_operator("owner")
    make_operator("other", enterprise_name="另一家餐饮有限公司")
    application = make_application("restaurant_opening", applicant=owner)
    material = application.materials[0]
    commit()
    login(client, "owner")
    draft = fill(client, "restaurant_opening", RESTAURANT_SHOP, restaurant_files())
    draft_material = db.session.scalars(select(Material).where(Material.draft_id.is_not(None))).first()
    logout(client)
    login(client, "other")
    token = csrf(client, "/my/applications")
    for url in (f"{draft}/enterprise", f"{draft}/check", f"/my/applications/{application.reference}",
                f"/my/applications/{application.reference}/receipt", f"/materials/{material.id}",
                f"/materials/{draft_material.id}"):
        assert client.get(url).status_code == 404, url
    for url, data in ((f"{draft}/shop", {"shop_name": "偷改"}), (f"{draft}/submit", {}), (f"{draft}/discard", {}),
                      (f"/my/applications/{application.reference}/withdraw", {"reason": "x"}),
                      (f"/my/applications/{application.reference}/supplement", {}),
                      (f"/my/applications/{application.reference}/ratings/samr", {"level": "1"})):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    assert application.reference not in client.get("/my/applications").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Draft)).answers["shop_name"] == RESTAURANT_SHOP["shop_name"]
    assert application.state == "in_progress" and count(Application) == 1
    # An id in a form field grants nothing: another applicant's upload is not attached to my draft.
    own = start(client, "restaurant_opening")
    post_step(client, own, "materials", {"kept_premises_proof": str(draft_material.id), "draft_id": "1"})
    db.session.expire_all()
    assert draft_material.draft_id == db.session.scalar(select(Draft.id).where(Draft.applicant_id == owner.id))


def test_progress_by_reference_and_query_code_shows_no_personal_data(client):
    operator = make_operator("track_op")
    application = make_application("restaurant_opening", applicant=operator, state="licence_approved")
    commit()
    page = client.get("/track").get_data(as_text=True)
    found = client.post("/track", data={"csrf_token": hidden(page, "csrf_token"), "reference": application.reference,
                                        "query_code": application.query_code.lower()}).get_data(as_text=True)
    assert "营业执照（门店）" in found and "准予" in found and "预计办结时间" in found
    answers = application.answer_map
    for personal in (operator.name, operator.id_number, operator.phone, operator.enterprise.name,
                     operator.enterprise.credit_code, answers["shop_name"], answers["shop_address"],
                     answers["food_safety_manager"], application.query_code):
        assert personal not in found, personal
