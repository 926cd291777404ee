"""The reviewer's desk in a real browser, Chinese UI.

A market-regulation reviewer claims the business licence of a restaurant matter, asks for a correction
(confirmed on its own page), the applicant answers the to-do list, the reviewer accepts and approves. A
second reviewer who tries to take the claimed step is refused, told who holds it; a reviewer whose
decision arrives after another one's is told who decided, and nothing changes. The water department's
head approves an extension and the applicant sees the new due date. Screenshots: test-artifacts/e2e/desk-*.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from .conftest import LiveServer
from .test_first_matter import fact, login, nav, timeline_step

LICENCE, FOOD, DRAINAGE = "营业执照（门店）", "食品经营许可", "城镇污水排入排水管网许可"


def _staff(server: LiveServer) -> dict[str, object]:
    """A second market-regulation reviewer, its head, the water head, and a submitted matter."""
    from sqlalchemy import select

    from onestop.accounts.models import StaffRoleName, User
    from onestop.accounts.operations import create_staff
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from tests.factories import PASSWORD, department, make_application

    with server.app.app_context():
        samr, water = department("samr"), department("water")
        create_staff(username="e2e_samr_2", password=PASSWORD, name="李复核", roles=[(samr, StaffRoleName.REVIEWER)])
        create_staff(username="e2e_samr_head", password=PASSWORD, name="周科长",
                     roles=[(samr, StaffRoleName.REVIEWER), (samr, StaffRoleName.HEAD)])
        create_staff(username="e2e_water_head", password=PASSWORD, name="吴科长",
                     roles=[(water, StaffRoleName.REVIEWER), (water, StaffRoleName.HEAD)])
        operator = db.session.scalar(select(User).where(User.username == server.operator))
        application = make_application("restaurant_opening", applicant=operator)
        reviewer_name = db.session.scalar(select(User.name).where(User.username == server.reviewers["samr"]))
        commit()
        result = {"reference": application.reference, "reviewer_name": reviewer_name}
        db.session.remove()
    return result


def due_of(server: LiveServer, reference: str, item: str) -> str:
    from sqlalchemy import select

    from onestop.applications.models import Application, Step
    from onestop.core.clock import to_local
    from onestop.extensions import db

    with server.app.app_context():
        due = db.session.scalar(select(Step.due_at).join(Application).where(
            Application.reference == reference, Step.item_code == item))
        db.session.remove()
    return to_local(due).strftime("%Y-%m-%d %H:%M")


def open_step(page: Page, reference: str, item: str, tab: str = "待受理") -> None:
    nav(page).get_by_role("link", name="审批工作台").click()
    page.get_by_role("navigation", name="待办分类").get_by_role("link", name=re.compile(tab)).click()
    row = page.get_by_role("row").filter(has_text=reference).filter(has_text=item)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", name=item, level=1)).to_be_visible()


def confirm(page: Page, shot: Callable[[Page, str], Path] | None = None, name: str = "") -> None:
    expect(page.get_by_role("heading", name="确认办理决定", level=1)).to_be_visible()
    if shot is not None:
        shot(page, name)
    page.get_by_role("button", name="确认并记录").click()


def press(page: Page, action: str) -> None:
    page.locator("form.decision-form").get_by_role("button", name=action, exact=True).click()


def test_claim_supplement_answer_accept_approve_refusals_and_an_extension(
    live_server: LiveServer, new_page: Callable[..., Page], shot: Callable[[Page, str], Path], artifacts: Path,
) -> None:
    server = live_server
    seeded = _staff(server)
    reference, first_name = seeded["reference"], seeded["reviewer_name"]

    # The queue: tabs with counts, the matter waiting to be accepted, nobody holding it.
    reviewer = new_page("desktop")
    login(reviewer, server, server.reviewers["samr"])
    nav(reviewer).get_by_role("link", name="审批工作台").click()
    tabs = reviewer.get_by_role("navigation", name="待办分类")
    expect(tabs.get_by_role("link", name=re.compile("待受理"))).to_have_attribute("aria-current", "page")
    expect(tabs.get_by_role("link", name=re.compile("待受理"))).to_contain_text("1")
    row = reviewer.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("未认领")
    expect(row).to_contain_text("受理后开始计时")
    shot(reviewer, "desk-01-queue")

    # A second reviewer opens the same step while it is still free ...
    second = new_page("desktop")
    login(second, server, "e2e_samr_2")
    open_step(second, reference, LICENCE)
    expect(second.get_by_text("此环节尚无人认领")).to_be_visible()

    # ... the first claims it and sees the decisions; the second's claim is then refused, naming the holder.
    row.get_by_role("link", name=reference).click()
    expect(reviewer.locator("form.decision-form")).to_have_count(0)
    reviewer.get_by_role("button", name="认领此环节").click()
    expect(reviewer.get_by_role("status")).to_contain_text("您已认领此环节")
    expect(reviewer.get_by_text("您正在办理此环节。")).to_be_visible()
    shot(reviewer, "desk-02-step-claimed")
    licence_url = reviewer.url
    second.get_by_role("button", name="认领此环节").click()
    expect(second.get_by_role("status")).to_contain_text(f"{first_name}正在办理此环节，不能认领。")
    expect(second.locator("form.decision-form")).to_have_count(0)
    shot(second, "desk-03-second-reviewer-refused")

    # One list of corrections, confirmed on its own page.
    reviewer.locator("#problem_field_shop_name").check()
    reviewer.locator("input[name=message_field_shop_name]").fill("请填写营业执照上的门店全称")
    press(reviewer, "发送补正清单")
    expect(reviewer.get_by_text("请填写营业执照上的门店全称")).to_be_visible()
    confirm(reviewer, shot, "desk-04-confirm-supplement")
    expect(reviewer.get_by_role("status")).to_contain_text("办理决定已记录，并已告知申请人。")
    expect(fact(reviewer, "状态")).to_have_text("待补正")

    # The applicant answers the one to-do list.
    applicant = new_page("desktop")
    login(applicant, server, server.operator)
    applicant.goto(server(f"/my/applications/{reference}"))
    expect(applicant.get_by_text("待补正事项（1项）")).to_be_visible()
    expect(applicant.get_by_text("请填写营业执照上的门店全称")).to_be_visible()
    applicant.get_by_label("门店名称", exact=True).fill("豫味小馆（郑州花园路店）")
    shot(applicant, "desk-05-applicant-answers")
    applicant.get_by_role("button", name="提交补正").click()
    expect(applicant.get_by_role("status")).to_contain_text("1个部门已恢复办理")

    # Back at the desk: accept, then approve, each confirmed.
    reviewer.reload()
    expect(fact(reviewer, "状态")).to_have_text("待受理")
    expect(reviewer.get_by_text("豫味小馆（郑州花园路店）")).to_be_visible()
    press(reviewer, "受理")
    confirm(reviewer)
    expect(fact(reviewer, "状态")).to_have_text("已受理，审查中")
    expect(fact(reviewer, "剩余时间")).to_contain_text("工作日")
    press(reviewer, "准予")
    confirm(reviewer)
    expect(fact(reviewer, "状态")).to_have_text("准予")
    shot(reviewer, "desk-06-approved")

    # The food licence started. The first reviewer gets as far as the confirmation of an approval ...
    open_step(reviewer, reference, FOOD)
    reviewer.get_by_role("button", name="认领此环节").click()
    press(reviewer, "受理")
    confirm(reviewer)
    press(reviewer, "准予")
    expect(reviewer.get_by_role("heading", name="确认办理决定", level=1)).to_be_visible()
    # ... meanwhile the head gives the step to the second reviewer, who approves it first.
    head = new_page("desktop")
    login(head, server, "e2e_samr_head")
    open_step(head, reference, FOOD, tab="办理中")
    head.get_by_text("改派（科室负责人）").click()
    head.get_by_role("region", name="办理人员").get_by_label("指派给").select_option(label="李复核")
    head.get_by_role("region", name="办理人员").get_by_label("理由").fill("李复核熟悉该门店")
    head.get_by_role("button", name="改派", exact=True).click()
    expect(head.get_by_role("status")).to_contain_text("已改派。")
    second.goto(head.url)
    expect(second.get_by_text("您正在办理此环节。")).to_be_visible()
    expect(second.get_by_text("由科室负责人指派给您。")).to_be_visible()
    press(second, "准予")
    confirm(second)
    expect(fact(second, "状态")).to_have_text("准予")
    # The first reviewer's confirmation now changes nothing and says who decided.
    reviewer.get_by_role("button", name="确认并记录").click()
    expect(reviewer.get_by_role("status")).to_contain_text("该环节已由李复核作出决定，本次未作任何更改。")
    expect(fact(reviewer, "状态")).to_have_text("准予")
    shot(reviewer, "desk-07-second-decision-refused")

    # Water: the reviewer accepts the drainage permit and asks for two more working days.
    water = new_page("desktop")
    login(water, server, server.reviewers["water"])
    open_step(water, reference, DRAINAGE)
    water.get_by_role("button", name="认领此环节").click()
    press(water, "受理")
    confirm(water)
    before = due_of(server, reference, "drainage_permit")
    water.get_by_label("延长时限（与承诺时限单位相同）").fill("2")
    water.locator("#extension-reason").fill("需现场勘查隔油池")
    water.get_by_role("button", name="申请延期").click()
    expect(water.get_by_role("status")).to_contain_text("已提交延期申请")

    # The water head approves it on the supervision page.
    water_head = new_page("desktop")
    login(water_head, server, "e2e_water_head")
    nav(water_head).get_by_role("link", name="审批工作台").click()
    water_head.get_by_role("link", name="督办").click()
    expect(water_head.get_by_role("heading", name=re.compile("督办"), level=1)).to_be_visible()
    extension = water_head.get_by_role("row").filter(has_text="需现场勘查隔油池")
    expect(extension).to_contain_text(reference)
    expect(extension).to_contain_text("2个工作日")
    shot(water_head, "desk-08-supervision")
    extension.get_by_role("button", name="批准延期").click()
    expect(water_head.get_by_role("status")).to_contain_text("已批准延期")
    after = due_of(server, reference, "drainage_permit")
    assert after > before

    # The applicant sees the new due date, and the news in the message centre.
    applicant.goto(server(f"/my/applications/{reference}"))
    drainage = timeline_step(applicant, DRAINAGE)
    expect(drainage).to_contain_text(after, use_inner_text=True)  # shown, not only in a closed explanation
    expect(drainage).not_to_contain_text(before, use_inner_text=True)
    shot(applicant, "desk-09-applicant-new-due-date")
    nav(applicant).get_by_role("link", name=re.compile("消息")).click()
    expect(applicant.get_by_text(f"有部门延长了办件{reference}的办理时限。")).to_be_visible()

    # The licence's material, previewed on the step page (loaded when scrolled to) through the step's
    # own route; last, since Chromium's PDF viewer then holds the mouse over its frame.
    reviewer.goto(licence_url)
    preview = reviewer.locator("iframe.material-preview").first
    expect(preview).to_have_attribute("src", re.compile(r"^/desk/steps/\d+/materials/\d+$"))
    preview.scroll_into_view_if_needed()
    reviewer.wait_for_timeout(1500)  # the viewer draws after the frame has loaded
    reviewer.locator("figure.material").first.screenshot(path=str(artifacts / "e2e" / "desk-10-material-preview.png"))
