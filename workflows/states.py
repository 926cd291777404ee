"""States and transition tables of applications (办件) and steps (环节).

The tables are the single source of truth: operations ask `step_transition()` for the next state and
never assign a state on their own. Anything not in a table raises InvalidTransition.
"""

from __future__ import annotations

from enum import StrEnum


class InvalidTransition(Exception):
    def __init__(self, kind: str, state: str, action: str) -> None:
        super().__init__(f"{kind} in state {state!r} does not allow {action!r}")
        self.kind = kind
        self.state = state
        self.action = action


class StepState(StrEnum):
    WAITING = "waiting"  # 等待前置: a prerequisite item has not been approved yet
    RECEIVED = "received"  # 待受理: in the department's queue, not yet accepted
    ACCEPTED = "accepted"  # 已受理 / 审查中: the legal clock runs
    SUPPLEMENT = "supplement"  # 补正中: waiting for the applicant; the clock is paused
    SUSPENDED = "suspended"  # 中止: e.g. technical test, hearing; the clock is paused
    APPROVED = "approved"  # 准予
    REJECTED = "rejected"  # 不予受理 / 不予许可
    TERMINATED = "terminated"  # 终止: a prerequisite failed, or the application was withdrawn


TERMINAL_STEP_STATES = frozenset({StepState.APPROVED, StepState.REJECTED, StepState.TERMINATED})
# States in which the step's legal clock is not running.
PAUSED_STEP_STATES = frozenset({StepState.SUPPLEMENT, StepState.SUSPENDED})


class StepAction(StrEnum):
    START = "start"  # all prerequisites approved
    ACCEPT = "accept"  # 受理 (with or without outstanding materials: 容缺)
    REQUEST_SUPPLEMENT = "request_supplement"  # 补正 / 一次性告知
    SUPPLEMENT_RECEIVED = "supplement_received"
    SUSPEND = "suspend"  # 中止
    RESUME = "resume"
    APPROVE = "approve"
    REJECT = "reject"
    TERMINATE = "terminate"


S, A = StepState, StepAction
_STEP_TABLE: dict[tuple[StepState, StepAction], frozenset[StepState]] = {
    (S.WAITING, A.START): frozenset({S.RECEIVED}),
    (S.RECEIVED, A.ACCEPT): frozenset({S.ACCEPTED}),
    (S.RECEIVED, A.REQUEST_SUPPLEMENT): frozenset({S.SUPPLEMENT}),
    (S.ACCEPTED, A.REQUEST_SUPPLEMENT): frozenset({S.SUPPLEMENT}),
    # A supplement returns the step to where it was asked: before or after acceptance.
    (S.SUPPLEMENT, A.SUPPLEMENT_RECEIVED): frozenset({S.RECEIVED, S.ACCEPTED}),
    (S.ACCEPTED, A.SUSPEND): frozenset({S.SUSPENDED}),
    (S.SUSPENDED, A.RESUME): frozenset({S.ACCEPTED}),
    (S.ACCEPTED, A.APPROVE): frozenset({S.APPROVED}),
    (S.RECEIVED, A.REJECT): frozenset({S.REJECTED}),  # 不予受理
    (S.ACCEPTED, A.REJECT): frozenset({S.REJECTED}),  # 不予许可
    (S.SUPPLEMENT, A.REJECT): frozenset({S.REJECTED}),  # not supplemented in time
    **{(s, A.TERMINATE): frozenset({S.TERMINATED}) for s in StepState if s not in TERMINAL_STEP_STATES},
}
del S, A


def step_transition(state: StepState, action: StepAction, *, resume_to: StepState | None = None) -> StepState:
    """The state a step moves to; `resume_to` picks the target where the table allows several."""
    targets = _STEP_TABLE.get((state, action))
    if targets is None:
        raise InvalidTransition("step", state, action)
    if len(targets) == 1:
        return next(iter(targets))
    if resume_to not in targets:
        raise InvalidTransition("step", state, f"{action} -> {resume_to}")
    assert resume_to is not None
    return resume_to


def allowed_step_actions(state: StepState) -> frozenset[StepAction]:
    return frozenset(action for (s, action) in _STEP_TABLE if s == state)


class ApplicationState(StrEnum):
    IN_PROGRESS = "in_progress"  # submitted, at least one step still open
    COMPLETED = "completed"  # 办结: every started step approved
    PARTIALLY_COMPLETED = "partially_completed"  # some approved, some rejected or terminated
    REJECTED = "rejected"  # nothing approved
    WITHDRAWN = "withdrawn"  # 撤回 by the applicant before completion


FINAL_APPLICATION_STATES = frozenset(set(ApplicationState) - {ApplicationState.IN_PROGRESS})


class ApplicationAction(StrEnum):
    END = "end"  # fan-in: every step has ended
    WITHDRAW = "withdraw"


_APPLICATION_TABLE: dict[tuple[ApplicationState, ApplicationAction], frozenset[ApplicationState]] = {
    (ApplicationState.IN_PROGRESS, ApplicationAction.END): frozenset(
        {ApplicationState.COMPLETED, ApplicationState.PARTIALLY_COMPLETED, ApplicationState.REJECTED}
    ),
    (ApplicationState.IN_PROGRESS, ApplicationAction.WITHDRAW): frozenset({ApplicationState.WITHDRAWN}),
}


def application_transition(
    state: ApplicationState, action: ApplicationAction, target: ApplicationState
) -> ApplicationState:
    targets = _APPLICATION_TABLE.get((state, action))
    if targets is None or target not in targets:
        raise InvalidTransition("application", state, f"{action} -> {target}")
    return target
