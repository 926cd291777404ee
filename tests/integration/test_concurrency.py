"""Exactly-once fan-in under concurrency, on PostgreSQL (SQLite serialises writers by itself).

Eight threads decide every step of 200 applications through the pages. Every decision is sent twice,
by two different threads, so decisions race on the same step all the time. Then: every application
ended exactly once, no decision was lost or taken twice, and no request failed with a 5xx.

The threads are eight sessions of one reviewer (tabs that submit twice): a claim keeps two different
reviewers off one step before the engine is reached (tests/integration/test_desk.py), so only the same
reviewer's repeated decisions, and the departments deciding one application at the same instant, race
here.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from onestop.accounts.models import StaffRoleName
from onestop.accounts.operations import create_staff
from onestop.applications.models import Application, Step, StepTransition
from onestop.audit.models import AuditEvent
from onestop.audit.operations import verify_chain
from onestop.core.jobs import commit
from onestop.extensions import db
from tests.conftest import IsolatedClient, make_app
from tests.factories import PASSWORD, RESTAURANT_ANSWERS, department, make_application, make_operator

THREADS = 8
APPLICATIONS = 200


@pytest.fixture
def pg_app(templates, database_url, backend, tmp_path):
    if backend != "postgresql":
        pytest.skip("the race needs concurrent writers: PostgreSQL (CI runs it)")
    app = make_app(database_url, tmp_path / "instance", WTF_CSRF_ENABLED=False)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_every_application_ends_exactly_once_under_concurrent_decisions(pg_app):
    samr, water = department("samr"), department("water")
    racer = create_staff(username="racer", password=PASSWORD, name="审批员",
                         roles=[(samr, StaffRoleName.REVIEWER), (water, StaffRoleName.REVIEWER)]).username
    usernames = [racer] * THREADS
    operator = make_operator()
    answers = dict(RESTAURANT_ANSWERS, floor_area=80, credit_code=operator.enterprise.credit_code,
                   operator_id=operator.id_number)  # licence, then food licence and drainage in parallel
    applications = [make_application("restaurant_opening", applicant=operator, answers=answers).id
                    for _ in range(APPLICATIONS)]
    commit()

    work: queue.Queue[tuple[int, str] | None] = queue.Queue()
    first_steps = db.session.scalars(select(Step.id).where(Step.state == "received")).all()
    for step_id in first_steps:
        for _ in range(2):
            work.put((step_id, "accept"))
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    pending = [len(first_steps) * 2]

    def follow_up(step_id: int, action: str) -> list[tuple[int, str]]:
        """After an accept comes an approve; after a licence approval, its dependants' accepts."""
        with pg_app.app_context():
            step = db.session.get(Step, step_id)
            if action == "accept":
                return [(step_id, "approve")]
            if step.item_code != "business_licence":
                return []
            others = db.session.scalars(select(Step.id).where(
                Step.application_id == step.application_id, Step.item_code != "business_licence")).all()
            return [(s, "accept") for s in others]

    def worker(username: str) -> None:
        client = pg_app.test_client()
        client.post("/login", data={"username": username, "password": PASSWORD})
        while True:
            task = work.get()
            if task is None:
                return
            step_id, action = task
            client.post(f"/desk/steps/{step_id}/claim")  # the desk decides only for the claim's holder
            response = client.post(f"/desk/steps/{step_id}/decide", data={"action": action, "confirmed": "1"})
            with lock:
                statuses[response.status_code] += 1
            # Only the thread whose decision took effect queues the next ones (twice again).
            flashed = response.status_code == 302 and _took_effect(step_id, action)
            follow = follow_up(step_id, action) if flashed else []
            with lock:
                for item in follow:
                    work.put(item)
                    work.put(item)
                pending[0] += 2 * len(follow) - 1
                if pending[0] == 0:
                    for _ in range(THREADS):
                        work.put(None)

    taken: dict[tuple[int, str], int] = {}
    taken_lock = threading.Lock()

    def _took_effect(step_id: int, action: str) -> bool:
        # The first of the two identical requests to finish sees its own transition in the log.
        with pg_app.app_context():
            done = db.session.scalar(select(func.count()).select_from(StepTransition).where(
                StepTransition.step_id == step_id, StepTransition.action == action))
        with taken_lock:
            if done and (step_id, action) not in taken:
                taken[step_id, action] = 1
                return True
            return False

    threads = [threading.Thread(target=worker, args=(name,)) for name in usernames]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "workers did not finish"

    assert all(code < 500 for code in statuses), statuses
    db.session.expire_all()
    states = Counter(db.session.scalars(select(Application.state).where(Application.id.in_(applications))))
    assert states == {"completed": APPLICATIONS}
    completions = Counter(db.session.scalars(select(AuditEvent.subject_id).where(
        AuditEvent.tag == "application:completed")))
    assert set(completions.values()) == {1} and len(completions) == APPLICATIONS
    per_step = Counter(db.session.execute(select(StepTransition.step_id, StepTransition.action).where(
        StepTransition.action.in_(["accept", "approve"]))).all())
    assert len(per_step) == APPLICATIONS * 3 * 2 and set(per_step.values()) == {1}  # none lost, none twice
    assert verify_chain().ok
