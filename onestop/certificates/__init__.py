"""Certificates (电子证照): signed PDF results, issued when an application ends, verifiable by anyone.

Serves applicants (their results), department heads (revocation), and the public (verification).
"""

from __future__ import annotations

import logging

from flask import Flask

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    from onestop.certificates import cli, documents, jobs, views  # noqa: F401  (jobs registers the jobs)
    from onestop.certificates.rendering import check_environment
    from onestop.cli import group

    app.register_blueprint(views.bp)
    app.add_template_global(views.application_results, "certificate_results")
    app.add_template_filter(documents.spread, "spread")
    group.add_command(cli.pki_group)  # flask onestop pki init|status
    group.add_command(cli.certificates_group)  # flask onestop certificates issue
    # Checked at start-up, so a missing system package is named before the first certificate is due.
    for problem in check_environment():
        log.error("certificates: %s", problem)
        app.logger.error("certificates: %s", problem)
