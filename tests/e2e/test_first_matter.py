"""The first matter end to end in a real browser, Chinese UI: 开办餐饮店 from the guide to 已办结.

An enterprise operator applies with one form and one set of materials; the business licence (营业执照（门店）)
is decided first by market regulation; its approval starts the food licence (market regulation), the
fire-safety check (fire, since the floor area is at least 300 m²) and the drainage permit (water); each
department accepts (受理) and approves (准予); the operator then sees the matter completed (已办结).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.factories import pdf_bytes

from .conftest import LiveServer

BUNDLE = "开办餐饮店"
PREFILL_LABELS = {
    "enterprise_name": "企业名称", "credit_code": "统一社会信用代码", "legal_rep_name": "法定代表人",
    "operator_name": "经办人姓名", "operator_id": "经办人身份证号码", "operator_phone": "经办人手机号码",
    "shop_address": "经营场所地址",
}
SHOP = {"门店名称": "豫味小馆（花园路店）", "营业面积（平方米）": "350", "就餐座位数": "120",
        "食品安全管理员": "赵强", "日排水量（立方米）": "12"}
FOOD_CATEGORY = ("经营项目", "热食类食品制售", "hot")
MATERIALS = {  # file input label -> material key (input name file_<key>)
    "经营场所使用证明（租赁合同或产权证明）": "premises_proof",
    "经营场所平面布局图": "floor_plan",
    "食品安全管理制度": "food_safety_rules",
    "消防安全制度及疏散预案": "fire_safety_plan",  # shown because the floor area is ≥ 300 m²
    "排水设施及隔油池示意图": "drainage_plan",
}
STEPS = {  # item name -> department that decides it
    "营业执照（门店）": "samr",
    "食品经营许可": "samr",
    "公众聚集场所投入使用、营业前消防安全检查": "fire",
    "城镇污水排入排水管网许可": "water",
}
GUIDE_ITEMS = ["营业执照（门店）", "食品经营许可", "公众聚集场所投入使用、营业前消防安全检查", "户外招牌设置",
               "城镇污水排入排水管网许可"]
DEPARTMENTS = {"samr": "市场监督管理局", "fire": "消防救援支队", "water": "水务局"}


# --- helpers -------------------------------------------------------------------------------------------

def nav(page: Page) -> Any:
    """The header's main navigation (主导航)."""
    return page.get_by_role("navigation", name="主导航")


def login(page: Page, server: LiveServer, username: str) -> None:
    page.goto(server("/login"))
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(server.password)
    page.get_by_role("button", name="登录").click()
    expect(nav(page).get_by_role("button", name="退出")).to_be_visible()


def logout(page: Page) -> None:
    nav(page).get_by_role("button", name="退出").click()
    expect(page.get_by_role("status")).to_contain_text("您已安全退出。")
    expect(nav(page).get_by_role("link", name="登录")).to_be_visible()


def pdf_files(folder: Path) -> dict[str, Path]:
    files = {}
    for key in MATERIALS.values():
        path = folder / f"{key}.pdf"
        path.write_bytes(pdf_bytes())
        files[key] = path
    return files


def fill_shop(page: Page) -> None:
    for label, value in SHOP.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label(FOOD_CATEGORY[0], exact=True).select_option(label=FOOD_CATEGORY[1])


def attach(page: Page, files: dict[str, Path], only: list[str] | None = None) -> None:
    for label, key in MATERIALS.items():
        if only is None or key in only:
            page.get_by_label(label, exact=True).set_input_files(files[key])


def continue_(page: Page) -> None:
    page.get_by_role("button", name="保存并继续").click()


def walk_the_form(page: Page, files: dict[str, Path], shoot: Callable[[Page, str], Path] | None = None) -> None:
    """From the first step of the one form to the check page: prefilled enterprise data, the restaurant,
    no outdoor sign, the materials."""
    expect(page.get_by_role("navigation", name="填写步骤")).to_be_visible()
    continue_(page)
    fill_shop(page)
    continue_(page)
    continue_(page)  # no outdoor sign
    attach(page, files)
    if shoot:
        shoot(page, "desktop-03-apply-form")
    continue_(page)
    expect(page.get_by_role("heading", name="确认提交", level=2)).to_be_visible()


def fact(page: Page, term: str) -> Any:
    """The <dd> of a <dl class="facts"> entry."""
    return page.locator("dl.facts > div").filter(has=page.locator("dt", has_text=term)).locator("dd")


def timeline_step(page: Page, item: str) -> Any:
    """The detail page's progress entry of one item (its <h3> names the item and the department)."""
    return page.locator("article.track-item").filter(has=page.get_by_role("heading", name=item, level=4))


