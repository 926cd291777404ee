"""Webhooks: events written with the change (never for a rolled-back one), signed, delivered after
commit, retried with back-off while the receiver is down, each event delivered once it is back, the
administrator's log and re-send. The receiver is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews.operations import Decision, decide
from onestop.webhooks.models import EVENTS, WebhookDelivery, WebhookEvent
from onestop.webhooks.operations import backoff, create_subscription, retry_due
from tests.conftest import REDIS_URL, make_app
from tests.factories import PASSWORD, make_application, make_person, make_reviewer
from tests.integration.test_web import csrf, hidden, login
from workflows.states import StepAction


class Receiver:
    """A webhook receiver on 127.0.0.1: records each request, checks its signature, answers 204."""

    def __init__(self, port: int = 0, secret: str = "") -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Onestop-Timestamp"]
                expected = "sha256=" + hmac.new(receiver.secret.encode(), stamp.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                receiver.received.append({
                    "id": self.headers["X-Onestop-Event-Id"], "type": self.headers["X-Onestop-Event"],
                    "signed": hmac.compare_digest(expected, self.headers["X-Onestop-Signature"]),
                    "body": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def ids(self) -> Counter[str]:
        return Counter(r["id"] for r in self.received)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def admin(app):
    from onestop.accounts.models import UserKind
    from onestop.accounts.operations import create_staff

    user = create_staff(username="admin1", password=PASSWORD, name="管理员", kind=UserKind.ADMIN)
    commit()
    return user


def approve_all(application: Any) -> None:
    for step in list(application.steps):
        if step.state in ("received", "accepted"):
            reviewer = make_reviewer(step.department.code)
            if step.state == "received":
                decide(step.id, None, Decision(StepAction.ACCEPT), reviewer)
            decide(step.id, None, Decision(StepAction.APPROVE), reviewer)


def test_events_are_signed_and_delivered_after_commit(app, admin):
    receiver = Receiver()
    try:
        subscription = create_subscription("intake", f"http://127.0.0.1:{receiver.port}/hook", list(EVENTS), admin)
        receiver.secret = subscription.secret
        commit()
        application = make_application("newborn_birth")
        assert receiver.received == []  # nothing leaves before commit
        commit()
        types = [r["type"] for r in receiver.received]
        assert types[0] == "application.submitted"
        assert all(r["signed"] for r in receiver.received)
        first = receiver.received[0]["body"]
        assert first["data"]["reference"] == application.reference and first["id"] == receiver.received[0]["id"]
        approve_all(application)
        commit()
        approve_all(application)  # the items that waited for a 前置 item
        commit()
        types = [r["type"] for r in receiver.received]
        assert "step.decided" in types and types[-1] == "application.completed"
        completed = receiver.received[-1]["body"]["data"]
        assert completed["outcome"] == "completed" and completed["reference"] == application.reference
        assert all(d.state == "delivered" for d in db.session.scalars(select(WebhookDelivery)))
    finally:
        receiver.stop()


def test_a_rolled_back_change_sends_nothing(app, admin):
    receiver = Receiver()
    try:
        create_subscription("intake", f"http://127.0.0.1:{receiver.port}/hook", list(EVENTS), admin)
        commit()
        make_application("newborn_birth")
        db.session.rollback()
        commit()
        assert retry_due() == 0
        commit()
        assert receiver.received == []
        assert db.session.scalar(select(func.count(WebhookEvent.id))) == 0
        assert db.session.scalar(select(func.count(WebhookDelivery.id))) == 0
    finally:
        receiver.stop()


def test_a_receiver_that_was_down_gets_every_event_once_when_it_returns(app, admin):
    port = free_port()
    subscription = create_subscription("intake", f"http://127.0.0.1:{port}/hook", list(EVENTS), admin)
    secret = subscription.secret
    commit()
    applications = [make_application("newborn_birth") for _ in range(3)]
    commit()
    approve_all(applications[0])
    commit()
    deliveries = list(db.session.scalars(select(WebhookDelivery)))
    assert deliveries and all(d.state == "pending" and d.attempts == 1 for d in deliveries)
    assert all(d.last_error and "Connection" in d.last_error for d in deliveries)
    event_ids = set(db.session.scalars(select(WebhookEvent.event_id)))
    # Still down at the next attempt: one try for the receiver (not one time-out per event), whose
    # back-off doubles; the others wait for the next run.
    with time_machine.travel(now() + backoff(1) + timedelta(seconds=1), tick=False):
        assert retry_due() == 1
        commit()
    db.session.expire_all()
    assert sorted(d.attempts for d in db.session.scalars(select(WebhookDelivery))) == [1] * (len(deliveries) - 1) + [2]
    receiver = Receiver(port, secret)
    try:
        # Not yet due: the receiver hears nothing; once due, everything arrives, and a second sweep is silent.
        assert retry_due() == 0
        with time_machine.travel(now() + backoff(1) + backoff(2) + timedelta(seconds=2), tick=False):
            assert retry_due() == len(deliveries)
            commit()
            assert retry_due() == 0
            commit()
        assert set(receiver.ids) == event_ids
        assert set(receiver.ids.values()) == {1}
        assert all(r["signed"] for r in receiver.received)
        db.session.expire_all()
        assert all(d.state == "delivered" for d in db.session.scalars(select(WebhookDelivery)))
    finally:
        receiver.stop()


def test_the_administrator_sees_the_log_and_sends_again(app, admin, client):
    receiver = Receiver()
    try:
        login(client, "admin1")
        page = client.post("/admin/webhooks/", data={
            "csrf_token": csrf(client, "/admin/webhooks/"), "name": "省一体化平台",
            "url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["application.submitted"]})
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        secret = hidden(html.replace('<code class="token-secret">', '<input name="s" value="').replace(
            "</code></p>\n</div>", '"></p></div>', 1), "s")
        receiver.secret = secret
        make_application("newborn_birth")
        commit()
        assert len(receiver.received) == 1 and receiver.received[0]["signed"]
        delivery = db.session.scalar(select(WebhookDelivery))
        log = client.get(f"/admin/webhooks/{delivery.subscription_id}").get_data(as_text=True)
        assert receiver.received[0]["id"] in log
        client.post(f"/admin/webhooks/deliveries/{delivery.id}/resend", data={"csrf_token": hidden(log, "csrf_token")})
        assert [r["id"] for r in receiver.received] == [receiver.received[0]["id"]] * 2  # a duplicate: the same id
        other = make_person()
        commit()
        login(client, other.username)
        assert client.get("/admin/webhooks/").status_code == 403
    finally:
        receiver.stop()


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set (CI sets it and fails when Redis is missing)")
def test_deliveries_go_through_rq_after_commit(database_url, tmp_path):
    from redis import Redis
    from rq import Queue, SimpleWorker

    import onestop.core.jobs as jobs
    from onestop.accounts.models import UserKind
    from onestop.accounts.operations import create_staff

    app = make_app(database_url, tmp_path / "instance", with_redis=True)
    queue = Queue("onestop", connection=Redis.from_url(REDIS_URL))
    queue.empty()
    receiver = Receiver()
    try:
        with app.app_context():
            admin = create_staff(username="admin2", password=PASSWORD, name="管理员", kind=UserKind.ADMIN)
            receiver.secret = create_subscription("intake", f"http://127.0.0.1:{receiver.port}/", ["application.submitted"],
                                                  admin).secret
            commit()
            queue.empty()
            make_application("newborn_birth")
            commit()
            assert receiver.received == []  # queued, not sent
            jobs._worker_app = app
            try:
                SimpleWorker([queue], connection=queue.connection).work(burst=True)
            finally:
                jobs._worker_app = None
            assert [r["type"] for r in receiver.received] == ["application.submitted"]
            db.session.remove()
            db.engine.dispose()
    finally:
        receiver.stop()
