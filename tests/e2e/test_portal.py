"""The applicant portal end to end in Debian's Chromium, at desktop and phone sizes, Chinese UI.

An enterprise registers with consent, finds 开办餐饮店, fills the prefilled one form step by step, uploads
the materials once, checks and submits, follows the progress (also without logging in), answers a merged
supplement request of two departments at once, sees the results and rates the departments. A citizen does
新生儿出生 and follows the mailed social-security card. The departments' decisions are made through the
engine's operations (their pages are the desk's). Every main page is screenshotted and checked with
axe-core: no serious or critical violation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.factories import credit_code, id_number, pdf_bytes, png_bytes

from .conftest import LiveServer

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "a long enough password"


def axe(page: Page, name: str, found: dict[str, list[str]]) -> None:
    """Run axe-core in the page; collect serious and critical violations under the page's name.

    The script is evaluated through the DevTools protocol, so the site's strict CSP (no inline scripts)
    stays on for everything else the page does."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs axe-core with npm ci", pytrace=False)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                           ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
                           " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in result
           if v["impact"] in ("serious", "critical")]
    if bad:
        found[name] = bad


@pytest.fixture
def a11y() -> Any:
    found: dict[str, list[str]] = {}
    yield found
    assert not found, "axe-core found serious or critical violations:\n" + json.dumps(found, ensure_ascii=False, indent=1)


def nav(page: Page) -> Any:
    return page.get_by_role("navigation", name="主导航")


def status(page: Page) -> Any:
    return page.locator(".flashes")


def fact(page: Page, term: str) -> Any:
    return page.locator("dl.facts > div").filter(has=page.locator("dt", has_text=term)).locator("dd")


def save_and_continue(page: Page) -> None:
    page.get_by_role("button", name="保存并继续").click()


