"""The monthly report (月度效能报告) as PDF: the dashboard's figures and tables, rendered by WeasyPrint
with the certificates' fonts and restricted fetcher (onestop/certificates/rendering.py): no network."""

from __future__ import annotations

from flask import render_template

from onestop.certificates.rendering import check_glyphs, render_pdf
from onestop.core.clock import local_now
from onestop.supervision import charts, queries


def monthly_report(period: queries.Period, scope: queries.Scope) -> bytes:
    view = queries.dashboard(period, scope)
    html = render_template("supervision/report_print.html", view=view, summary=charts.summary_rows(view),
                           generated=local_now(),
                           chart_on_time=charts.bars([(g.label, g.on_time_rate, None) for g in view.departments],
                                                     title="各部门按时率", unit="%", maximum=100))
    check_glyphs([html])
    return render_pdf(html, title=f"效能监察月度报告 {period.label}")