def open_step_from_desk(page: Page, reference: str, item: str) -> None:
    nav(page).get_by_role("link", name="审批工作台").click()
    expect(page.get_by_role("heading", name="审批工作台", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=reference).filter(has_text=item)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", name=item, level=1)).to_be_visible()
    expect(fact(page, "办件编号")).to_have_text(reference)


def claim(page: Page) -> None:
    """Take the step: the decision forms appear only for the reviewer who holds it."""
    page.get_by_role("button", name="认领此环节").click()
    expect(page.get_by_role("status")).to_contain_text("您已认领此环节")


def decide(page: Page, action: str, expected_state: str) -> None:
    """Press the decision, check the confirmation page, confirm."""
    page.locator("form.decision-form").get_by_role("button", name=action, exact=True).click()
    expect(page.get_by_role("heading", name="确认办理决定", level=1)).to_be_visible()
    page.get_by_role("button", name="确认并记录").click()
    expect(page.get_by_role("status")).to_contain_text("办理决定已记录，并已告知申请人。")
    expect(fact(page, "状态")).to_have_text(expected_state)


def decision_buttons(page: Page):
    return page.locator("form.decision-form button[name=action]")


def accept_and_approve(page: Page, reference: str, item: str,
                       on_open: Callable[[Page], object] | None = None) -> None:
    open_step_from_desk(page, reference, item)
    expect(fact(page, "状态")).to_have_text("待受理")
    if on_open is not None:
        on_open(page)
    claim(page)
    # Only the actions the state allows are offered: before acceptance, accept, ask for corrections, reject.
    expect(decision_buttons(page)).to_have_text(["受理", "发送补正清单", "不予办理"])
    decide(page, "受理", "已受理，审查中")
    expect(decision_buttons(page)).to_have_text(["发送补正清单", "准予", "不予办理", "中止"])
    decide(page, "准予", "准予")
    # A decided step offers no further decision.
    expect(decision_buttons(page)).to_have_count(0)


# --- tests ---------------------------------------------------------------------------------------------

def test_restaurant_opening_from_guide_to_completed(
    live_server: LiveServer, new_page: Callable[..., Page], shot: Callable[[Page, str], Path], tmp_path: Path,
) -> None:
    server = live_server
    files = pdf_files(tmp_path)
    page = new_page("desktop")

    # The operator logs in and lands on "my matters"; there is nothing yet.
    login(page, server, server.operator)
    expect(page.get_by_role("heading", name="我的办件", level=1)).to_be_visible()
    expect(page.get_by_text("您还没有办件。")).to_be_visible()

    # Catalog -> guide -> the one form.
    nav(page).get_by_role("link", name="办事服务").click()
    expect(page.get_by_role("heading", name="一件事，一次办", level=1)).to_be_visible()
    shot(page, "desktop-01-catalog")
    page.get_by_role("link", name=BUNDLE, exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(BUNDLE), level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="涉及事项和部门")).to_be_visible()
    items_table = page.locator("table.items-table tbody tr")
    expect(items_table.locator("th")).to_have_text(GUIDE_ITEMS)
    for item, department in STEPS.items():
        expect(items_table.filter(has=page.locator("th", has_text=item)).locator("td").nth(0)) \
            .to_have_text(DEPARTMENTS[department])
    shot(page, "desktop-02-guide")
    page.get_by_role("link", name="在线申请").first.click()
    expect(page).to_have_url(re.compile(r"/drafts/[^/]+/enterprise$"))
    expect(page.get_by_role("heading", name=BUNDLE, level=1)).to_be_visible()

    # Prefilled from the enterprise profile (the operator gave consent), each marked 来自档案.
    for key, label in PREFILL_LABELS.items():
        if key != "shop_address":
            expect(page.get_by_label(label, exact=True)).to_have_value(server.profile[key])
    expect(page.locator(".tag-prefilled")).to_have_count(len(PREFILL_LABELS) - 1)  # the address is on step 2
    continue_(page)
    expect(page.get_by_label(PREFILL_LABELS["shop_address"], exact=True)).to_have_value(server.profile["shop_address"])
    page.get_by_role("button", name="上一步").click()

    walk_the_form(page, files, shot)
    # The e-licence library holds the enterprise's licence: nothing to upload for it.
    expect(page.locator("body")).not_to_contain_text("企业营业执照（请上传）")
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("提交成功"))).to_be_visible()
    page.get_by_role("link", name="查看办理进度").click()

    # The detail page: reference number, in progress, the licence first and the rest waiting for it.
    expect(page).to_have_url(re.compile(r"/my/applications/[^/]+$"))
    reference = page.url.rsplit("/", 1)[1]
    expect(fact(page, "办件编号")).to_have_text(reference)
    expect(fact(page, "状态")).to_have_text("办理中")
    steps = page.locator("article.track-item")
    expect(steps).to_have_count(len(STEPS))  # no outdoor sign asked for: that item does not apply
    expect(timeline_step(page, "营业执照（门店）").locator(".state")).to_have_text("待受理")
    for item in list(STEPS)[1:]:
        expect(timeline_step(page, item).locator(".state")).to_have_text("等待前置事项")
    shot(page, "desktop-04-detail-submitted")

    # The same pages on a phone.
    phone = new_page("phone")
    login(phone, server, server.operator)
    phone.goto(server("/"))
    expect(phone.get_by_role("link", name=BUNDLE, exact=True)).to_be_visible()
    shot(phone, "phone-01-catalog")
    phone.goto(server("/apply/restaurant_opening"))  # a fresh draft: the first one was submitted
    expect(phone.get_by_label("企业名称", exact=True)).to_have_value(server.profile["enterprise_name"])
    shot(phone, "phone-02-apply-form")
    phone.goto(server(f"/my/applications/{reference}"))
    expect(fact(phone, "办件编号")).to_have_text(reference)
    shot(phone, "phone-03-detail")
    phone.context.close()

    logout(page)

    # Market regulation: the business licence first.
    login(page, server, server.reviewers["samr"])
    expect(page.get_by_role("heading", name="审批工作台", level=1)).to_be_visible()
    queue = page.get_by_role("row").filter(has_text=reference)
    expect(queue).to_have_count(1)  # the food licence waits for the business licence
    shot(page, "desktop-05-desk-queue")
    accept_and_approve(page, reference, "营业执照（门店）", on_open=lambda p: shot(p, "desktop-06-step"))
    # Its approval starts the dependants, in parallel.
    others = page.locator("h2", has_text="本办件的其他部门").locator("xpath=following-sibling::ul[1]")
    for item in list(STEPS)[1:]:
        expect(others.locator("li").filter(has_text=item)).to_contain_text("待受理")
    shot(page, "desktop-07-step-approved")
    accept_and_approve(page, reference, "食品经营许可")
    nav(page).get_by_role("link", name="审批工作台").click()
    expect(page.get_by_role("row").filter(has_text=reference)).to_have_count(0)
    logout(page)

    for department, item in (("fire", "公众聚集场所投入使用、营业前消防安全检查"), ("water", "城镇污水排入排水管网许可")):
        login(page, server, server.reviewers[department])
        accept_and_approve(page, reference, item)
        logout(page)

    # The operator: the matter is completed and every step approved.
    login(page, server, server.operator)
    row = page.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("已办结")
    row.get_by_role("link", name=reference).click()
    expect(fact(page, "状态")).to_have_text("已办结")
    expect(fact(page, "办结时间")).not_to_be_empty()
    expect(steps).to_have_count(len(STEPS))
    for item in STEPS:
        expect(timeline_step(page, item).locator(".state")).to_have_text("准予")
    shot(page, "desktop-08-detail-completed")


