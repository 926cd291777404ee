"""`flask onestop pki ...` and `flask onestop certificates ...`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.extensions import db

pki_group = AppGroup("pki", help="The departments' seal certificates (ONESTOP_PKI_DIR).")
certificates_group = AppGroup("certificates", help="Issued certificates.")


def department_names() -> dict[str, str]:
    from workflows.catalog.schema import load_catalog

    return {d.code: d.name.zh for d in load_catalog().departments}


def init_pki() -> list[str]:
    from onestop.certificates.pki import init_dev_pki

    return init_dev_pki(Path(current_app.config["ONESTOP_PKI_DIR"]), department_names(), now=now())


@pki_group.command("init")
def pki_init() -> None:
    """Create a development PKI: a root CA, a seal certificate per department, a CRL (kept if present)."""
    from onestop.certificates.pki import PkiError

    if current_app.config["ONESTOP_ENV"] == "production":
        click.secho("refusing to create a development PKI in production: put your CA's department "
                    "certificates and keys in ONESTOP_PKI_DIR", fg="red", err=True)
        sys.exit(1)
    try:
        created = init_pki()
    except PkiError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(1)
    click.echo(f"development PKI in {current_app.config['ONESTOP_PKI_DIR']}: "
               + (f"{len(created)} file(s) created" if created else "complete, nothing to do"))


@pki_group.command("status")
def pki_status() -> None:
    """Which departments can seal, and until when."""
    from onestop.certificates.pki import status

    missing = False
    for who, state in status(Path(current_app.config["ONESTOP_PKI_DIR"]), sorted(department_names())):
        missing |= state == "MISSING"
        click.secho(f"{who:<12} {state}", fg="red" if state == "MISSING" else None)
    if missing:
        sys.exit(1)


@certificates_group.command("issue")
@click.option("--application", "reference", help="Only this application (its reference number).")
def certificates_issue(reference: str | None) -> None:
    """Issue results still due: applications that ended with approvals, and reservations left pending."""
    from onestop.applications.models import Application
    from onestop.certificates.operations import issue_reserved, reserve_results

    query = select(Application.id).where(Application.state.in_(("completed", "partially_completed")))
    if reference:
        query = query.where(Application.reference == reference)
    issued = failed = 0
    for application_id in db.session.scalars(query).all():
        reserve_results(application_id)
        commit()
        report = issue_reserved(application_id)
        commit()
        issued += len(report.issued)
        failed += len(report.failed)
        for serial, error in report.failed.items():
            click.secho(f"{serial}: {error}", fg="red", err=True)
    click.echo(f"{issued} issued, {failed} failed")
    if failed:
        sys.exit(1)
