"""The service hall's window end to end in Debian's Chromium, Chinese UI.

A window clerk looks up a walk-in citizen (not registered yet), opens an account, takes 企业开办 in with a
proxy's authorisation, fills the portal's one form with them, submits and prints the acceptance slip. The
applicant activates the account with the code on the slip, logs in and sees the application. The
departments approve (through the engine's operations; their pages are the desk's), the results are
issued, and the clerk hands them over at the window; the hand-over is recorded. Every window page is
screenshotted and checked with axe-core.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import id_number, pdf_bytes

from .conftest import LiveServer
from .test_portal import axe, nav, status

NEW_PASSWORD = "a long enough password"


@pytest.fixture
def a11y() -> Iterator[dict[str, list[str]]]:
    """Serious or critical axe-core violations by page name; none may be left at the end."""
    found: dict[str, list[str]] = {}
    yield found
    assert not found, "axe-core found serious or critical violations:\n" + json.dumps(found, ensure_ascii=False, indent=1)


def login(page: Page, server: LiveServer, username: str, password: str) -> None:
    page.goto(server("/login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(nav(page).get_by_role("button", name="退出")).to_be_visible()


def setup(server: LiveServer) -> None:
    """A window clerk, and the departments' seals so results are issued."""
    from onestop.accounts.models import UserKind
    from onestop.accounts.operations import create_staff
    from onestop.certificates.pki import init_dev_pki
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from workflows.catalog.schema import load_catalog

    with server.app.app_context():
        create_staff(username="e2e_window", password=server.password, name="综合窗口受理员", kind=UserKind.WINDOW)
        commit()
        db.session.remove()
        init_dev_pki(Path(server.app.config["ONESTOP_PKI_DIR"]),
                     {d.code: d.name.zh for d in load_catalog().departments}, now=datetime.now(UTC))


def approve_everything(server: LiveServer, reference: str) -> None:
    from sqlalchemy import select

    from onestop.applications.models import Application
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from tests.factories import approve_open_steps

    with server.app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        approve_open_steps(application)
        commit()  # the results are issued inline after this commit
        assert application.state == "completed"
        db.session.remove()