def test_rejected_upload_is_reported_next_to_its_material_and_answers_are_kept(
    live_server: LiveServer, page: Page, shot: Callable[[Page, str], Path], tmp_path: Path,
) -> None:
    server = live_server
    files = pdf_files(tmp_path)
    fake = tmp_path / "lease.pdf"
    fake.write_text("这不是PDF，只是一段文字。\nThis is plain text, not a PDF.\n", encoding="utf-8")

    login(page, server, server.operator)
    page.goto(server("/apply/restaurant_opening"))
    continue_(page)
    fill_shop(page)
    continue_(page)
    continue_(page)
    attach(page, files, only=["floor_plan", "food_safety_rules", "fire_safety_plan", "drainage_plan"])
    page.get_by_label("经营场所使用证明（租赁合同或产权证明）", exact=True).set_input_files(fake)
    continue_(page)

    # Still on the materials step, with the reason next to that material only.
    expect(page).to_have_url(re.compile(r"/drafts/[^/]+/materials$"))
    expect(page.get_by_role("status")).to_contain_text("部分内容需要修改，您已填写的内容均已保留。")
    bad = page.get_by_label("经营场所使用证明（租赁合同或产权证明）", exact=True)
    expect(bad).to_have_attribute("aria-invalid", "true")
    error = page.locator("#file_premises_proof-error")
    expect(error).to_have_text("仅接受PDF、JPEG、PNG文件；该文件内容不属于这些格式（与文件名无关）。")
    expect(bad).to_have_attribute("aria-describedby", "file_premises_proof-help file_premises_proof-error")
    expect(page.locator(".field-errors")).to_have_count(1)
    expect(page.locator(".error-summary")).to_contain_text("经营场所使用证明")
    shot(page, "desktop-09-apply-rejected-upload")

    # The accepted files need not be sent again, and every typed answer is kept.
    expect(page.get_by_text("已收到")).to_have_count(len(MATERIALS) - 1)
    page.get_by_role("navigation", name="填写步骤").get_by_role("button", name=re.compile("门店信息")).click()
    for label, value in SHOP.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label(FOOD_CATEGORY[0], exact=True)).to_have_value(FOOD_CATEGORY[2])
    page.get_by_role("navigation", name="填写步骤").get_by_role("button", name=re.compile("申请材料")).click()

    # Replacing only the refused file is enough to submit.
    page.get_by_label("经营场所使用证明（租赁合同或产权证明）", exact=True).set_input_files(files["premises_proof"])
    continue_(page)
    page.get_by_role("button", name="提交", exact=True).click()
    page.get_by_role("link", name="查看办理进度").click()
    expect(page).to_have_url(re.compile(r"/my/applications/[^/]+$"))
    expect(fact(page, "状态")).to_have_text("办理中")
