"""Quality review (抽查): a random sample of at least 5% of a department's closed steps, reproducible.

The draw is a pure function of the seed and the population: every closed step of the department decided
in the period is ranked by SHA-256(seed:step id) and the first ceil(rate × population) are taken. The
seed and the population size are recorded, so anyone can draw again (`redraw`) and compare. The period
must be over (it ends before today), so its population cannot grow afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from onestop.accounts.models import Department, User
from onestop.applications.models import Step
from onestop.audit.operations import Actor, record
from onestop.core.clock import local_now, local_tz, now
from onestop.extensions import db
from onestop.reviews.models import QualitySample, QualitySampleEntry
from onestop.reviews.queries import sample_size

MIN_RATE = 5
VERDICTS = ("sound", "minor", "serious")


class SampleError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0), local_tz()).astimezone(UTC)


def population(department_id: int, start: date, end: date) -> list[int]:
    """Ids of the department's steps that ended in the period (local dates, inclusive)."""
    return list(db.session.scalars(
        select(Step.id).where(Step.department_id == department_id, Step.decided_at >= _utc(start),
                              Step.decided_at < _utc(end + timedelta(days=1)))
        .order_by(Step.id)))


def choose(seed: str, step_ids: list[int], rate_percent: int) -> list[int]:
    ranked = sorted(step_ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    return sorted(ranked[:sample_size(len(step_ids), rate_percent)])


def draw(department: Department, start: date, end: date, rate_percent: int, head: User,
         seed: str | None = None) -> QualitySample:
    if not head.is_head_of(department.id):
        raise SampleError("forbidden")
    if end < start or end >= local_now().date():
        raise SampleError("period")
    if not MIN_RATE <= rate_percent <= 100:
        raise SampleError("rate")
    seed = seed or secrets.token_hex(16)
    ids = population(department.id, start, end)
    chosen = choose(seed, ids, rate_percent)
    sample = QualitySample(department_id=department.id, period_start=start, period_end=end,
                           rate_percent=rate_percent, seed=seed, population=len(ids), sample_size=len(chosen),
                           drawn_by_id=head.id, drawn_at=now(),
                           entries=[QualitySampleEntry(step_id=i) for i in chosen])
    db.session.add(sample)
    db.session.flush()
    record("quality:sample_drawn", "quality_sample", sample.id,
           {"department": department.code, "period": [start, end], "rate_percent": rate_percent, "seed": seed,
            "population": len(ids), "steps": chosen},
           actor=Actor(head.id, "head", department.id), department_id=department.id)
    return sample


def redraw(sample: QualitySample) -> tuple[bool, list[int]]:
    """Draw again from the recorded seed; True when it gives the recorded sample."""
    ids = population(sample.department_id, sample.period_start, sample.period_end)
    again = choose(sample.seed, ids, sample.rate_percent)
    return again == sorted(e.step_id for e in sample.entries) and len(ids) == sample.population, again


def record_finding(entry: QualitySampleEntry, verdict: str, finding: str, head: User) -> None:
    sample = entry.sample
    if not head.is_head_of(sample.department_id):
        raise SampleError("forbidden")
    if verdict not in VERDICTS or not finding.strip():
        raise SampleError("finding")
    before = {"verdict": entry.verdict, "finding": entry.finding}
    entry.verdict, entry.finding = verdict, finding.strip()
    entry.reviewed_by_id, entry.reviewed_at = head.id, now()
    record("quality:finding_recorded", "quality_sample", sample.id,
           {"step": entry.step_id, "verdict": verdict, "finding": entry.finding, "before": before},
           actor=Actor(head.id, "head", sample.department_id), department_id=sample.department_id)
