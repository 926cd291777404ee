"""Fan-in: the outcome of an application as a pure function of its step states.

Steps in WAITING that were never started still count as open: an application ends only when every step
it created has ended (approved, rejected or terminated).
"""

from __future__ import annotations

from collections.abc import Iterable

from workflows.states import TERMINAL_STEP_STATES, ApplicationState, StepState


def outcome(step_states: Iterable[StepState], *, all_or_nothing: bool = False) -> ApplicationState | None:
    """The final state the application reaches, or None while any step is still open.

    completed: all approved; rejected: none approved; partially completed: anything in between.
    An application with no steps has nothing to end and stays open (None). `all_or_nothing` (a bundle
    whose items are stages of one decision, e.g. a benefit's review, notice and payment): anything short
    of all approved is rejected, since no stage yields a result of its own.
    """
    states = list(step_states)
    if not states or any(s not in TERMINAL_STEP_STATES for s in states):
        return None
    approved = sum(1 for s in states if s is StepState.APPROVED)
    if approved == len(states):
        return ApplicationState.COMPLETED
    if approved == 0 or all_or_nothing:
        return ApplicationState.REJECTED
    return ApplicationState.PARTIALLY_COMPLETED
