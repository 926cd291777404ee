"""The pages: the first matter through HTTP, and every refusal the foundation promises."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from onestop.accounts.models import User
from onestop.applications.models import Step
from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.extensions import db
from tests.factories import (
    PASSWORD,
    make_application,
    make_operator,
    make_person,
    make_reviewer,
    pdf_bytes,
    step_of,
)


def csrf(client, url: str) -> str:
    return hidden(client.get(url).get_data(as_text=True), "csrf_token")


def login(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf(client, "/login")})


def hidden(html: str, name: str) -> str:
    tag = re.search(rf'<input [^>]*name="{name}"[^>]*>', html)
    assert tag, name
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def claim_step(client, step_id: int) -> str:
    """Claim a step on its page; return the page as the holder sees it."""
    page = client.get(f"/desk/steps/{step_id}").get_data(as_text=True)
    client.post(f"/desk/steps/{step_id}/claim", data={"csrf_token": hidden(page, "csrf_token")})
    return client.get(f"/desk/steps/{step_id}").get_data(as_text=True)


def decide_on_page(client, step_id: int, action: str, **fields):
    """Claim, fill the decision, see the confirmation page, confirm."""
    page = claim_step(client, step_id)
    data = {"csrf_token": hidden(page, "csrf_token"), "version": hidden(page, "version"), "action": action, **fields}
    confirmation = client.post(f"/desk/steps/{step_id}/decide", data=data)
    assert confirmation.status_code == 200 and "确认并记录" in confirmation.get_data(as_text=True), \
        confirmation.get_data(as_text=True)[-3000:]
    return client.post(f"/desk/steps/{step_id}/decide", data={**data, "confirmed": "1"})


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def restaurant_form(html: str, **overrides) -> dict:
    data = {
        "csrf_token": hidden(html, "csrf_token"), "idempotency_key": hidden(html, "idempotency_key"),
        "shop_name": "豫味小馆（花园路店）", "floor_area": "350", "seats": "120", "food_category": "hot",
        "food_safety_manager": "赵强", "daily_drainage": "12",
    }
    # Prefilled answers come back as the browser would send them.
    for key in ("enterprise_name", "credit_code", "legal_rep_name", "operator_name", "operator_id",
                "operator_phone", "shop_address"):
        match = re.search(rf'<input [^>]*id="{key}"[^>]*value="([^"]*)"', html)
        data[key] = match.group(1) if match else ""
    data.update(overrides)
    return data


def files(**names) -> dict:
    return {f"file_{key}": (io.BytesIO(content), f"{key}.pdf") for key, content in names.items()}


REQUIRED_FILES = {"premises_proof": None, "floor_plan": None, "food_safety_rules": None, "fire_safety_plan": None,
                      "drainage_plan": None}


def all_files() -> dict:
    return files(**{k: pdf_bytes() for k in REQUIRED_FILES})


def test_public_pages_render_in_chinese_and_english(client):
    page = client.get("/").get_data(as_text=True)
    assert "开办餐饮店" in page and "企业开办" in page and 'lang="zh-CN"' in page
    guide = client.get("/guide/restaurant_opening").get_data(as_text=True)
    assert "食品经营许可" in guide and "5个工作日" in guide and "20个工作日" in guide
    english = client.get("/guide/restaurant_opening?lang=en").get_data(as_text=True)
    assert "Food business licence" in english and "Statutory limit" in english and 'lang="en"' in english
    assert client.get("/guide/nothing").status_code == 404


def test_security_headers(client):
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_script_in_answers_is_shown_escaped(client):
    operator = make_operator("op5")
    reviewer = make_reviewer("samr", "samr_x")
    application = make_application("restaurant_opening", applicant=operator,
                                   answers={"enterprise_name": "<script>alert(1)</script>", "credit_code":
                                            operator.enterprise.credit_code, "legal_rep_name": "李明",
                                            "operator_name": "王芳", "operator_id": operator.id_number,
                                            "operator_phone": "13800000002", "shop_name": "<b>x</b>",
                                            "shop_address": "x", "floor_area": 20, "seats": 4, "food_category": "hot",
                                            "food_safety_manager": "赵", "daily_drainage": 1})
    commit()
    login(client, reviewer.username)
    page = client.get(f"/desk/steps/{step_of(application, 'business_licence').id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_missing_csrf_token_is_refused_and_nothing_changes(client):
    operator = make_operator("op6")
    application = make_application("restaurant_opening", applicant=operator)
    reviewer = make_reviewer("samr", "samr_y")
    commit()
    login(client, reviewer.username)
    step = step_of(application, "business_licence")
    response = client.post(f"/desk/steps/{step.id}/decide", data={"action": "accept"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    db.session.refresh(step)
    assert step.state == "received"
    stale = client.post(f"/desk/steps/{step.id}/decide", data={"action": "accept", "csrf_token": "forged.token"})
    assert stale.status_code == 400


def test_reviewers_see_and_decide_only_their_departments_steps(client):
    application = make_application("restaurant_opening")
    water = make_reviewer("water", "water_z")
    samr = make_reviewer("samr", "samr_z")
    commit()
    step = step_of(application, "business_licence")
    login(client, water.username)
    assert client.get(f"/desk/steps/{step.id}").status_code == 404
    assert application.reference not in client.get("/desk/").get_data(as_text=True)
    token = csrf(client, "/desk/")
    assert client.post(f"/desk/steps/{step.id}/decide", data={"action": "accept", "csrf_token": token}).status_code == 404
    db.session.refresh(step)
    assert step.state == "received"
    # Applicants and the public cannot reach the desk at all.
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/desk/").status_code == 302
    login(client, samr.username)
    assert client.get(f"/desk/steps/{step.id}").status_code == 200


def test_second_reviewer_is_refused_while_the_first_holds_the_step_and_told_who_decided(client):
    application = make_application("restaurant_opening")
    first, second = make_reviewer("samr", "samr_1"), make_reviewer("samr", "samr_2")
    commit()
    step = step_of(application, "business_licence")
    login(client, first.username)
    claim_step(client, step.id)
    client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
    login(client, second.username)
    page = client.get(f"/desk/steps/{step.id}").get_data(as_text=True)  # the second reviewer reads the page ...
    assert f"{first.name}正在办理此环节" in page and 'name="action"' not in page
    refused = client.post(f"/desk/steps/{step.id}/claim", data={"csrf_token": hidden(page, "csrf_token")},
                          follow_redirects=True).get_data(as_text=True)
    assert "正在办理此环节，不能认领" in refused
    forged = client.post(f"/desk/steps/{step.id}/decide", data={  # ... and forges the decision form
        "csrf_token": hidden(page, "csrf_token"), "action": "accept", "version": str(step.version_id),
        "confirmed": "1"}, follow_redirects=True)
    assert "正在办理此环节" in forged.get_data(as_text=True)
    db.session.refresh(step)
    assert step.state == "received"
    from onestop.reviews.operations import Decision, decide
    from workflows.states import StepAction

    decide(step.id, None, Decision(StepAction.REJECT, "不符合条件", "某条例第一条"), first)  # ... the first decides
    commit()
    response = client.post(f"/desk/steps/{step.id}/decide", data={
        "csrf_token": hidden(page, "csrf_token"), "action": "accept", "version": str(step.version_id),
        "confirmed": "1"}, follow_redirects=True)
    assert f"已由{first.name}作出决定" in response.get_data(as_text=True)
    db.session.refresh(step)
    assert step.state == "rejected" and step.decided_by_id == first.id


def test_login_locks_after_five_failures_for_fifteen_minutes(client):
    user = make_person("locky")
    commit()
    for _ in range(4):
        assert "用户名或密码错误" in login(client, "locky", "wrong password").get_data(as_text=True)
    assert "已锁定15分钟" in login(client, "locky", "wrong password").get_data(as_text=True)
    # The sixth attempt, even with the right password, is refused while locked.
    sixth = login(client, "locky", PASSWORD)
    assert sixth.status_code == 200 and "已锁定" in sixth.get_data(as_text=True)
    db.session.refresh(user)
    assert user.locked_until is not None
    with time_machine.travel(now() + timedelta(minutes=16)):
        assert login(client, "locky", PASSWORD).status_code == 302


def test_idle_session_times_out(client):
    make_person("idle")
    commit()
    login(client, "idle")
    assert client.get("/my/applications").status_code == 200
    with time_machine.travel(now() + timedelta(minutes=31)):
        response = client.get("/my/applications")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_registration_refuses_wrong_numbers_with_clear_messages(client):
    before = count(User)
    page = client.post("/register/person", data={
        "csrf_token": csrf(client, "/register/person"), "name": "李四", "id_number": "110105194912310021",
        "username": "lisi", "password": "long enough password", "confirm": "long enough password",
        "phone": "13900000000"}).get_data(as_text=True)
    assert "身份证号码校验位不正确" in page
    page = client.post("/register/enterprise", data={
        "csrf_token": csrf(client, "/register/enterprise"), "credit_code": "91350100M000100Y44",
        "enterprise_name": "某公司", "legal_representative": "王五", "name": "王五", "id_number": "11010519491231002X",
        "username": "wangwu", "password": "long enough password", "confirm": "long enough password",
        "phone": "13900000001"}).get_data(as_text=True)
    assert "统一社会信用代码校验码不正确" in page
    assert count(User) == before


def test_registration_creates_an_enterprise_account_with_consent(client):
    response = client.post("/register/enterprise", data={
        "csrf_token": csrf(client, "/register/enterprise"), "credit_code": "91350100M000100Y43",
        "enterprise_name": "福州某餐饮有限公司", "legal_representative": "王五", "name": "王五",
        "id_number": "11010519491231002X", "username": "wangwu", "password": "long enough password",
        "confirm": "long enough password", "phone": "13900000001", "consent": "y"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "wangwu"))
    assert user.enterprise.credit_code == "91350100M000100Y43" and user.prefill_consent_at is not None


def test_steps_are_created_only_for_started_items(app):
    make_application("restaurant_opening")
    commit()
    assert count(Step) == 4


def test_due_dates_are_explained_to_reviewer_and_applicant(client):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from onestop.reviews.operations import Decision, decide
    from workflows.states import StepAction

    with time_machine.travel(datetime(2026, 9, 29, 10, tzinfo=ZoneInfo("Asia/Shanghai"))):
        operator = make_operator("explained")
        application = make_application("restaurant_opening", applicant=operator, state="licence_approved")
        reviewer = make_reviewer("samr", "samr_explain")
        food = step_of(application, "food_licence")
        decide(food.id, None, Decision(StepAction.ACCEPT), reviewer)
        commit()
        login(client, "samr_explain")
        page = client.get(f"/desk/steps/{food.id}").get_data(as_text=True)
        assert "时限计算说明" in page and "2026-10-01 至 2026-10-07 国庆节（法定节假日）" in page
        assert "环节办理记录" in page and "已受理，审查中" in page
        client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
        login(client, "explained")
        detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
        assert "计入的调休上班日：2026-10-10" in detail and "到期时间：2026-10-12 17:00" in detail


def test_supplements_from_two_departments_answered_on_one_page(client):
    operator = make_operator("todo_op")
    application = make_application("restaurant_opening", applicant=operator, state="licence_approved")
    make_reviewer("samr", "samr_todo"), make_reviewer("fire", "fire_todo")
    commit()
    food, check = step_of(application, "food_licence"), step_of(application, "fire_check")
    login(client, "samr_todo")
    page = claim_step(client, food.id)
    missing = client.post(f"/desk/steps/{food.id}/decide", data={
        "csrf_token": hidden(page, "csrf_token"), "version": hidden(page, "version"), "action": "request_supplement",
        "problem_field_food_safety_manager": "1"}).get_data(as_text=True)
    assert "请为每项勾选的内容或材料说明问题" in missing  # a ticked problem needs its message
    r = decide_on_page(client, food.id, "request_supplement", **{
        "problem_field_food_safety_manager": "1", "message_field_food_safety_manager": "须为持证管理员",
        "problem_material_floor_plan": "1", "message_material_floor_plan": "未标明加工区"})
    assert r.status_code == 302
    client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
    login(client, "fire_todo")
    decide_on_page(client, check.id, "request_supplement", **{
        "problem_material_fire_safety_plan": "1", "message_material_fire_safety_plan": "缺少疏散示意图"})
    client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})

    login(client, "todo_op")
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    assert "待补正事项（3项）" in detail and "须为持证管理员" in detail and "缺少疏散示意图" in detail
    response = client.post(f"/my/applications/{application.reference}/supplement", data={
        "csrf_token": hidden(detail, "csrf_token"), "food_safety_manager": "钱七",
        "file_floor_plan": (io.BytesIO(pdf_bytes()), "plan.pdf"),
        "file_fire_safety_plan": (io.BytesIO(pdf_bytes()), "fire.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    assert (step_of(application, "food_licence").state, step_of(application, "fire_check").state) == (
        "received", "received")
    assert step_of(application, "drainage_permit").state == "received"  # did not ask, untouched
    assert application.answer_map["food_safety_manager"] == "钱七"


def test_the_head_approves_an_extension_and_the_applicant_sees_the_new_due_date(client):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Asia/Shanghai"))):
        operator = make_operator("ext_op")
        application = make_application("restaurant_opening", applicant=operator, state="licence_approved")
        make_reviewer("samr", "samr_ext")
        make_reviewer("samr", "samr_head_ext", head=True)
        from onestop.reviews.operations import Decision, decide
        from workflows.states import StepAction

        food = step_of(application, "food_licence")
        decide(food.id, None, Decision(StepAction.ACCEPT), db.session.scalar(select(User).where(User.username == "samr_ext")))
        commit()
        login(client, "samr_ext")
        page = client.get(f"/desk/steps/{food.id}").get_data(as_text=True)
        too_long = client.post(f"/desk/steps/{food.id}/extension", data={
            "extension-csrf_token": hidden(page, "extension-csrf_token"), "extension-amount": "11",
            "extension-reason": "专家评审"}).get_data(as_text=True)
        assert "延长时限超过本事项允许的上限" in too_long
        client.post(f"/desk/steps/{food.id}/extension", data={
            "extension-csrf_token": hidden(page, "extension-csrf_token"), "extension-amount": "10",
            "extension-reason": "专家评审"})
        client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
        login(client, "samr_head_ext")
        assert "有延期申请等待您审批" in client.get("/desk/").get_data(as_text=True)
        assert "2026-12-14 17:00" in client.get("/desk/supervision").get_data(as_text=True)  # the due date if approved
        listing = client.get("/desk/extensions").get_data(as_text=True)
        extension_id = re.search(r'/desk/extensions/(\d+)', listing).group(1)
        client.post(f"/desk/extensions/{extension_id}", data={"csrf_token": hidden(listing, "csrf_token"),
                                                              "decision": "approve"})
        client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
        login(client, "ext_op")
        detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
        assert "2026-12-14 17:00" in detail  # 15 working days from Tuesday 24 November


def test_a_reviewer_cannot_decide_extensions(client):
    make_reviewer("samr", "samr_noext")
    commit()
    login(client, "samr_noext")
    assert client.get("/desk/extensions").status_code == 403


def test_the_applicant_withdraws_with_a_reason(client):
    operator = make_operator("wd_op")
    application = make_application("restaurant_opening", applicant=operator)
    commit()
    login(client, "wd_op")
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    empty = client.post(f"/my/applications/{application.reference}/withdraw",
                        data={"csrf_token": hidden(detail, "csrf_token"), "reason": ""}).get_data(as_text=True)
    assert "请填写撤回原因" in empty
    client.post(f"/my/applications/{application.reference}/withdraw",
                data={"csrf_token": hidden(detail, "csrf_token"), "reason": "不再开店"})
    db.session.expire_all()
    assert application.state == "withdrawn" and application.withdraw_reason == "不再开店"
    other = make_person("wd_other")
    commit()
    client.post("/logout", data={"csrf_token": csrf(client, "/my/applications")})
    login(client, "wd_other")
    assert client.post(f"/my/applications/{application.reference}/withdraw",
                       data={"csrf_token": csrf(client, "/my/applications"), "reason": "x"}).status_code == 404
    assert other.id


def test_progress_by_reference_and_query_code_shows_no_personal_data(client):
    operator = make_operator("track_op")
    application = make_application("restaurant_opening", applicant=operator)
    commit()
    page = client.get("/track").get_data(as_text=True)
    wrong = client.post("/track", data={"csrf_token": hidden(page, "csrf_token"), "reference": application.reference,
                                        "query_code": "WRONG1"}).get_data(as_text=True)
    assert "未找到与该办件编号和查询码对应的办件" in wrong and "营业执照（门店）" not in wrong
    found = client.post("/track", data={"csrf_token": hidden(page, "csrf_token"), "reference": application.reference,
                                        "query_code": application.query_code.lower()}).get_data(as_text=True)
    assert "营业执照（门店）" in found and "待受理" in found
    for personal in (operator.name, operator.id_number, operator.phone, operator.enterprise.name, "豫味小馆"):
        assert personal not in found


def test_the_message_centre_shows_news_and_marks_it_read(client):
    operator = make_operator("msg_op")
    application = make_application("restaurant_opening", applicant=operator)
    commit()
    login(client, "msg_op")
    assert 'class="badge"' in client.get("/my/applications").get_data(as_text=True)
    page = client.get("/messages").get_data(as_text=True)
    assert f"您的办件{application.reference}已提交。" in page
    assert 'class="badge"' not in client.get("/my/applications").get_data(as_text=True)


