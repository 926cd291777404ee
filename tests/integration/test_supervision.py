"""The auditors' workspace under frozen time, with a known set of applications: every dashboard figure
against values computed by hand, the processing-time log, drill-downs, exports, the audit-trail page."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from sqlalchemy import select

from onestop.audit.models import AuditEvent
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews.operations import Decision, decide
from onestop.supervision import queries
from onestop.supervision.models import ApplicationTiming
from tests.factories import make_application, make_auditor, make_reviewer, step_of
from tests.integration.test_web import login
from workflows.states import StepAction as A

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # Thursday; November 2026 has no holiday


def at(day: int, hour: int, minute: int = 0) -> time_machine.travel:
    return time_machine.travel(datetime(2026, 11, day, hour, minute, tzinfo=SH), tick=False)


class Desk:
    def __init__(self):
        self.reviewers = {}

    def __call__(self, application, item, *actions, **kw):
        step = step_of(application, item)
        reviewer = self.reviewers.get(step.department_id)
        if reviewer is None:
            reviewer = self.reviewers[step.department_id] = make_reviewer(step.department.code)
        for action in actions:
            reason = "等待技术检测" if action in (A.SUSPEND, A.RESUME) else None
            decide(step.id, None, Decision(action, reason=reason), reviewer)
        commit()


@pytest.fixture
def known(app):
    apps = seed_known()
    db.session.expire_all()
    return apps


def seed_known():
    """Four restaurant applications (items: licence, then food, fire and drainage in parallel).

    A  Mon 2 – Fri 6: all on time; drainage took 4 working days → held up by water. 5.0 days, 0 paused.
    B  Mon 9 – Thu 12: drainage suspended (中止) Mon 13:00 – Wed 13:00 = 2 working days; 4.0 gross,
       2.0 net, held up by water (1.5 against samr's 0.5 on the path).
    C  Mon 16 – Wed 18: the licence approved Wed 12:00, due Tue 17:00 → late; held up by samr. 3.0 days.
    D  submitted Mon 23, licence accepted and never decided: overdue since Tue 24 17:00.
    """
    desk = Desk()
    apps = {}
    with at(2, 9):
        apps["A"] = make_application("restaurant_opening")
        commit()
        desk(apps["A"], "business_licence", A.ACCEPT)
    with at(2, 17):
        desk(apps["A"], "business_licence", A.APPROVE)
    with at(3, 9):
        for item in ("food_licence", "fire_check", "drainage_permit"):
            desk(apps["A"], item, A.ACCEPT)
    with at(3, 17):
        desk(apps["A"], "fire_check", A.APPROVE)
    with at(4, 17):  # on the applicant's commitment (告知承诺): a post-approval check is scheduled
        step = step_of(apps["A"], "food_licence")
        decide(step.id, None, Decision(A.APPROVE, on_commitment=True), desk.reviewers[step.department_id])
        commit()
    with at(6, 17):
        desk(apps["A"], "drainage_permit", A.APPROVE)

    with at(9, 9):
        apps["B"] = make_application("restaurant_opening")
        commit()
        desk(apps["B"], "business_licence", A.ACCEPT)
    with at(9, 12):
        desk(apps["B"], "business_licence", A.APPROVE)
    with at(9, 13):
        for item in ("food_licence", "fire_check", "drainage_permit"):
            desk(apps["B"], item, A.ACCEPT)
        desk(apps["B"], "drainage_permit", A.SUSPEND)
    with at(10, 17):
        desk(apps["B"], "food_licence", A.APPROVE)
        desk(apps["B"], "fire_check", A.APPROVE)
    with at(11, 13):
        desk(apps["B"], "drainage_permit", A.RESUME)
    with at(12, 17):
        desk(apps["B"], "drainage_permit", A.APPROVE)

    with at(16, 9):
        apps["C"] = make_application("restaurant_opening")
        commit()
        desk(apps["C"], "business_licence", A.ACCEPT)
    with at(18, 12):
        desk(apps["C"], "business_licence", A.APPROVE)
    with at(18, 17):
        for item in ("food_licence", "fire_check", "drainage_permit"):
            desk(apps["C"], item, A.ACCEPT, A.APPROVE)

    # Ratings: A rates water 5 and samr 1 (bad, answered the next working day); B rates samr 2 (bad,
    # not answered).
    from onestop.ratings.operations import rate, reply

    departments = {s.department.code: s.department_id for s in apps["A"].steps}
    with at(9, 10):
        rate(apps["A"], departments["water"], 5, None, apps["A"].applicant)
        bad = rate(apps["A"], departments["samr"], 1, "太慢", apps["A"].applicant)
        commit()
    with at(10, 10):
        reply(bad, make_reviewer("samr", head=True), "已整改并致歉")
        commit()
    with at(13, 10):
        rate(apps["B"], departments["samr"], 2, "等待太久", apps["B"].applicant)
        commit()

    with at(23, 9):
        apps["D"] = make_application("restaurant_opening")
        commit()
        desk(apps["D"], "business_licence", A.ACCEPT)
    return apps


def _nov():
    return queries.make_period("month", datetime(2026, 11, 1).date())


def test_every_dashboard_figure_matches_the_hand_computed_value(known):
    with time_machine.travel(NOW, tick=False):
        view = queries.dashboard(_nov(), queries.Scope())
    assert view.submitted == 4
    assert view.ended == 3 and view.by_state == {"completed": 3}
    assert view.on_time == 2 and view.on_time_rate == 66.7
    # Elapsed working days, paused excluded: A 5.0, B 2.0 (4.0 gross − 2.0 suspended), C 3.0.
    assert view.elapsed.n == 3
    assert view.elapsed.mean == pytest.approx(10 / 3, abs=1e-4)
    assert view.elapsed.p50 == pytest.approx(3.0)
    assert view.elapsed.p90 == pytest.approx(4.6)  # rank 1.8: 3 + (5 − 3) × 0.8
    assert view.paused_mean == pytest.approx(2 / 3, abs=1e-4)
    assert view.held_by[0][0] == "water" and {c: n for c, _n, n in view.held_by} == {"water": 2, "samr": 1}
    depts = {g.key: g for g in view.departments}
    samr = depts["samr"]  # licence A 1.0, food A 2.0, licence B 0.5, food B 1.5, licence C 2.5, food C 0.5
    assert (samr.ended, samr.on_time, samr.on_time_known) == (6, 5, 6)
    assert samr.on_time_rate == 83.3
    assert samr.counted.p50 == pytest.approx(1.25) and samr.counted.p90 == pytest.approx(2.25)
    assert samr.counted.mean == pytest.approx(8 / 6, abs=1e-4)
    water = depts["water"]  # A 4.0, B 1.5 (+2.0 paused), C 0.5
    assert water.counted.p50 == pytest.approx(1.5) and water.counted.p90 == pytest.approx(3.5)
    assert water.paused_mean == pytest.approx(2 / 3, abs=1e-4) and water.on_time_rate == 100.0
    fire = depts["fire"]  # A 1.0, B 1.5, C 0.5
    assert fire.counted.p50 == pytest.approx(1.0) and fire.counted.p90 == pytest.approx(1.4)
    assert view.overdue_count == 1 and view.overdue[0]["reference"] == known["D"].reference
    assert view.overdue[0]["department"] == "samr"
    assert view.post_checks == {"pending": 1, "confirmed": 0, "revoked": 0} and view.commitment == 1
    assert (view.rongque, view.supplemented, view.extensions) == (0, 0, 0)
    assert view.ratings == {5: 1, 4: 0, 3: 0, 2: 1, 1: 1}
    assert (view.bad_ratings, view.bad_answered_in_time, view.bad_answered_rate) == (2, 1, 50.0)
    with time_machine.travel(NOW, tick=False):
        year = queries.dashboard(queries.make_period("year", datetime(2026, 5, 1).date()), queries.Scope())
    assert [(m["month"], m["ended"], m["on_time"]) for m in year.monthly if m["ended"]] == [("2026-11", 3, 2)]
    assert len(year.monthly) == 12 and year.elapsed.p90 == view.elapsed.p90
    # Without a department or item the figures come from the maintained histogram: the same as the rows.
    period = _nov()
    exact = queries.stats_by(ApplicationTiming.elapsed_days, queries._app_clauses(period, queries.Scope()))[None]
    assert exact == view.elapsed
    assert queries._step_groups(period, queries.Scope(), {}) == queries._step_groups_hist(period, queries.Scope(), {})


def test_the_roll_up_of_each_application(known):
    rows = {t.application_id: t for t in db.session.scalars(select(ApplicationTiming))}
    a, b, c = (rows[known[k].id] for k in "ABC")
    assert (float(a.elapsed_days), float(a.paused_days), a.on_time, a.critical_path) == \
        (5.0, 0.0, True, ["business_licence", "drainage_permit"])
    assert (float(b.elapsed_days), float(b.paused_days)) == (2.0, 2.0)
    assert (float(c.elapsed_days), c.on_time, c.critical_path) == (3.0, False, ["business_licence", "food_licence"])
    assert known["D"].id not in rows


def test_scopes_and_drill_downs_list_the_applications_behind_a_figure(known):
    period = _nov()
    with time_machine.travel(NOW, tick=False):
        water = queries.dashboard(period, queries.parse_scope({"department": "water"}))
        late = queries.drill_page(period, queries.Scope(), "late", 1)
        held = queries.drill_page(period, queries.Scope(), "held:water", 1)
        by_elapsed = queries.drill_page(period, queries.Scope(), "ended", 1, order="elapsed")
        samr_late = queries.drill_page(period, queries.parse_scope({"department": "samr"}), "steps_late", 1)
    assert [g.key for g in water.departments] == ["water"] and water.ended == 3
    assert [r["reference"] for r in late] == [known["C"].reference]
    assert {r["reference"] for r in held} == {known["A"].reference, known["B"].reference}
    assert [r["reference"] for r in by_elapsed] == [known[k].reference for k in "BCA"]
    assert [r["reference"] for r in samr_late] == [known["C"].reference]
    with pytest.raises(queries.BadRequest):
        queries.drill_clauses(period, queries.Scope(), "nonsense")


def test_quarter_year_and_custom_periods():
    from datetime import date

    assert queries.make_period("quarter", date(2026, 11, 5)) == queries.Period("quarter", date(2026, 10, 1),
                                                                              date(2026, 12, 31))
    assert queries.make_period("year", date(2026, 11, 5)).end == date(2026, 12, 31)
    assert len(queries.make_period("year", date(2026, 11, 5)).months()) == 12
    with pytest.raises(queries.BadRequest):
        queries.make_period("custom", start=date(2026, 2, 1), end=date(2026, 1, 1))


def test_the_auditor_reads_the_dashboard_log_and_exports_and_is_audited(client, known):
    auditor = make_auditor()
    commit()
    with time_machine.travel(NOW, tick=False):
        login(client, auditor.username)
        page = client.get("/supervision/?period=month&at=2026-11-01")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'data-figure="on_time_rate"' in html and "66.7%" in html and "4.6" in html
        assert f'data-overdue="{known["D"].reference}"' in html and "<svg" in html and "<script" not in html.split("<main")[1]
        log = client.get(f"/supervision/applications/{known['B'].reference}")
        text = log.get_data(as_text=True)
        assert log.status_code == 200 and "等待技术检测" in text and "business_licence → drainage_permit" in text
        found = client.get(f"/supervision/applications?q={known['C'].reference}")
        assert found.status_code == 302 and known["C"].reference in found.headers["Location"]
        xlsx = client.get("/supervision/export/summary.xlsx?period=month&at=2026-11-01")
        assert xlsx.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
        figures = {row[0]: row[1] for row in sheet.iter_rows(values_only=True)}
        assert figures["on_time_rate_percent"] == 66.7 and figures["elapsed_working_days_p90"] == 4.6
        csv = client.get("/supervision/export/applications.csv?period=month&at=2026-11-01&show=late")
        lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
        assert lines[0].startswith("reference,") and len(lines) == 2 and known["C"].reference in lines[1]
        log_export = client.get(f"/supervision/export/log.xlsx?reference={known['B'].reference}")
        rows = list(openpyxl.load_workbook(io.BytesIO(log_export.data)).active.iter_rows(values_only=True))
        assert rows[-1][:2] == ("drainage_permit", "water") and rows[-1][3] == "approve"
        pdf = client.get("/supervision/report.pdf?period=month&at=2026-11-01")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    tags = [e.tag for e in db.session.scalars(select(AuditEvent).where(AuditEvent.actor_id == auditor.id))]
    assert {"account:login", "supervision:log_viewed", "supervision:searched", "supervision:exported"} <= set(tags)
    assert tags.count("supervision:exported") == 4


def test_bad_period_input_is_explained_and_nothing_breaks(client, known):
    auditor = make_auditor()
    commit()
    login(client, auditor.username)
    page = client.get("/supervision/?period=custom&from=2026-12-01&to=2026-11-01")
    assert page.status_code == 200 and "自定义期间需要开始和结束日期" in page.get_data(as_text=True)
    assert "日期格式为2026-11-30" in client.get("/supervision/?period=month&at=junk").get_data(as_text=True)
    assert client.get("/supervision/applications?show=bogus").status_code == 302
    assert client.get("/supervision/export/bogus.xlsx").status_code == 404
    assert client.get("/supervision/applications/NO-SUCH-REF").status_code == 404


def test_backfill_writes_the_same_roll_ups_as_the_fan_in(app, known):
    from sqlalchemy import delete

    from onestop.supervision.models import StepTiming, TimingHistogram
    from onestop.supervision.rollup import record_application

    def snapshot():
        return sorted((t.application_id, t.elapsed_days, t.paused_days, t.on_time, t.held_by_id, tuple(t.critical_path))
                      for t in db.session.scalars(select(ApplicationTiming))), \
            sorted((s.step_id, s.counted_days, s.paused_days, s.on_time) for s in db.session.scalars(select(StepTiming))), \
            sorted(tuple(getattr(h, c.name) for c in TimingHistogram.__table__.columns)
                   for h in db.session.scalars(select(TimingHistogram)) if h.n)

    before = snapshot()
    # Recording an application again takes its earlier contribution out first: nothing changes.
    with time_machine.travel(NOW, tick=False):
        record_application(known["B"])
        commit()
    db.session.expire_all()
    assert snapshot() == before
    db.session.execute(delete(StepTiming))
    db.session.execute(delete(ApplicationTiming))
    db.session.execute(delete(TimingHistogram))
    commit()
    with time_machine.travel(NOW, tick=False):
        result = app.test_cli_runner().invoke(args=["onestop", "supervision", "backfill"])
    assert "3 applications rolled up" in result.output
    db.session.expire_all()
    assert snapshot() == before


def test_a_large_export_runs_as_a_job_with_progress_and_a_download(client, known, monkeypatch):
    from onestop.supervision import views
    from onestop.supervision.models import ExportJob

    monkeypatch.setattr(views, "INLINE_EXPORT_MAX", 1)  # three rows are "large" here
    auditor = make_auditor()
    commit()
    login(client, auditor.username)
    args = "period=month&at=2026-11-01&show=ended"
    page = client.get(f"/supervision/export/applications.xlsx?{args}").get_data(as_text=True)
    assert "本表共3行" in page
    from tests.integration.test_web import hidden

    form = {"csrf_token": hidden(page, "csrf_token"), "name": "applications", "fmt": "xlsx",
            "arg_period": "month", "arg_at": "2026-11-01", "arg_show": "ended"}
    started = client.post("/supervision/exports", data=form)
    assert started.status_code == 302
    status = client.get(started.headers["Location"]).get_data(as_text=True)
    job = db.session.scalars(select(ExportJob)).one()
    assert job.state == "done" and (job.total_rows, job.done_rows) == (3, 3)
    assert 'id="export-progress" max="3" value="3"' in status and 'id="export-download"' in status
    download = client.get(f"/supervision/exports/{job.id}/file")
    rows = list(openpyxl.load_workbook(io.BytesIO(download.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "reference" and {r[0] for r in rows[1:]} == {known[k].reference for k in "ABC"}
    # Another auditor cannot see or fetch it.
    other = make_auditor()
    commit()
    client.post("/logout", data={"csrf_token": hidden(status, "csrf_token")})
    login(client, other.username)
    assert client.get(f"/supervision/exports/{job.id}/file").status_code == 404
    tags = db.session.scalars(select(AuditEvent.tag).where(AuditEvent.actor_id == auditor.id)).all()
    assert "supervision:export_started" in tags and "supervision:exported" in tags
