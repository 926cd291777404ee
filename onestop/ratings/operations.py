"""好差评: rating a department's service, answering bad ratings, appeals, and the deemed rating.

Limits (DOMAIN.md §3, §4): a bad rating is answered by the department head within 5 working days,
extendable once by 2 working days; the staff member rated may appeal within 2 working days; no rating
within 5 working days after the application ends counts as 基本满意 (a system action, with its basis).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import distinct, func, select
from sqlalchemy.exc import IntegrityError

from onestop.accounts.models import User
from onestop.applications.engine import due_after
from onestop.applications.models import Application, Step, StepTransition
from onestop.audit.operations import Actor, record
from onestop.clocks.operations import work_calendar
from onestop.core.clock import now
from onestop.extensions import db
from onestop.jobs.notifications import notify_applicant, notify_rating
from onestop.ratings.models import DEEMED_LEVEL, LEVELS, Rating
from workflows.catalog.schema import TimeLimit
from workflows.clock import Unit, counted_time

REPLY_LIMIT = TimeLimit(amount=Decimal(5), unit=Unit.WORKING_DAYS)
EXTENSION = TimeLimit(amount=Decimal(2), unit=Unit.WORKING_DAYS)
APPEAL_LIMIT = TimeLimit(amount=Decimal(2), unit=Unit.WORKING_DAYS)
DEEMED_AFTER = TimeLimit(amount=Decimal(5), unit=Unit.WORKING_DAYS)
RATING_BASIS = "《国务院办公厅关于建立政务服务“好差评”制度提高政务服务水平的意见》（国办发〔2019〕51号）"
DEEMED_RULE = f"办结后5个工作日内未评价，视为“基本满意” (no rating within 5 working days: deemed 基本满意) — {RATING_BASIS}"


class RatingError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def rateable_department_ids(application: Application) -> list[int]:
    """Departments that served this application: at least one of their steps reached them."""
    return list(dict.fromkeys(s.department_id for s in application.steps if s.received_at is not None))


def rate(application: Application, department_id: int, level: int, comment: str | None, rater: User) -> Rating:
    if not application.is_owned_by(rater):
        raise RatingError("forbidden")
    if application.state == "in_progress":
        raise RatingError("not_ended")
    if department_id not in rateable_department_ids(application):
        raise RatingError("not_rateable")
    if level not in LEVELS:
        raise RatingError("level")
    if _existing(application.id, department_id) is not None:
        raise RatingError("already_rated")
    current = now()
    bad = level <= 2
    rating = Rating(
        application_id=application.id, department_id=department_id, level=level,
        comment=(comment or "").strip() or None, rater_id=rater.id, deemed=False, rated_at=current,
        reply_due_at=due_after(current, REPLY_LIMIT) if bad else None,
        appeal_due_at=due_after(current, APPEAL_LIMIT) if bad else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(rating)
    except IntegrityError:
        raise RatingError("already_rated") from None  # a second tab rated a moment ago
    record("rating:given", "rating", rating.id,
           {"application": application.reference, "level": level, "bad": bad, "reply_due_at": rating.reply_due_at},
           actor=Actor(rater.id, rater.kind), department_id=department_id)
    if bad:
        notify_rating(rating.id, "bad_rating")
    return rating


def _existing(application_id: int, department_id: int) -> Rating | None:
    return db.session.scalar(select(Rating).where(
        Rating.application_id == application_id, Rating.department_id == department_id))


def _head_check(rating: Rating, head: User) -> Actor:
    if not head.is_head_of(rating.department_id):
        raise RatingError("forbidden")
    if not rating.is_bad:
        raise RatingError("not_bad")
    return Actor(head.id, "head", rating.department_id)


def reply(rating: Rating, head: User, text: str) -> None:
    """The head's answer: what was found and what was remedied; the applicant sees it."""
    actor = _head_check(rating, head)
    if rating.reply is not None:
        raise RatingError("already_replied")
    if not text.strip():
        raise RatingError("text_required")
    current = now()
    rating.reply, rating.replied_at, rating.replied_by_id = text.strip(), current, head.id
    record("rating:replied", "rating", rating.id,
           {"on_time": rating.reply_due_at is not None and current <= rating.reply_due_at}, actor=actor)
    notify_applicant(rating.application_id, "rating_replied", str(rating.id))


def extend(rating: Rating, head: User, reason: str) -> None:
    """The one extension of 2 working days, asked before the limit passes, with a reason."""
    actor = _head_check(rating, head)
    if rating.reply is not None or rating.extended:
        raise RatingError("no_extension")
    assert rating.reply_due_at is not None
    if now() > rating.reply_due_at:
        raise RatingError("too_late")
    if not reason.strip():
        raise RatingError("text_required")
    before = rating.reply_due_at
    rating.reply_due_at = due_after(before, EXTENSION)
    rating.extended, rating.extension_reason = True, reason.strip()
    record("rating:extended", "rating", rating.id, {"due_before": before, "due_after": rating.reply_due_at,
                                                    "reason": rating.extension_reason}, actor=actor)