def login_as(page: Page, server: LiveServer, username: str) -> None:
    page.goto(server("/login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(server.password)
    page.get_by_role("button", name="登录").click()
    expect(nav(page).get_by_role("button", name="退出")).to_be_visible()


def decide_all(server: LiveServer, reference: str, only: dict[str, list[str]] | None = None) -> None:
    """The departments accept and approve every open step (optionally only these items: actions)."""
    from sqlalchemy import select

    from onestop.applications.models import Application
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from tests.factories import approve_open_steps

    with server.app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        approve_open_steps(application)
        commit()
        db.session.remove()


def operate(server: LiveServer, fn: Callable[[Any], None], reference: str) -> None:
    from sqlalchemy import select

    from onestop.applications.models import Application
    from onestop.core.jobs import commit
    from onestop.extensions import db

    with server.app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        fn(application)
        commit()
        db.session.remove()


DEVICES = ["desktop", "phone"]


@pytest.mark.parametrize("device", DEVICES)
def test_enterprise_registers_applies_answers_a_merged_supplement_and_rates(
    live_server: LiveServer, new_page: Callable[..., Page], shot: Callable[[Page, str], Path], tmp_path: Path,
    a11y: dict[str, list[str]], device: str,
) -> None:
    server = live_server
    page = new_page(device)
    prefix = f"{device}-portal"

    # Register an enterprise, with consent to reuse its data.
    page.goto(server("/"))
    axe(page, "catalog", a11y)
    shot(page, f"{prefix}-01-catalog")
    nav(page).get_by_role("link", name="注册").click()
    page.get_by_role("link", name=re.compile("法人")).click()
    code, operator_id = credit_code(), id_number("19900101")
    form = {"统一社会信用代码": code, "企业名称": "郑州小满餐饮有限公司", "法定代表人": "孙悦",
            "住所": "郑州市二七区大学路88号", "经办人姓名": "周航", "经办人身份证号码": operator_id,
            "用户名": f"xiaoman_{device}", "密码": PASSWORD, "再次输入密码": PASSWORD, "手机号码": "13912345678",
            "电子邮箱": "zhouhang@example.cn"}
    for label, value in form.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label(re.compile("我同意使用我的档案信息")).check()
    axe(page, "register", a11y)
    shot(page, f"{prefix}-02-register")
    page.get_by_role("button", name="注册").click()
    expect(page.get_by_role("heading", name="我的办件", level=1)).to_be_visible()

    # Find the matter and read its guide: the item graph, drawn on the server, with a text alternative.
    page.goto(server("/"))
    page.get_by_label("搜索").fill("餐饮")
    page.get_by_role("button", name="查找").click()
    expect(page.locator(".results-count")).to_contain_text("符合条件1个")
    page.get_by_role("link", name="开办餐饮店", exact=True).click()
    graph = page.get_by_role("img", name="开办餐饮店事项办理顺序")
    expect(graph).to_be_visible()
    expect(page.locator("ol.stages li")).to_have_count(2)
    expect(page.locator("table.savings")).to_contain_text("−")
    axe(page, "guide", a11y)
    shot(page, f"{prefix}-03-guide")

    # The one form: prefilled from the profile, each prefilled field marked.
    page.get_by_role("link", name="在线申请").first.click()
    expect(page.get_by_label("统一社会信用代码", exact=True)).to_have_value(code)
    expect(page.get_by_label("经办人身份证号码", exact=True)).to_have_value(operator_id)
    expect(page.locator(".tag-prefilled")).to_have_count(6)
    expect(page.get_by_role("navigation", name="填写步骤").locator("[aria-current=step]")).to_contain_text("申请企业")
    axe(page, "form-step-1", a11y)
    shot(page, f"{prefix}-04-form-prefilled")
    save_and_continue(page)

    # The restaurant: the browser points out a mistake before sending, with the server's message.
    page.get_by_label("门店名称", exact=True).fill("小满面馆（大学路店）")
    page.get_by_label("营业面积（平方米）", exact=True).fill("0")
    save_and_continue(page)
    expect(page.locator("#floor_area-error")).to_have_text("请输入1至100000之间的数字。")
    expect(page.get_by_label("营业面积（平方米）", exact=True)).to_have_attribute("aria-invalid", "true")
    routing = page.locator(".routing-list")
    expect(routing.locator("[data-item=fire_check]")).to_be_hidden()
    page.get_by_label("营业面积（平方米）", exact=True).fill("320")
    # The answer switches the fire-safety check on: the page says the matter now goes to the fire service.
    expect(routing.locator("[data-item=fire_check]")).to_be_visible()
    expect(routing).to_contain_text("消防救援支队")
    page.get_by_label("就餐座位数", exact=True).fill("90")
    page.get_by_label("经营项目", exact=True).select_option(label="热食类食品制售")
    page.get_by_label("食品安全管理员", exact=True).fill("吴敏")
    page.get_by_label("日排水量（立方米）", exact=True).fill("8")
    axe(page, "form-step-2", a11y)
    shot(page, f"{prefix}-05-form-shop")
    save_and_continue(page)
    expect(page.get_by_role("heading", name="户外招牌", level=2)).to_be_visible()
    save_and_continue(page)

    # One set of materials, each uploaded once.
    files = {}
    for key in ("premises_proof", "floor_plan", "food_safety_rules", "fire_safety_plan", "drainage_plan"):
        files[key] = tmp_path / f"{key}.pdf"
        files[key].write_bytes(pdf_bytes())
    labels = {"经营场所使用证明（租赁合同或产权证明）": "premises_proof", "经营场所平面布局图": "floor_plan",
              "食品安全管理制度": "food_safety_rules", "消防安全制度及疏散预案": "fire_safety_plan",
              "排水设施及隔油池示意图": "drainage_plan"}
    for label, key in labels.items():
        page.get_by_label(label, exact=True).set_input_files(files[key])
    axe(page, "form-materials", a11y)
    shot(page, f"{prefix}-06-form-materials")
    save_and_continue(page)

    # Check everything, then submit once.
    expect(page.get_by_role("heading", name="确认提交", level=2)).to_be_visible()
    expect(page.locator("dl.summary")).to_contain_text(["小满面馆（大学路店）"])
    expect(page.locator(".forecast-date")).to_be_visible()
    axe(page, "form-check", a11y)
    shot(page, f"{prefix}-07-form-check")
    page.get_by_role("button", name="提交", exact=True).click()

    # The receipt: reference number, query code, expected completion with its explanation.
    expect(page.get_by_role("heading", name=re.compile("提交成功"))).to_be_visible()
    reference = fact(page, "办件编号").inner_text().strip()
    query_code = fact(page, "查询码").inner_text().strip()
    expect(fact(page, "预计办结时间")).not_to_be_empty()
    expect(page.locator(".forecast")).to_contain_text("营业执照（门店）")
    axe(page, "receipt", a11y)
    shot(page, f"{prefix}-08-receipt")

    # Anyone with the reference and the query code sees the progress, and no personal data.
    public = new_page(device)
    public.goto(server("/track"))
    public.get_by_label("办件编号").fill(reference)
    public.get_by_label("查询码").fill(query_code.lower())
    public.get_by_role("button", name="查询").click()
    expect(public.locator(".track")).to_contain_text("营业执照（门店）")
    for personal in ("郑州小满餐饮有限公司", "周航", operator_id, "小满面馆", "13912345678"):
        expect(public.locator("main")).not_to_contain_text(personal)
    axe(public, "track", a11y)
    shot(public, f"{prefix}-09-track")
    public.context.close()

    # The licence is approved; then two departments ask for corrections at once.
    decide_all_licence(server, reference)
    page.goto(server(f"/my/applications/{reference}"))
    todo = page.locator("section.todo")
    expect(todo.get_by_role("heading")).to_have_text("待补正事项（3项）")
    expect(todo).to_contain_text("市场监督管理局")
    expect(todo).to_contain_text("消防救援支队")
    axe(page, "detail-supplement", a11y)
    shot(page, f"{prefix}-10-detail-supplement")
    todo.get_by_label("食品安全管理员", exact=True).fill("郑洁")
    todo.get_by_label("经营场所平面布局图", exact=True).set_input_files(files["floor_plan"])
    todo.get_by_label("消防安全制度及疏散预案", exact=True).set_input_files(files["fire_safety_plan"])
    todo.get_by_role("button", name="提交补正").click()
    expect(status(page)).to_contain_text("2个部门已恢复办理")
    expect(page.locator("section.todo")).to_have_count(0)

    # Everything approved: the results together, then the ratings.
    decide_all(server, reference)
    page.reload()
    expect(fact(page, "状态")).to_have_text("已办结")
    results = page.locator("section.outcomes")
    expect(results).to_contain_text("食品经营许可证")
    ratings = page.locator("section.ratings")
    samr = ratings.locator(".rating-row").filter(has=page.get_by_role("heading", name="市场监督管理局"))
    samr.get_by_label("非常满意").check()
    samr.get_by_role("button", name="提交评价").click()
    expect(status(page)).to_contain_text("感谢您的评价")
    fire = page.locator("section.ratings .rating-row").filter(has=page.get_by_role("heading", name="消防救援支队"))
    fire.get_by_label("不满意", exact=True).check()
    fire.get_by_label("评价内容（选填）").fill("现场核查预约太晚")
    fire.get_by_role("button", name="提交评价").click()
    expect(status(page)).to_contain_text("5个工作日内答复")
    axe(page, "detail-completed", a11y)
    shot(page, f"{prefix}-11-detail-completed-rated")

    # The fire service's head answers the bad rating on the head's page; the applicant sees the answer.
    head_name = f"fire_head_{device}"
    with server.app.app_context():
        from onestop.core.jobs import commit
        from onestop.extensions import db
        from tests.factories import make_reviewer

        make_reviewer("fire", username=head_name, head=True)
        commit()
        db.session.remove()
    head = new_page(device)
    login_as(head, server, head_name)
    nav(head).get_by_role("link", name="好差评").click()
    card = head.locator("article.rating-card").filter(has_text=reference)
    expect(card).to_contain_text("现场核查预约太晚")
    axe(head, "ratings-head", a11y)
    shot(head, f"{prefix}-15-ratings-head")
    card.get_by_label("答复申请人（核查情况、整改措施）").fill("已调整现场核查预约，两个工作日内上门。")
    card.get_by_role("button", name="发送答复").click()
    expect(status(head)).to_contain_text("答复已发送给申请人")
    head.context.close()
    page.reload()
    expect(page.locator("section.ratings .reply")).to_contain_text("已调整现场核查预约")

    nav(page).get_by_role("link", name=re.compile("消息")).click()
    expect(page.locator(".messages")).to_contain_text(reference)
    axe(page, "messages", a11y)
    shot(page, f"{prefix}-12-messages")
    nav(page).get_by_role("link", name="我的档案").click()
    expect(page.locator("table.profile-facts")).to_contain_text("郑州小满餐饮有限公司")
    axe(page, "profile", a11y)
    shot(page, f"{prefix}-13-profile")
    nav(page).get_by_role("link", name="我的办件").click()
    axe(page, "my-matters", a11y)
    shot(page, f"{prefix}-14-my-matters")


def decide_all_licence(server: LiveServer, reference: str) -> None:
    """Market regulation approves the licence; it asks about the food-safety manager and the floor plan,
    the fire service about the evacuation plan; water accepts."""
    from onestop.reviews.operations import Decision, decide
    from tests.factories import make_reviewer, step_of
    from workflows.states import StepAction

    def act(application: Any) -> None:
        samr, fire, water = (make_reviewer(c) for c in ("samr", "fire", "water"))
        licence = step_of(application, "business_licence")
        decide(licence.id, None, Decision(StepAction.ACCEPT), samr)
        decide(licence.id, None, Decision(StepAction.APPROVE), samr)
        decide(step_of(application, "food_licence").id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
            {"kind": "field", "key": "food_safety_manager", "message": "须为持证食品安全管理员"},
            {"kind": "material", "key": "floor_plan", "message": "未标明食品加工区"}]), samr)
        decide(step_of(application, "fire_check").id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
            {"kind": "material", "key": "fire_safety_plan", "message": "缺少疏散示意图"}]), fire)
        decide(step_of(application, "drainage_permit").id, None, Decision(StepAction.ACCEPT), water)

    operate(server, act, reference)


