"""`flask onestop supervision backfill`: roll up applications that ended before the roll-ups existed."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from onestop.core.jobs import commit

group = AppGroup("supervision", help="The auditors' workspace (效能监察).")


@group.command("backfill")
def backfill_command() -> None:
    """Write the timing roll-ups of every ended application that has none yet."""
    from onestop.supervision.rollup import backfill

    done = backfill()
    commit()
    click.echo(f"{done} applications rolled up")
