"""The issuing jobs: take ids, idempotent, one commit each (the job runner commits)."""

from __future__ import annotations

import logging

from onestop.certificates import operations
from onestop.core.jobs import after_commit, job

log = logging.getLogger(__name__)


@job("issue_certificates")
def issue_certificates(application_id: int) -> None:
    """After an application ends: reserve the numbered rows of its results, then seal them (next job)."""
    operations.reserve_results(application_id)
    # Sealing runs as its own job after this commit: the numbers are then safe whatever happens to it.
    after_commit("seal_certificates", application_id)


@job("seal_certificates")
def seal_certificates(application_id: int) -> None:
    report = operations.issue_reserved(application_id)
    if report.failed:
        log.warning("application %s: results not issued: %s", application_id, report.failed)
