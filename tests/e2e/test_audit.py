"""The auditor's workspace in a real browser, Chinese UI.

With the known applications of tests/integration/test_supervision.py (November 2026: three ended, one
still open and overdue), an auditor opens the dashboard for the year, reads the figures and their
charts, drills into the overdue application's processing-time log, and exports the summary to Excel: the
file (read with openpyxl) holds the same numbers as the page. Screenshots: test-artifacts/e2e/audit-*.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
from playwright.sync_api import Page, expect

from .conftest import LiveServer
from .test_first_matter import login, nav


def _seed(server: LiveServer) -> dict[str, str]:
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from tests.factories import make_auditor
    from tests.integration.test_supervision import seed_known

    with server.app.app_context():
        apps = seed_known()
        auditor = make_auditor()
        commit()
        result = {"auditor": auditor.username, **{k: a.reference for k, a in apps.items()}}
        db.session.remove()
    return result


def test_an_auditor_reads_the_dashboard_drills_into_an_overdue_application_and_exports_excel(
    live_server: LiveServer, page: Page, shot: Callable[[Page, str], Path], tmp_path: Path,
) -> None:
    seeded = _seed(live_server)
    login(page, live_server, seeded["auditor"])
    nav(page).get_by_role("link", name="效能监察").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("效能监察")

    page.get_by_label("统计期间").select_option("year")
    page.get_by_label("包含日期").fill("2026-11-01")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("2026")
    summary = page.locator("#summary")
    expect(summary.locator('[data-figure="ended"]')).to_have_text("3")
    expect(summary.locator('[data-figure="on_time_rate"]')).to_have_text("66.7%")
    expect(summary.locator('[data-figure="elapsed_p50"]')).to_have_text("3")
    expect(summary.locator('[data-figure="elapsed_p90"]')).to_have_text("4.6")
    expect(page.locator("#held-by tr[data-department='water'] td")).to_have_text("2")
    expect(page.locator("svg.chart").first).to_be_visible()
    figures = {name: summary.locator(f'[data-figure="{name}"]').inner_text()
               for name in ("submitted", "ended", "on_time", "late", "elapsed_mean", "elapsed_p50", "elapsed_p90",
                            "paused_mean")}
    shot(page, "audit-dashboard")

    # A number drills down to the applications behind it.
    summary.locator('[data-figure="late"] a').click()
    expect(page.locator("#drill-table tbody tr")).to_have_count(1)
    expect(page.locator("#drill-table")).to_contain_text(seeded["C"])
    page.go_back()

    # The overdue application's processing-time log.
    page.locator(f'[data-overdue="{seeded["D"]}"]').click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"办理时间日志 · {seeded['D']}")
    expect(page.locator('#steps-table tr[data-item="business_licence"]')).to_contain_text("超期")
    shot(page, "audit-log")
    page.go_back()

    # The Excel export of the summary holds the page's numbers.
    with page.expect_download() as download_info:
        page.locator('[data-export="summary-xlsx"]').click()
    path = tmp_path / "summary.xlsx"
    download_info.value.save_as(path)
    sheet = openpyxl.load_workbook(path).active
    exported = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert exported["period"] == "2026"
    assert str(exported["submitted"]) == figures["submitted"] and str(exported["ended"]) == figures["ended"]
    assert exported["ended"] - exported["on_time"] == int(figures["late"])
    assert exported["on_time_rate_percent"] == 66.7
    for name, figure in (("elapsed_working_days_mean", "elapsed_mean"), ("elapsed_working_days_p50", "elapsed_p50"),
                         ("elapsed_working_days_p90", "elapsed_p90"), ("paused_working_days_mean", "paused_mean")):
        assert round(exported[name], 2) == float(figures[figure]), name
