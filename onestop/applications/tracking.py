"""The applicant's view of progress, parcel-tracking style: per department, per item, each event with its
time, read from the processing-time log; the due date and the working time left.

`public=True` is the view for the progress check by reference and query code: events and dates only,
no reasons or names (they may carry personal data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from onestop.accounts.models import Department
from onestop.applications.expected import TimeLeft, time_left
from onestop.applications.models import Application, Step
from onestop.catalog.operations import bundle_of_application, department_map
from workflows.catalog.schema import Item


@dataclass(frozen=True)
class Event:
    at: datetime
    action: str  # create | start | accept | request_supplement | supplement_received | suspend | resume |
    #              approve | reject | terminate
    to_state: str
    by_system: bool
    rule: str | None = None  # a system action's rule (e.g. deemed acceptance)


@dataclass
class TrackedStep:
    step: Step
    item: Item
    events: list[Event]
    left: TimeLeft | None
    is_current: bool  # the step is open and not merely waiting for a prior item


@dataclass
class TrackedDepartment:
    department: Department
    steps: list[TrackedStep] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return any(s.step.is_open for s in self.steps)


def timeline(application: Application, *, public: bool = False) -> list[TrackedDepartment]:
    bundle = bundle_of_application(application)
    by_id = {d.id: d for d in department_map().values()}
    groups: dict[int, TrackedDepartment] = {}
    for step in application.steps:
        item = bundle.item(step.item_code)
        events = [Event(t.at, t.action, t.to_state, t.actor_role == "system", None if public else t.rule)
                  for t in step.transitions]
        tracked = TrackedStep(step, item, events, time_left(step),
                              step.is_open and step.state != "waiting")
        groups.setdefault(step.department_id, TrackedDepartment(by_id[step.department_id])).steps.append(tracked)
    return list(groups.values())