@pytest.mark.parametrize("device", DEVICES)
def test_a_citizen_registers_a_newborn_and_follows_the_mailed_card(
    live_server: LiveServer, new_page: Callable[..., Page], shot: Callable[[Page, str], Path], tmp_path: Path,
    a11y: dict[str, list[str]], device: str,
) -> None:
    server = live_server
    page = new_page(device)
    prefix = f"{device}-newborn"
    page.goto(server("/register/person"))
    mother_id = id_number("19930412")
    for label, value in {"真实姓名": "林晓", "居民身份证号码": mother_id, "地址": "郑州市金水区文化路66号",
                         "用户名": f"linxiao_{device}", "密码": PASSWORD, "再次输入密码": PASSWORD,
                         "手机号码": "13700001111"}.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label(re.compile("我同意使用我的档案信息")).check()
    page.get_by_role("button", name="注册").click()
    expect(page.get_by_role("heading", name="我的办件", level=1)).to_be_visible()

    page.goto(server("/?audience=person"))
    page.get_by_role("link", name="新生儿出生", exact=True).click()
    expect(page.get_by_role("img", name="新生儿出生事项办理顺序")).to_be_visible()
    axe(page, "guide-newborn", a11y)
    shot(page, f"{prefix}-01-guide")
    page.get_by_role("link", name="在线申请").first.click()
    expect(page.get_by_label("申请人身份证号码", exact=True)).to_have_value(mother_id)
    page.get_by_label("申请人与新生儿关系", exact=True).select_option(label="母亲")
    page.get_by_label("另一方父母姓名", exact=True).fill("陈立")
    page.get_by_label("另一方父母身份证号码", exact=True).fill(id_number("19910203"))
    page.get_by_label("申报户口地址", exact=True).fill("郑州市金水区文化路66号")
    shot(page, f"{prefix}-02-form-parents")
    save_and_continue(page)
    page.get_by_label("新生儿姓名", exact=True).fill("陈小禾")
    page.get_by_label("性别", exact=True).select_option(label="女")
    page.get_by_label("出生日期", exact=True).fill("2026-11-28")
    page.get_by_label("出生医院（助产机构）", exact=True).select_option(label="郑州市妇幼保健院")
    page.get_by_label("预防接种门诊", exact=True).select_option(label="金水区社区卫生服务中心预防接种门诊")
    save_and_continue(page)
    # The delivery address comes from the profile.
    expect(page.get_by_label("寄递地址", exact=True)).to_have_value("郑州市金水区文化路66号")
    expect(page.get_by_label("收件人", exact=True)).to_have_value("林晓")
    axe(page, "form-newborn-delivery", a11y)
    shot(page, f"{prefix}-03-form-delivery")
    save_and_continue(page)
    photo = tmp_path / "baby.png"
    photo.write_bytes(png_bytes())
    disguised = tmp_path / "baby.jpg"
    disguised.write_bytes(pdf_bytes())
    page.get_by_label("新生儿电子照片（社保卡用）", exact=True).set_input_files(disguised)
    save_and_continue(page)
    expect(page.locator("#file_child_photo-error")).to_contain_text("仅接受JPEG、PNG文件")
    page.get_by_label("新生儿电子照片（社保卡用）", exact=True).set_input_files(photo)
    save_and_continue(page)
    page.get_by_role("button", name="提交", exact=True).click()
    reference = fact(page, "办件编号").inner_text().strip()
    shot(page, f"{prefix}-04-receipt")

    decide_all(server, reference)
    page.goto(server(f"/my/applications/{reference}"))
    expect(fact(page, "状态")).to_have_text("已办结")
    delivery = page.locator("li.delivery")
    expect(delivery).to_contain_text("社会保障卡（实体卡）")
    expect(delivery).to_contain_text("制作中")

    # The social-security department posts the card from its page for physical results.
    staff_name = f"hrss_mail_{device}"
    with server.app.app_context():
        from onestop.core.jobs import commit
        from onestop.extensions import db
        from tests.factories import make_reviewer

        make_reviewer("hrss", username=staff_name)
        commit()
        db.session.remove()
    staff = new_page(device)
    login_as(staff, server, staff_name)
    nav(staff).get_by_role("link", name="结果寄递").click()
    card = staff.locator("article.card").filter(has_text=reference)
    expect(card).to_contain_text("郑州市金水区文化路66号")
    axe(staff, "deliveries", a11y)
    shot(staff, f"{prefix}-06-deliveries-staff")
    card.get_by_label("运单号").fill("EM000111222CN")
    card.get_by_role("button", name="已寄出").click()
    expect(status(staff)).to_contain_text("已寄出")
    staff.context.close()
    page.reload()
    expect(delivery).to_contain_text("EM000111222CN")
    expect(delivery).to_contain_text("已寄出")
    row = page.locator("section.ratings .rating-row").first
    row.get_by_label("满意", exact=True).check()
    row.get_by_role("button", name="提交评价").click()
    expect(status(page)).to_contain_text("感谢您的评价")
    axe(page, "detail-newborn", a11y)
    shot(page, f"{prefix}-05-detail-mailed")
