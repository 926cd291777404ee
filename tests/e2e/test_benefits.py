"""免申即享 in a real browser: the operator sees the offer with its formula and confirms it with one click;
the public notice lists the enterprise; someone not logged in objects and the notice shows it paused;
人社 finds the objection on its page. axe-core: no serious or critical violation on any of these pages."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from .conftest import LiveServer
from .test_portal import a11y, axe, login_as, nav  # noqa: F401, F811  (a11y is a fixture)


def _seed(server: LiveServer) -> None:
    from onestop.audit.operations import Actor
    from onestop.benefits.operations import import_enterprise_data, match
    from onestop.catalog.operations import current_version
    from onestop.core.jobs import commit
    from onestop.extensions import db

    code = server.profile["credit_code"]
    data = ("credit_code,name,year,insured_staff,layoffs,premiums_paid,arrears\n"
            f"{code},{server.profile['enterprise_name']},2025,1000,55,12345.67,0\n").encode()
    with server.app.app_context():
        import_enterprise_data(data, "data.csv", Actor.system())
        match(current_version("job_retention_refund"), Actor.system())
        commit()
        db.session.remove()


def _approve_review(server: LiveServer, reference: str) -> None:
    from sqlalchemy import select

    from onestop.applications.models import Application
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from onestop.reviews.operations import Decision, decide
    from tests.factories import make_reviewer, step_of
    from workflows.states import StepAction

    with server.app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = make_reviewer("hrss", username="e2e_hrss")
        review = step_of(application, "retention_review")
        decide(review.id, None, Decision(StepAction.ACCEPT), reviewer)
        decide(review.id, None, Decision(StepAction.APPROVE), reviewer)
        commit()
        db.session.remove()


def test_offer_confirmed_with_one_click_then_public_notice_and_objection(
    live_server: LiveServer, page: Page, new_page: Any, a11y: dict[str, list[str]], shot: Any,  # noqa: F811
) -> None:
    _seed(live_server)
    login_as(page, live_server, live_server.operator)
    nav(page).get_by_role("link", name="我的惠企政策").click()
    offer = page.locator("section.offer")
    expect(offer).to_contain_text("¥6,172.84")
    expect(offer).to_contain_text("上年度实际缴纳失业保险费 ¥12,345.67 × 50% = ¥6,172.84")
    axe(page, "offers", a11y)
    shot(page, "benefits-offer")
    page.get_by_role("button", name="一键确认，领取 ¥6,172.84").click()
    expect(page.locator(".flashes")).to_contain_text("已确认")
    reference = page.url.rsplit("/", 1)[-1]
    axe(page, "benefit-detail", a11y)

    _approve_review(live_server, reference)
    public = new_page()
    public.goto(live_server("/benefits/notice"))
    row = public.get_by_role("row").filter(has_text=live_server.profile["enterprise_name"])
    expect(row).to_contain_text("¥6,172.84")
    axe(public, "notice", a11y)
    row.get_by_role("link", name="提出异议").click()
    public.get_by_label("姓名或单位名称").fill("李四")
    public.get_by_label("联系电话或电子邮箱（用于答复）").fill("13900000000")
    public.get_by_label("异议内容").fill("该企业去年实际裁员人数多于申报人数，请核查。")
    axe(public, "objection", a11y)
    public.get_by_role("button", name="提交异议").click()
    expect(public.locator(".flashes")).to_contain_text("您的异议已收到")
    expect(public.get_by_role("row").filter(has_text=live_server.profile["enterprise_name"])).to_contain_text("中止：异议核查中")
    shot(public, "benefits-notice-paused")

    staff = new_page()
    login_as(staff, live_server, "e2e_hrss")
    staff.goto(live_server("/benefits/objections"))
    expect(staff.locator("blockquote")).to_contain_text("该企业去年实际裁员人数多于申报人数")
    axe(staff, "objections", a11y)
