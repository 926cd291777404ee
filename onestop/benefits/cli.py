"""`flask onestop benefits import FILE.csv | match [--year YYYY]`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from onestop.audit.operations import Actor
from onestop.core.jobs import commit
from onestop.extensions import db

benefits_group = AppGroup("benefits", help="免申即享: enterprise data, matching and offers.")


@benefits_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def import_command(path: Path) -> None:
    """Import enterprise data (credit_code,name,year,insured_staff,layoffs,premiums_paid,arrears), all or
    nothing; the file replaces the records of the years it contains."""
    from onestop.benefits.operations import EnterpriseDataError, import_enterprise_data

    try:
        batch = import_enterprise_data(path.read_bytes(), path.name, Actor.system())
    except EnterpriseDataError as exc:
        db.session.rollback()
        for problem in exc.problems:
            click.secho(f"{path.name}: line {problem.line}: {problem.kind} {problem.value}".rstrip(), fg="red", err=True)
        sys.exit(1)
    commit()
    click.echo(f"enterprise data imported: {batch.rows} records, years {', '.join(map(str, batch.years)) or '-'}")


@benefits_group.command("match")
@click.option("--year", type=int, help="The data year (default: the latest imported).")
def match_command(year: int | None) -> None:
    """Offer every 免申即享 benefit of the catalog to the eligible enterprises (idempotent)."""
    from onestop.benefits.operations import match
    from onestop.catalog.operations import bundle_of, current_versions

    for version in current_versions():
        bundle = bundle_of(version)
        if bundle.intake != "offer":
            continue
        report = match(version, Actor.system(), year)
        commit()
        if report.year is None:
            click.echo(f"{bundle.code}: no enterprise data imported")
            continue
        click.echo(f"{bundle.code} {report.year}: {report.examined} enterprises, {len(report.offered)} offered now "
                   f"({report.without_account} without an account yet), {report.already} offered before, "
                   f"{len(report.not_eligible)} not eligible")
        for code, failed in sorted(report.not_eligible.items()):
            click.echo(f"  not eligible {code}: {', '.join(failed)}")
