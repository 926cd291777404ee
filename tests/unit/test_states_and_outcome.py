"""Transition tables and the fan-in outcome, exhaustively."""

from __future__ import annotations

import itertools

import pytest

from workflows.outcome import outcome
from workflows.states import (
    TERMINAL_STEP_STATES,
    ApplicationAction,
    ApplicationState,
    InvalidTransition,
    StepAction,
    StepState,
    allowed_step_actions,
    application_transition,
    step_transition,
)

S, A = StepState, StepAction
VALID = {
    (S.WAITING, A.START): S.RECEIVED,
    (S.RECEIVED, A.ACCEPT): S.ACCEPTED,
    (S.RECEIVED, A.REQUEST_SUPPLEMENT): S.SUPPLEMENT,
    (S.ACCEPTED, A.REQUEST_SUPPLEMENT): S.SUPPLEMENT,
    (S.ACCEPTED, A.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, A.RESUME): S.ACCEPTED,
    (S.ACCEPTED, A.APPROVE): S.APPROVED,
    (S.RECEIVED, A.REJECT): S.REJECTED,
    (S.ACCEPTED, A.REJECT): S.REJECTED,
    (S.SUPPLEMENT, A.REJECT): S.REJECTED,
    **{(s, A.TERMINATE): S.TERMINATED for s in S if s not in TERMINAL_STEP_STATES},
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(StepState, StepAction)))
def test_every_step_transition_is_either_in_the_table_or_refused(state, action):
    if action is A.SUPPLEMENT_RECEIVED and state is S.SUPPLEMENT:
        assert step_transition(state, action, resume_to=S.RECEIVED) is S.RECEIVED
        assert step_transition(state, action, resume_to=S.ACCEPTED) is S.ACCEPTED
        with pytest.raises(InvalidTransition):
            step_transition(state, action, resume_to=S.APPROVED)
        return
    if (state, action) in VALID:
        assert step_transition(state, action) is VALID[state, action]
        assert action in allowed_step_actions(state)
    else:
        with pytest.raises(InvalidTransition):
            step_transition(state, action)
        assert action not in allowed_step_actions(state)


@pytest.mark.parametrize("state", sorted(TERMINAL_STEP_STATES))
def test_terminal_steps_allow_nothing(state):
    assert allowed_step_actions(state) == frozenset()


@pytest.mark.parametrize(
    ("state", "action", "target", "ok"),
    [
        (ApplicationState.IN_PROGRESS, ApplicationAction.END, ApplicationState.COMPLETED, True),
        (ApplicationState.IN_PROGRESS, ApplicationAction.END, ApplicationState.PARTIALLY_COMPLETED, True),
        (ApplicationState.IN_PROGRESS, ApplicationAction.END, ApplicationState.REJECTED, True),
        (ApplicationState.IN_PROGRESS, ApplicationAction.END, ApplicationState.WITHDRAWN, False),
        (ApplicationState.IN_PROGRESS, ApplicationAction.WITHDRAW, ApplicationState.WITHDRAWN, True),
        (ApplicationState.COMPLETED, ApplicationAction.END, ApplicationState.COMPLETED, False),
        (ApplicationState.COMPLETED, ApplicationAction.WITHDRAW, ApplicationState.WITHDRAWN, False),
        (ApplicationState.WITHDRAWN, ApplicationAction.END, ApplicationState.REJECTED, False),
        (ApplicationState.REJECTED, ApplicationAction.END, ApplicationState.COMPLETED, False),
    ],
)
def test_application_transitions(state, action, target, ok):
    if ok:
        assert application_transition(state, action, target) is target
    else:
        with pytest.raises(InvalidTransition):
            application_transition(state, action, target)


def _expected(states: tuple[StepState, ...]) -> ApplicationState | None:
    if not states or any(s not in TERMINAL_STEP_STATES for s in states):
        return None
    approved = [s is S.APPROVED for s in states]
    if all(approved):
        return ApplicationState.COMPLETED
    if not any(approved):
        return ApplicationState.REJECTED
    return ApplicationState.PARTIALLY_COMPLETED


@pytest.mark.parametrize(
    "states", [c for n in range(0, 4) for c in itertools.product(StepState, repeat=n)], ids=str
)
def test_outcome_over_all_combinations_of_up_to_three_steps(states):
    assert outcome(states) is _expected(states)


def test_outcome_examples():
    assert outcome([S.APPROVED, S.APPROVED]) is ApplicationState.COMPLETED
    assert outcome([S.APPROVED, S.TERMINATED]) is ApplicationState.PARTIALLY_COMPLETED
    assert outcome([S.REJECTED, S.TERMINATED]) is ApplicationState.REJECTED
    assert outcome([S.APPROVED, S.WAITING]) is None
    assert outcome([S.APPROVED, S.SUPPLEMENT]) is None
