"""The reviewer's desk: queue tabs and urgency, filters and search, keyset pages, claims, bulk acceptance,
supervision, quality samples, material previews, staff messages."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from onestop.applications.models import Material, Notification, Step
from onestop.audit.models import AuditEvent
from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews import claims, queries, sampling
from onestop.reviews.bulk import bulk_accept
from onestop.reviews.operations import Decision, DecisionError, decide
from tests.factories import (
    approve_open_steps,
    department,
    make_application,
    make_operator,
    make_person,
    make_reviewer,
    step_of,
)
from tests.integration.test_web import claim_step, csrf, decide_on_page, hidden, login
from workflows.catalog.schema import load_catalog
from workflows.states import StepAction

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 10, tzinfo=SHANGHAI)


def events(tag: str, subject_id: int | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.tag == tag)
    if subject_id is not None:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    return list(db.session.scalars(stmt.order_by(AuditEvent.seq)))


def samr():
    return department("samr")


def page_ids(tab: str, size: int = 50, **flt) -> list[int]:
    return [r.step.id for r in queries.queue_page(samr(), tab, queries.QueueFilter(**flt), size=size).rows]


def test_item_codes_are_unique_across_the_catalog():
    # The queue's bundle filter is the set of the bundle's item codes.
    codes = [i.code for b in load_catalog().bundles for i in b.items]
    assert len(codes) == len(set(codes))


def test_tabs_hold_each_state_and_order_by_urgency(app):
    with time_machine.travel(MONDAY, tick=False):
        reviewer = make_reviewer("samr")
        apps = [make_application("restaurant_opening") for _ in range(4)]
        licences = [step_of(a, "business_licence") for a in apps]
        # Accepted on different days: the later acceptance is due later.
        decide(licences[2].id, None, Decision(StepAction.ACCEPT), reviewer)
        commit()
    with time_machine.travel(MONDAY + timedelta(days=1, hours=3), tick=False):
        decide(licences[1].id, None, Decision(StepAction.ACCEPT), reviewer)
        decide(licences[3].id, None, Decision(StepAction.REQUEST_SUPPLEMENT,
                                              problems=[{"kind": "field", "key": "shop_name", "message": "写全称"}]),
               reviewer)
        commit()
        assert page_ids("to_accept") == [licences[0].id]
        assert page_ids("in_progress") == [licences[2].id, licences[1].id]  # the earlier due date first
        assert page_ids("waiting") == [licences[3].id]
        assert page_ids("finished") == []
        counts = queries.tab_counts(samr(), queries.QueueFilter(), now(), queries.due_soon_until(now()))
        # Tuesday 13:00: the licence accepted on Monday is due at 17:00 today, the other tomorrow.
        assert counts == {"to_accept": 1, "in_progress": 2, "waiting": 1, "due_soon": 1, "overdue": 0, "finished": 0}
        assert page_ids("due_soon") == [licences[2].id]
    # On Thursday both accepted licences (1 working day) are overdue, the latest first.
    with time_machine.travel(MONDAY + timedelta(days=3, hours=5), tick=False):
        assert page_ids("overdue") == [licences[2].id, licences[1].id]
        row = queries.queue_page(samr(), "overdue", queries.QueueFilter()).rows[0]
        assert row.remaining.level == "overdue" and row.remaining.amount < 0


def test_the_queue_page_says_remaining_time_in_words(client):
    with time_machine.travel(MONDAY, tick=False):
        reviewer = make_reviewer("samr", "samr_words")
        application = make_application("restaurant_opening")
        licence = step_of(application, "business_licence")
        decide(licence.id, None, Decision(StepAction.ACCEPT), reviewer)
        commit()
        login(client, "samr_words")
        page = client.get("/desk/?tab=in_progress").get_data(as_text=True)
        # Due Tuesday 17:00 (the day of acceptance does not count): the rest of today and tomorrow.
        # Working days are counted in sessions (09-12, 13-17): two thirds of this morning, the
        # afternoon, and Tuesday.
        assert re.findall(r'class="due ([^"]+)">([^<]*)<', page) == [("due-on_time", "剩余1.8个工作日")]
    with time_machine.travel(MONDAY + timedelta(days=1, hours=5), tick=False):
        login(client, "samr_words")  # a day later the session has timed out
        page = client.get("/desk/?tab=in_progress").get_data(as_text=True)
        badge = re.search(r"<span class=\"due due-due_soon\">(.*?)</span>\s*</td>", page, re.S).group(1)
        assert badge.endswith("临近审限：剩余0.2个工作日") and 'aria-hidden="true"' in badge  # the symbol is not read
    with time_machine.travel(MONDAY + timedelta(days=3), tick=False):
        login(client, "samr_words")
        page = client.get("/desk/?tab=overdue").get_data(as_text=True)
        assert "已超期" in page and 'class="due due-overdue"' in page and application.reference in page


def test_keyset_pages_walk_every_step_once_and_a_bad_cursor_is_refused(client):
    reviewer = make_reviewer("samr", "samr_pages")
    steps = [step_of(make_application("restaurant_opening"), "business_licence") for _ in range(7)]
    for step in steps[:3]:
        decide(step.id, None, Decision(StepAction.ACCEPT), reviewer)  # in progress: with a due date
    commit()
    seen, cursor = [], None
    while True:
        page = queries.queue_page(samr(), "to_accept", queries.QueueFilter(), cursor, size=2)
        seen += [r.step.id for r in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [s.id for s in steps[3:]]  # by arrival, each once
    page = queries.queue_page(samr(), "in_progress", queries.QueueFilter(), size=2)
    rest = queries.queue_page(samr(), "in_progress", queries.QueueFilter(), page.next_cursor, size=2)
    assert [r.step.id for r in page.rows + rest.rows] == [s.id for s in steps[:3]] and rest.next_cursor is None
    login(client, "samr_pages")
    assert client.get("/desk/?after=not-a-cursor").status_code == 400
    assert client.get("/desk/?after=9.1.1").status_code == 400
    first = client.get("/desk/?tab=to_accept").get_data(as_text=True)
    assert "下一页" not in first  # four steps: one page of 50


def test_filters_and_search(app):
    with time_machine.travel(MONDAY, tick=False):
        person = make_person(name="欧阳娜")
        company = make_application("company_establishment", applicant=person)
    with time_machine.travel(MONDAY + timedelta(days=2), tick=False):
        operator = make_operator(enterprise_name="郑州搜索测试餐饮有限公司")
        restaurant = make_application("restaurant_opening", applicant=operator)
        commit()
    registration = step_of(company, "establishment_registration").id
    licence = step_of(restaurant, "business_licence").id
    assert sorted(page_ids("to_accept")) == sorted([registration, licence])
    assert page_ids("to_accept", bundle="company_establishment") == [registration]
    assert page_ids("to_accept", item="business_licence") == [licence]
    assert page_ids("to_accept", mode="commitment") == []  # neither item allows 告知承诺
    assert page_ids("to_accept", mode="ordinary") == [registration, licence]
    assert page_ids("to_accept", received_from=date(2026, 11, 25)) == [licence]
    assert page_ids("to_accept", received_to=date(2026, 11, 24)) == [registration]
    assert page_ids("to_accept", q=restaurant.reference) == [licence]
    assert page_ids("to_accept", q=restaurant.reference[:14]) == [licence]  # the beginning (region and date)
    assert page_ids("to_accept", q="欧阳娜") == [registration]
    assert page_ids("to_accept", q="郑州搜索测试餐饮有限公司") == [licence]
    assert page_ids("to_accept", q="无此人") == []
    row = queries.queue_page(samr(), "to_accept", queries.QueueFilter(q="欧阳娜")).rows[0]
    assert row.applicant_name == "欧**"  # a person's name is masked in lists


def test_a_search_opens_the_tab_where_the_matter_is(client):
    reviewer = make_reviewer("samr", "samr_search")
    application = make_application("restaurant_opening")
    decide(step_of(application, "business_licence").id, None, Decision(StepAction.ACCEPT), reviewer)
    commit()
    login(client, "samr_search")
    page = client.get(f"/desk/?q={application.reference}").get_data(as_text=True)
    assert 'class="tab tab-in_progress" aria-current="page"' in page and application.reference in page


def test_a_claim_is_seen_by_others_lapses_when_left_alone_and_is_renewed_by_activity(client):
    with time_machine.travel(MONDAY, tick=False):
        first, second = make_reviewer("samr", "samr_c1"), make_reviewer("samr", "samr_c2")
        step = step_of(make_application("restaurant_opening"), "business_licence")
        commit()
        claims.claim(step, first)
        commit()
        with pytest.raises(claims.ClaimError) as refused:
            claims.claim(step, second)
        assert refused.value.holder.id == first.id
        row = queries.queue_page(samr(), "to_accept", queries.QueueFilter()).rows[0]
        assert row.holder_name == first.name
        # decide() itself refuses the second reviewer while the claim holds, and nothing changes.
        with pytest.raises(DecisionError) as error:
            decide(step.id, None, Decision(StepAction.ACCEPT), second)
        assert error.value.code == "claimed_by_other" and error.value.detail == first.name
        db.session.rollback()
    with time_machine.travel(MONDAY + timedelta(minutes=20), tick=False):
        claims.touch(db.session.get(Step, step.id), first)  # the holder opens the step again
        commit()
    with time_machine.travel(MONDAY + timedelta(minutes=45), tick=False):
        with pytest.raises(claims.ClaimError):
            claims.claim(db.session.get(Step, step.id), second)  # renewed at 20 minutes: held until 50
        db.session.rollback()
    with time_machine.travel(MONDAY + timedelta(minutes=51), tick=False):
        step = db.session.get(Step, step.id)
        assert claims.live_claim(step) is None  # lapsed: free for anyone
        claims.claim(step, second)
        commit()
        assert claims.holds(step, second)
    assert [e.actor_id for e in events("application:step:claimed", step.id)] == [first.id, second.id]


def test_the_claim_idle_time_is_configurable(app):
    app.config["ONESTOP_CLAIM_IDLE_MINUTES"] = 5
    reviewer = make_reviewer("samr")
    step = step_of(make_application("restaurant_opening"), "business_licence")
    claims.claim(step, reviewer)
    assert step.claim_expires_at - step.claimed_at == timedelta(minutes=5)


def test_the_head_reassigns_and_the_new_holder_is_told(client):
    first, second = make_reviewer("samr", "samr_r1"), make_reviewer("samr", "samr_r2")
    make_reviewer("samr", "samr_boss", head=True)
    water = make_reviewer("water", "water_r")
    step = step_of(make_application("restaurant_opening"), "business_licence")
    claims.claim(step, first)
    commit()
    login(client, "samr_boss")
    page = client.get(f"/desk/steps/{step.id}").get_data(as_text=True)
    assert "改派（科室负责人）" in page
    # Someone outside the department cannot be given the step, even by a forged form field.
    client.post(f"/desk/steps/{step.id}/reassign", data={"csrf_token": hidden(page, "csrf_token"),
                                                          "to_user": str(water.id), "reassign_reason": "试试"})
    db.session.refresh(step)
    assert step.claimed_by_id == first.id
    client.post(f"/desk/steps/{step.id}/reassign", data={"csrf_token": hidden(page, "csrf_token"),
                                                          "to_user": str(second.id), "reassign_reason": "张三休假"})
    db.session.refresh(step)
    assert step.claimed_by_id == second.id and step.claim_expires_at is None  # held until released
    event = events("application:step:reassigned", step.id)[-1]
    assert event.data["from"] == first.id and event.data["to"] == second.id and event.data["reason"] == "张三休假"
    message = db.session.scalar(select(Notification).where(Notification.user_id == second.id,
                                                           Notification.kind == "step_assigned"))
    assert message is not None
    client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
    login(client, "samr_r2")
    assert "科室负责人将办件" in client.get("/messages").get_data(as_text=True)
    # A reviewer is not a head: reassignment is refused.
    assert client.post(f"/desk/steps/{step.id}/reassign", data={
        "csrf_token": csrf(client, "/desk/"), "to_user": str(first.id), "reassign_reason": "x"}).status_code == 403


def test_bulk_accept_accepts_complete_steps_each_as_its_own_decision(client):
    make_reviewer("samr", "samr_bulk")
    other = make_reviewer("samr", "samr_other")
    steps = [step_of(make_application("restaurant_opening"), "business_licence") for _ in range(4)]
    claims.claim(steps[2], other)  # someone is working on this one
    material = db.session.scalar(select(Material).where(Material.application_id == steps[3].application_id,
                                                        Material.material_key == "premises_proof"))
    material.application_id = None  # this one lacks a material the licence needs
    commit()
    login(client, "samr_bulk")
    queue = client.get("/desk/").get_data(as_text=True)
    form = {"csrf_token": hidden(queue, "csrf_token"), "step": [str(s.id) for s in steps]}
    confirmation = client.post("/desk/bulk-accept", data=form).get_data(as_text=True)
    assert "确认受理2件" in confirmation and "已由其他人员认领" in confirmation and "材料不齐" in confirmation
    db.session.expire_all()
    assert {s.state for s in steps} == {"received"}  # nothing happens before the confirmation
    done = client.post("/desk/bulk-accept", data={**form, "confirmed": "1"}, follow_redirects=True)
    assert "已受理2件" in done.get_data(as_text=True)
    db.session.expire_all()
    assert [s.state for s in steps] == ["accepted", "accepted", "received", "received"]
    for step in steps[:2]:
        assert len(events("application:step:accepted", step.id)) == 1  # audited per step


def test_bulk_accept_ignores_another_departments_steps(app):
    water = make_reviewer("water")
    licence = step_of(make_application("restaurant_opening"), "business_licence")
    result = bulk_accept([licence.id], water)
    assert result.accepted == [] and result.skipped == []
    assert licence.state == "received"


def test_decisions_are_confirmed_before_they_are_recorded(client):
    make_reviewer("samr", "samr_confirm")
    application = make_application("restaurant_opening")
    step = step_of(application, "business_licence")
    commit()
    login(client, "samr_confirm")
    page = claim_step(client, step.id)
    data = {"csrf_token": hidden(page, "csrf_token"), "version": hidden(page, "version"), "action": "reject",
            "reason": "经营范围不符", "legal_basis": "《市场主体登记管理条例》第十九条"}
    confirmation = client.post(f"/desk/steps/{step.id}/decide", data=data).get_data(as_text=True)
    assert "确认办理决定" in confirmation and "经营范围不符" in confirmation
    db.session.refresh(step)
    assert step.state == "received" and events("application:step:rejected") == []
    back = client.post(f"/desk/steps/{step.id}/decide", data={**data, "edit": "1"}).get_data(as_text=True)
    assert "经营范围不符" in back and 'name="action"' in back  # back to the form, as typed
    # A decision that would not go through is refused at the first press, with the reason.
    missing = client.post(f"/desk/steps/{step.id}/decide", data={**data, "legal_basis": ""}).get_data(as_text=True)
    assert "不予办理还须填写法律依据" in missing
    client.post(f"/desk/steps/{step.id}/decide", data={**data, "confirmed": "1"})
    db.session.refresh(step)
    assert step.state == "rejected" and len(events("application:step:rejected", step.id)) == 1
    assert db.session.scalar(select(Notification).where(Notification.kind == "step_rejected")) is not None


def test_approval_on_commitment_then_the_head_records_the_post_check(client):
    operator = make_operator("pc_op")
    application = make_application("restaurant_opening", applicant=operator, state="licence_approved")
    make_reviewer("samr", "samr_pc")
    make_reviewer("samr", "samr_pc_head", head=True)
    food = step_of(application, "food_licence")
    commit()
    login(client, "samr_pc")
    decide_on_page(client, food.id, "accept")
    decide_on_page(client, food.id, "approve", on_commitment="y")
    db.session.refresh(food)
    assert food.state == "approved" and food.on_commitment
    client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
    login(client, "samr_pc_head")
    page = client.get("/desk/supervision").get_data(as_text=True)
    assert "告知承诺事后核查" in page and application.reference in page
    client.post(f"/desk/post-checks/{food.id}", data={"csrf_token": hidden(page, "csrf_token"),
                                                      "outcome": "revoked", "note": "现场无加工间"})
    db.session.refresh(food)
    assert food.post_check_outcome == "revoked"
    assert events("application:step:post_check_revoked", food.id)[0].data["note"] == "现场无加工间"


def test_supervision_shows_overdue_load_and_extensions(client):
    with time_machine.travel(MONDAY, tick=False):
        reviewer = make_reviewer("samr", "samr_sv")
        head = make_reviewer("samr", "samr_sv_head", head=True)
        late = step_of(make_application("restaurant_opening"), "business_licence")
        decide(late.id, None, Decision(StepAction.ACCEPT), reviewer)
        claims.reassign(late, reviewer.id, head, "由其负责")  # held until released
        commit()
    with time_machine.travel(MONDAY + timedelta(days=3), tick=False):
        login(client, "samr_sv")
        assert client.get("/desk/supervision").status_code == 403  # reviewers have no supervision page
        client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
        login(client, "samr_sv_head")
        page = client.get("/desk/supervision").get_data(as_text=True)
        assert late.application.reference in page.split('id="overdue"')[1].split('id="due-soon"')[0]
        load = queries.reviewer_load(samr(), now())
        mine = next(entry for entry in load if entry.user.id == reviewer.id)
        assert (mine.holding, mine.holding_overdue) == (1, 1)


def test_a_quality_sample_is_at_least_five_percent_reproducible_and_records_findings(client):
    with time_machine.travel(datetime(2026, 11, 2, 10, tzinfo=SHANGHAI), tick=False):
        applications = [make_application("restaurant_opening") for _ in range(3)]
        for application in applications:
            approve_open_steps(application, rounds=10)
        head = make_reviewer("samr", "samr_qa", head=True)
        commit()
    closed = db.session.scalar(select(func.count()).select_from(Step).where(
        Step.department_id == samr().id, Step.decided_at.is_not(None)))
    assert closed == 6
    with time_machine.travel(datetime(2026, 12, 1, 10, tzinfo=SHANGHAI), tick=False):
        with pytest.raises(sampling.SampleError):
            sampling.draw(samr(), date(2026, 11, 1), date(2026, 12, 1), 5, head)  # the period is not over
        sample = sampling.draw(samr(), date(2026, 11, 1), date(2026, 11, 30), 5, head, seed="fixed-seed")
        commit()
        assert (sample.population, sample.sample_size) == (6, 1)  # 5% of 6, rounded up
        assert [e.step_id for e in sample.entries] == sampling.choose("fixed-seed", sampling.population(
            samr().id, date(2026, 11, 1), date(2026, 11, 30)), 5)
        assert sampling.redraw(sample) == (True, [sample.entries[0].step_id])
        larger = sampling.draw(samr(), date(2026, 11, 1), date(2026, 11, 30), 50, head)
        assert larger.sample_size == 3
        commit()
        drawn = events("quality:sample_drawn")
        assert drawn[0].data["seed"] == "fixed-seed" and drawn[0].data["population"] == 6
        login(client, "samr_qa")
        page = client.get(f"/desk/samples/{sample.id}").get_data(as_text=True)
        assert "fixed-seed" in page and "样本一致" in page
        entry = sample.entries[0]
        client.post(f"/desk/samples/{sample.id}/entries/{entry.id}", data={
            "csrf_token": hidden(page, "csrf_token"), "verdict": "minor", "finding": "告知书未载明救济途径"})
        db.session.refresh(entry)
        assert (entry.verdict, entry.finding, entry.reviewed_by_id) == ("minor", "告知书未载明救济途径", head.id)
        assert events("quality:finding_recorded")[0].data["step"] == entry.step_id
        form = client.get("/desk/supervision").get_data(as_text=True)
        response = client.post("/desk/samples", data={"csrf_token": hidden(form, "csrf_token"),
                                                      "period_start": "2026-11-01", "period_end": "2026-11-30",
                                                      "rate_percent": "4"}, follow_redirects=True)
        assert "抽取比例不低于5%" in response.get_data(as_text=True)


def test_materials_are_previewed_inline_with_safe_headers_and_each_view_is_recorded(client):
    make_reviewer("fire", "fire_prev")
    application = make_application("restaurant_opening", state="licence_approved")
    check = step_of(application, "fire_check")
    commit()
    materials = {m.material_key: m for m in application.materials}
    login(client, "fire_prev")
    page = client.get(f"/desk/steps/{check.id}").get_data(as_text=True)
    src = f"/desk/steps/{check.id}/materials/{materials['floor_plan'].id}"
    assert f'<iframe src="{src}"' in page
    response = client.get(src)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    assert "inline" in response.headers["Content-Disposition"]
    viewed = events("material:viewed", materials["floor_plan"].id)
    assert viewed and viewed[0].data["step"] == check.id
    # The food-safety rules are not the fire check's business: not found, through this step.
    assert client.get(f"/desk/steps/{check.id}/materials/{materials['food_safety_rules'].id}").status_code == 404


def test_staff_read_their_messages(client):
    make_reviewer("samr", "samr_msg")
    application = make_application("restaurant_opening")
    commit()
    login(client, "samr_msg")
    page = client.get("/messages").get_data(as_text=True)
    assert f"新待办：{application.reference}" in page or application.reference in page
    assert f"/desk/?q={application.reference}" in page


@pytest.mark.parametrize("unit", ["working_days", "working_hours", "natural_days", "minutes"])
def test_the_queue_counts_remaining_time_as_the_engine_does(app, unit):
    """The queue's quick measure agrees with the engine's exact one (to its display precision), across
    weekends, the National Day holidays and the 2026-10-10 make-up working day."""
    import random

    from onestop.clocks.operations import work_calendar
    from workflows.clock import Unit, counted_time

    calendar, rng = work_calendar(), random.Random(7)
    base = datetime(2026, 9, 28, 8, 30, tzinfo=SHANGHAI)
    for _ in range(200):
        start = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 20))
        end = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 15))
        exact = counted_time(start, end, Unit(unit), calendar, start_day_counts=True)
        assert abs(queries.time_between(start, end, Unit(unit), calendar) - exact) < Decimal("0.002"), (start, end)


def test_suspension_and_resumption_each_need_a_reason(app):
    reviewer = make_reviewer("samr")
    step = step_of(make_application("restaurant_opening"), "business_licence")
    decide(step.id, None, Decision(StepAction.ACCEPT), reviewer)
    with pytest.raises(DecisionError, match="reason_required"):
        decide(step.id, None, Decision(StepAction.SUSPEND), reviewer)
    decide(step.id, None, Decision(StepAction.SUSPEND, reason="等待技术检测"), reviewer)
    with pytest.raises(DecisionError, match="reason_required"):
        decide(step.id, None, Decision(StepAction.RESUME), reviewer)
    decide(step.id, None, Decision(StepAction.RESUME, reason="检测报告已出"), reviewer)
    assert step.state == "accepted"