def test_clerk_takes_a_walk_in_matter_in_and_hands_the_results_over(
    live_server: LiveServer, new_page: Callable[..., Page], shot: Callable[[Page, str], Path], tmp_path: Path,
    a11y: dict[str, list[str]],
) -> None:
    server = live_server
    setup(server)
    page = new_page("desktop")
    login(page, server, "e2e_window", server.password)
    expect(page.get_by_role("heading", name=re.compile("综合窗口"), level=1)).to_be_visible()
    axe(page, "window-index", a11y)
    shot(page, "window-01-look-up")

    # Look-up: a wrong check digit is refused with the portal's message; then nobody is found.
    number = id_number("19700412")
    page.get_by_label("自然人（居民身份证号码）").check()
    page.get_by_label("身份证号码或统一社会信用代码").fill(number[:17] + ("0" if number[17] != "0" else "1"))
    page.get_by_label("姓名或企业名称（与证件一致）").fill("钱七")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator(".field-errors")).to_contain_text("校验位不正确")
    page.get_by_label("身份证号码或统一社会信用代码").fill(number)
    page.get_by_role("button", name="查询", exact=True).click()

    # Registration on the spot: the number is shown masked.
    expect(page.get_by_role("heading", name="为申请人开立账户")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(number)
    page.get_by_label("手机号码").fill("13912340000")
    page.get_by_label("地址").fill("郑州市二七区大学路88号")
    shot(page, "window-02-register")
    page.get_by_role("button", name="开立账户").click()

    # Intake: consent, the proxy with the signed authorisation, results collected at this window.
    expect(page.get_by_role("heading", name="受理事项")).to_be_visible()
    page.get_by_label("事项", exact=True).select_option(label="企业开办")
    page.get_by_label(re.compile("申请人同意由窗口代为填写")).check()
    page.get_by_label("申请人同意使用其档案信息预填表单。").check()
    page.get_by_label("由他人代为申请（帮办代办）").check()
    page.get_by_label("代办人姓名").fill("孙八")
    page.get_by_label("代办人身份证号码").fill(id_number("19880808"))
    page.get_by_label("与申请人关系").fill("儿子")
    authorisation = tmp_path / "授权委托书.pdf"
    authorisation.write_bytes(pdf_bytes())
    page.get_by_label("签字的授权委托书（PDF或图片）").set_input_files(authorisation)
    page.get_by_label("到本窗口领取").check()
    axe(page, "window-intake", a11y)
    shot(page, "window-03-intake")
    page.get_by_role("button", name="填写申请表").click()

    # The portal's one form, filled by the clerk with the applicant (prefilled from the new profile).
    page.get_by_label("拟设企业名称", exact=True).fill("郑州钱记五金有限公司")
    page.get_by_label("企业类型", exact=True).select_option(label="有限责任公司")
    page.get_by_label("注册资本（万元）", exact=True).fill("50")
    page.get_by_label("经营范围", exact=True).fill("五金交电销售")
    page.get_by_label("住所（经营场所）", exact=True).fill("郑州市二七区大学路88号")
    page.get_by_label("参保职工人数", exact=True).fill("3")
    page.get_by_role("button", name="保存并继续").click()
    expect(page.get_by_label("法定代表人姓名", exact=True)).to_have_value("钱七")
    expect(page.get_by_label("法定代表人身份证号码", exact=True)).to_have_value(number)
    page.get_by_label("财务负责人姓名", exact=True).fill("钱七")
    page.get_by_role("button", name="保存并继续").click()
    page.get_by_label("刻制印章套数", exact=True).fill("1")
    page.get_by_label("申领发票种类", exact=True).select_option(label="全面数字化电子发票")
    page.get_by_role("button", name="保存并继续").click()
    for label in ("公司章程", "住所（经营场所）使用证明"):
        path = tmp_path / f"{label}.pdf"
        path.write_bytes(pdf_bytes())
        page.get_by_label(label, exact=True).set_input_files(path)
    page.get_by_role("button", name="保存并继续").click()
    expect(page.get_by_role("heading", name="确认提交", level=2)).to_be_visible()
    shot(page, "window-04-form-check")
    page.get_by_role("button", name="提交", exact=True).click()

    # The acceptance slip: reference, query code; printed as PDF with the activation code.
    reference = page.locator("#reference").inner_text().strip()
    query_code = page.locator("#query-code").inner_text().strip()
    assert re.fullmatch(r"\d{15,}", reference) and query_code
    axe(page, "window-slip-page", a11y)
    folder = shot(page, "window-05-slip-page").parent
    token = page.locator("form[action$='slip.pdf'] input[name=csrf_token]").get_attribute("value")
    action = page.locator("form[action$='slip.pdf']").get_attribute("action")
    response = page.context.request.post(server(action), form={"csrf_token": token})
    assert response.ok and response.headers["content-type"] == "application/pdf"
    slip = tmp_path / "slip.pdf"
    slip.write_bytes(response.body())
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(slip), str(folder / "window-06-slip")],
                   check=True)
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(slip), "-"], check=True, capture_output=True,
                                             text=True).stdout)
    assert "受理回执" in text and reference in text and query_code in text and "孙八" in text
    code = re.search(r"([A-Z2-9]{5}-[A-Z2-9]{5})", text)[1]
    username = re.search(r"登录名(w\d{9})", text)[1]

    # The applicant activates the account at home and sees the matter.
    applicant = new_page("phone")
    applicant.goto(server("/activate"))
    applicant.get_by_label("激活码").fill(code)
    applicant.get_by_label("居民身份证号码").fill(number)
    applicant.get_by_label("新密码").fill(NEW_PASSWORD)
    applicant.get_by_label("再次输入密码").fill(NEW_PASSWORD)
    axe(applicant, "activate", a11y)
    applicant.get_by_role("button", name="激活").click()
    expect(status(applicant)).to_contain_text("账户已激活")
    login(applicant, server, username, NEW_PASSWORD)
    applicant.goto(server("/my/applications"))
    expect(applicant.locator("main")).to_contain_text(reference)
    applicant.get_by_role("link", name=re.compile(reference)).first.click()
    collection = applicant.locator("section.collection")
    expect(collection.get_by_label("到政务服务大厅窗口领取")).to_be_checked()  # as chosen at the window
    axe(applicant, "applicant-detail", a11y)
    shot(applicant, "window-07-applicant-matter")

    # Approved by the departments; the results wait at the window.
    approve_everything(server, reference)
    page.goto(server("/window/results"))
    row = page.locator("tr").filter(has_text=reference)
    expect(row).to_be_visible()
    axe(page, "window-results", a11y)
    shot(page, "window-08-results")
    row.get_by_role("link", name="出件").click()
    expect(page.locator("main")).to_contain_text("营业执照")
    expect(page.locator("#print-all")).to_be_visible()

    # The collector's identity is checked: the applicant in person.
    page.get_by_label("申请人本人领取").check()
    page.get_by_label("领取人姓名").fill("钱七")
    page.get_by_label("领取人身份证号码").fill(number)
    axe(page, "window-handover", a11y)
    page.get_by_role("button", name="登记出件").click()
    expect(status(page)).to_contain_text("出件已登记")
    expect(page.locator("#handed-over")).to_contain_text("钱七")
    shot(page, "window-09-handed-over")

    from sqlalchemy import select

    from onestop.extensions import db
    from onestop.window.models import Handover

    with server.app.app_context():
        handover = db.session.scalar(select(Handover))
        assert handover is not None and handover.collector_kind == "applicant" and handover.method == "counter"
        assert handover.application.reference == reference and len(handover.results) >= 5
        db.session.remove()
    page.goto(server("/window/results"))
    expect(page.locator("main")).to_contain_text("暂无待出件办件")
    applicant.reload()
    expect(applicant.locator("section.collection")).to_contain_text("领取")
    expect(applicant.locator("section.collection form")).to_have_count(0)
    shot(applicant, "window-10-applicant-handed-over")