def staff_rated(rating: Rating) -> set[int]:
    """The staff who acted on the department's steps of the rated application."""
    return set(db.session.scalars(
        select(StepTransition.actor_id).join(Step, StepTransition.step_id == Step.id).where(
            Step.application_id == rating.application_id, Step.department_id == rating.department_id,
            StepTransition.actor_id.is_not(None), StepTransition.actor_role.in_(("reviewer", "head")),
            # A step is started by whoever decided its 前置 item, maybe in another department.
            StepTransition.action.not_in(("create", "start")))))


def appeal(rating: Rating, staff: User, reason: str) -> None:
    """The staff member rated disagrees (e.g. the rating concerns something outside the service)."""
    if staff.id not in staff_rated(rating) or not staff.can_work_in(rating.department_id):
        raise RatingError("forbidden")
    if not rating.is_bad or rating.appeal_state is not None:
        raise RatingError("no_appeal")
    assert rating.appeal_due_at is not None
    if now() > rating.appeal_due_at:
        raise RatingError("too_late")
    if not reason.strip():
        raise RatingError("text_required")
    rating.appeal_state, rating.appeal_reason = "pending", reason.strip()
    rating.appealed_by_id, rating.appealed_at = staff.id, now()
    record("rating:appealed", "rating", rating.id, {"reason": rating.appeal_reason},
           actor=Actor(staff.id, staff.role_label, rating.department_id))
    notify_rating(rating.id, "rating_appealed")


def decide_appeal(rating: Rating, head: User, upheld: bool, note: str) -> None:
    """Upheld: the rating no longer counts in the department's figures (it stays visible, with the reply)."""
    actor = _head_check(rating, head)
    if rating.appeal_state != "pending":
        raise RatingError("no_appeal")
    if head.id == rating.appealed_by_id:
        raise RatingError("own_appeal")  # nobody decides their own appeal
    if not note.strip():
        raise RatingError("text_required")
    rating.appeal_state = "upheld" if upheld else "dismissed"
    rating.appeal_decided_at, rating.appeal_decided_by_id, rating.appeal_note = now(), head.id, note.strip()
    record(f"rating:appeal_{rating.appeal_state}", "rating", rating.id, {"note": rating.appeal_note}, actor=actor)


def deem_ratings(limit: int = 500) -> list[Rating]:
    """Rate 基本满意 for the departments not rated within 5 working days after the application ended.

    Idempotent: a department already rated (by the applicant or an earlier run) is skipped, and the
    unique constraint turns a concurrent run's duplicate into a no-op."""
    current = now()
    served = (select(func.count(distinct(Step.department_id))).where(
        Step.application_id == Application.id, Step.received_at.is_not(None)).correlate(Application).scalar_subquery())
    rated = (select(func.count(Rating.id)).where(Rating.application_id == Application.id)
             .correlate(Application).scalar_subquery())
    created: list[Rating] = []
    # 5 working days are at least 5 calendar days: older applications only, and only those with a
    # department still unrated, so fully rated ones are not read again on every run.
    ended = db.session.scalars(
        select(Application).where(Application.ended_at <= current - timedelta(days=5), served > rated)
        .order_by(Application.ended_at).limit(limit)
    ).all()
    for application in ended:
        assert application.ended_at is not None
        if counted_time(application.ended_at, current, Unit.WORKING_DAYS, work_calendar()) < DEEMED_AFTER.amount:
            continue
        done = set(db.session.scalars(select(Rating.department_id).where(Rating.application_id == application.id)))
        for department_id in rateable_department_ids(application):
            if department_id in done:
                continue
            rating = Rating(application_id=application.id, department_id=department_id, level=DEEMED_LEVEL,
                            rater_id=None, deemed=True, rated_at=current)
            try:
                with db.session.begin_nested():
                    db.session.add(rating)
            except IntegrityError:
                continue  # another run rated it a moment ago
            record("rating:deemed", "rating", rating.id,
                   {"application": application.reference, "level": DEEMED_LEVEL, "rule": DEEMED_RULE},
                   actor=Actor.system(), department_id=department_id)
            created.append(rating)
            if len(created) >= limit:
                return created
    return created



def alert_overdue_answers(limit: int = 200) -> list[Rating]:
    """Bad ratings not answered by their due date: the heads are told, once per rating."""
    overdue = db.session.scalars(select(Rating).where(
        Rating.reply.is_(None), Rating.reply_due_at < now(), Rating.overdue_alerted_at.is_(None),
    ).order_by(Rating.reply_due_at).limit(limit)).all()
    for rating in overdue:
        rating.overdue_alerted_at = now()
        record("rating:answer_overdue", "rating", rating.id, {"due_at": rating.reply_due_at},
               actor=Actor.system(), department_id=rating.department_id)
        notify_rating(rating.id, "rating_overdue")
    return list(overdue)
