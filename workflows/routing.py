"""Fan-out over the item graph.

Given a bundle, the answers and the current state of each item's step, decide which steps start, which
wait for a 前置 item, which end because a 前置 item failed, and which do not apply at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflows.catalog.schema import Bundle
from workflows.states import StepState


@dataclass(frozen=True)
class Termination:
    item: str
    blocked_by: str  # the 前置 item that was rejected or terminated


@dataclass(frozen=True)
class RoutingDecision:
    start: list[str] = field(default_factory=list)  # start now (-> RECEIVED)
    wait: list[str] = field(default_factory=list)  # create as WAITING (only at submission)
    terminate: list[Termination] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)


def applicable_items(bundle: Bundle, answers: Mapping[str, Any]) -> list[str]:
    """Items the answers call for, in catalog order."""
    return [i.code for i in bundle.items if i.condition is None or i.condition.holds(answers)]


def route(
    bundle: Bundle,
    answers: Mapping[str, Any],
    steps: Mapping[str, StepState],
    *,
    applicable: Collection[str] | None = None,
) -> RoutingDecision:
    """What must happen now. `steps` maps item code to its step's state (empty at submission).

    A 前置 item that does not apply (its condition is false) counts as satisfied. Only items already
    WAITING can start or be terminated; at submission (no steps yet) every applicable item gets a step.
    `applicable`, when given, names the items that apply instead of evaluating the conditions on
    `answers` (after submission they are the items that have steps).
    """
    if applicable is None:
        applicable = applicable_items(bundle, answers)
    else:
        applicable = [i.code for i in bundle.items if i.code in applicable]
    applicable_set = set(applicable)
    decision = RoutingDecision(not_applicable=[i.code for i in bundle.items if i.code not in applicable_set])
    for code in applicable:
        current = steps.get(code)
        if current is not None and current is not StepState.WAITING:
            continue
        prereqs = [p for p in bundle.item(code).requires if p in applicable_set]
        failed = next(
            (p for p in prereqs if steps.get(p) in (StepState.REJECTED, StepState.TERMINATED)), None
        )
        if failed is not None:
            if current is StepState.WAITING:
                decision.terminate.append(Termination(code, failed))
            continue
        if all(steps.get(p) is StepState.APPROVED for p in prereqs):
            decision.start.append(code)
        elif current is None:
            decision.wait.append(code)
    return decision
