"""`flask onestop ...`: catalog, calendar, credit list, demo data, audit verification."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from onestop.accounts.models import Department, StaffRoleName, User, UserKind
from onestop.accounts.operations import create_staff, register_enterprise, register_person
from onestop.audit.operations import verify_chain
from onestop.catalog.operations import sync_catalog
from onestop.clocks.operations import seed_from_chinesecalendar
from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.profiles.operations import share_fact
from workflows.catalog.schema import Catalog, CatalogError, TimeLimit, load_catalog

group = AppGroup("onestop", help="onestop administration.")


@group.group("catalog")
def catalog_group() -> None:
    """The bundle catalog (workflows/bundles/*.yaml)."""


def _load_or_exit(bundles: Path | None = None) -> Catalog:
    try:
        return load_catalog(bundles) if bundles else load_catalog()
    except CatalogError as exc:
        click.secho(f"The catalog has {len(exc.problems)} problem(s):", fg="red", err=True)
        for line in exc.problems:
            click.echo(f"  {line}", err=True)
        sys.exit(1)


def _limit(limit: TimeLimit) -> str:
    unit = {"working_days": "个工作日", "natural_days": "日", "working_hours": "个工作小时", "minutes": "分钟"}
    return f"{format(limit.amount.normalize(), 'f')}{unit[limit.unit.value]}"


@catalog_group.command("check")
@click.option("--bundles", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A folder of bundle files to check instead of workflows/bundles.")
def catalog_check(bundles: Path | None) -> None:
    """Validate every bundle file and print its items, departments and limits."""
    catalog = _load_or_exit(bundles)
    for bundle in catalog.bundles:
        click.secho(f"{bundle.name.zh} ({bundle.code}) v{bundle.version} — {bundle.audience}, "
                    f"promised {_limit(bundle.guide.promised_limit)}", bold=True)
        for item in bundle.items:
            dept = catalog.department(item.department).name.zh
            extra = []
            if item.requires:
                extra.append("前置: " + ", ".join(item.requires))
            if item.condition:
                extra.append("condition: " + ", ".join(sorted(item.condition.fields())))
            if item.modes != ["ordinary"]:
                extra.append("modes: " + ", ".join(m.value for m in item.modes))
            click.echo(f"  - {item.name.zh} [{item.code}] {dept}: 承诺 {_limit(item.limit)} / "
                       f"法定 {_limit(item.statutory_limit)}" + (f"  ({'; '.join(extra)})" if extra else ""))
    click.secho(f"OK: {len(catalog.bundles)} bundles, {len(catalog.departments)} departments", fg="green")


@catalog_group.command("load")
def catalog_load() -> None:
    """Load departments and new bundle versions into the database."""
    catalog = _load_or_exit()
    try:
        changes = sync_catalog(catalog)
    except CatalogError as exc:
        db.session.rollback()
        for line in exc.problems:
            click.secho(line, fg="red", err=True)
        sys.exit(1)
    commit()
    for line in changes or ["catalog unchanged"]:
        click.echo(line)


@group.group("calendar")
def calendar_group() -> None:
    """The working-day calendar."""


@calendar_group.command("status")
def calendar_status() -> None:
    """Which years are loaded; warns when this or next year's arrangement is missing."""
    from onestop.clocks.operations import year_status
    from onestop.core.clock import local_now

    for row in year_status(local_now().date()):
        state = f"loaded ({row['source']})" if row["loaded"] else "NOT LOADED: due dates in it are provisional"
        click.secho(f"{row['year']}: {state}", fg="red" if row["warn"] else None)


@calendar_group.command("load-year")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def calendar_load_year(path: Path) -> None:
    """Load a year's official arrangement from a YAML file; provisional due dates are recomputed."""
    from onestop.audit.operations import Actor
    from onestop.clocks.operations import CalendarError, load_year, parse_year_file

    try:
        year, holidays, makeup, source = parse_year_file(path.read_text(encoding="utf-8"))
        changed = load_year(year, holidays, makeup, source, Actor.system())
    except CalendarError as exc:
        db.session.rollback()
        click.secho(f"{path.name}: {exc}", fg="red", err=True)
        sys.exit(1)
    commit()
    click.echo(f"{year} loaded: {len(holidays)} holidays, {len(makeup)} make-up workdays; "
               f"{changed} due dates recomputed")


@calendar_group.command("seed")
def calendar_seed() -> None:
    """Load every year chinesecalendar knows and the table lacks."""
    years = seed_from_chinesecalendar()
    commit()
    click.echo(f"loaded years: {', '.join(map(str, years))}" if years else "calendar unchanged")


DEMO_PEOPLE = [
    # username, name, id number (valid check digits), phone
    ("zhangsan", "张三", "410105199003070018", "13800000001"),
]
DEMO_ENTERPRISE = ("hnfood", "91410100MA44F7XH8K", "郑州豫味餐饮管理有限公司", "李明", "郑州市金水区花园路18号",
                   "王芳", "410105198805120027", "13800000002")
DEMO_STAFF_DEPARTMENTS = ["samr", "psb", "tax", "hrss", "hpf", "bank", "fire", "urban", "water", "health", "medins",
                          "cdc", "finance"]  # finance: pays 免申即享 benefits (稳岗返还)
# What other registers would share about the demo applicants (一人一档 / 一企一档), with its source.
DEMO_PERSON_FACTS = [("person.hukou_address", "郑州市金水区经三路25号", "population_register"),
                     ("person.spouse_name", "李娜", "marriage_register"),
                     ("person.spouse_id_number", "410105199106150045", "marriage_register")]
DEMO_ENTERPRISE_FACTS = [("enterprise.type", "llc", "market_register")]


@group.group("credit")
def credit_group() -> None:
    """The credit list that instant approval (秒批) checks."""


@credit_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def credit_import(path: Path) -> None:
    """Replace the credit list with a CSV file (code,name,status,open_penalties), all or nothing."""
    from onestop.audit.operations import Actor
    from onestop.instant.operations import CreditListError, import_credit_list

    try:
        batch = import_credit_list(path.read_bytes(), path.name, Actor.system())
    except CreditListError as exc:
        db.session.rollback()
        for problem in exc.problems:
            click.secho(f"{path.name}: line {problem.line}: {problem.kind} {problem.value}".rstrip(), fg="red", err=True)
        sys.exit(1)
    commit()
    click.echo(f"credit list imported: {batch.rows} subjects")


@group.command("demo")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the demo passwords are written (default: instance/demo-accounts.txt).")
def demo(password_file: Path | None) -> None:
    """Catalog, calendar and one demo account per role. Passwords are printed on first run only."""
    catalog = _load_or_exit()
    sync_catalog(catalog)
    seed_from_chinesecalendar()
    from onestop.certificates.cli import init_pki  # the departments' seals, so results can be issued at once

    if current_app.config["ONESTOP_ENV"] != "production" and init_pki():
        click.echo(f"Development PKI (seal certificates) created in {current_app.config['ONESTOP_PKI_DIR']}")
    db.session.flush()
    if db.session.scalar(select(User.id).limit(1)) is not None:
        commit()
        path = password_file or Path(current_app.instance_path) / "demo-accounts.txt"
        click.echo(f"Demo accounts exist already; their passwords are in {path}" if path.exists()
                   else "Demo accounts exist already.")
        return
    accounts: list[tuple[str, str, str]] = []

    def password() -> str:
        return secrets.token_urlsafe(9)

    for username, name, id_number, phone in DEMO_PEOPLE:
        pw = password()
        user = register_person(username=username, password=pw, name=name, id_number=id_number, phone=phone,
                               email=f"{username}@example.cn", address="郑州市金水区经三路25号")
        user.prefill_consent_at = now()
        for key, value, source in DEMO_PERSON_FACTS:
            share_fact(user, key, value, source)
        accounts.append((username, pw, "自然人 / citizen"))
    uname, code, ename, rep, addr, op_name, op_id, phone = DEMO_ENTERPRISE
    pw = password()
    user = register_enterprise(username=uname, password=pw, credit_code=code, enterprise_name=ename,
                               legal_representative=rep, enterprise_address=addr, operator_name=op_name,
                               operator_id_number=op_id, phone=phone, email=f"{uname}@example.cn")
    user.prefill_consent_at = now()
    for key, value, source in DEMO_ENTERPRISE_FACTS:
        share_fact(user.enterprise, key, value, source)
    accounts.append((uname, pw, "企业经办人 / enterprise operator"))
    departments = {d.code: d for d in db.session.scalars(select(Department))}
    for code in DEMO_STAFF_DEPARTMENTS:
        dept = departments[code]
        pw = password()
        create_staff(username=f"{code}_reviewer", password=pw, name=f"{dept.name_zh}审批员",
                     roles=[(dept, StaffRoleName.REVIEWER)], email=f"{code}_reviewer@example.gov.cn")
        accounts.append((f"{code}_reviewer", pw, f"审批人员 / reviewer, {dept.name_zh}"))
    dept = departments["samr"]
    pw = password()
    create_staff(username="samr_head", password=pw, name="市场监管科室负责人",
                 roles=[(dept, StaffRoleName.HEAD), (dept, StaffRoleName.REVIEWER)], email="samr_head@example.gov.cn")
    accounts.append(("samr_head", pw, f"科室负责人 / department head, {dept.name_zh}"))
    pw = password()
    create_staff(username="window_clerk", password=pw, name="综合窗口受理员", kind=UserKind.WINDOW,
                 email="window_clerk@example.gov.cn")
    accounts.append(("window_clerk", pw, f"综合窗口 / window clerk, {current_app.config['ONESTOP_SERVICE_HALL']}"))
    for username, kind, label in (("auditor", UserKind.AUDITOR, "效能监察 / auditor"),
                                  ("admin", UserKind.ADMIN, "管理员 / administrator")):
        pw = password()
        create_staff(username=username, password=pw, name=label.split(" / ")[0], kind=kind)
        accounts.append((username, pw, label))
    commit()
    from onestop.demo import create_samples

    samples = create_samples(db.session.scalar(select(User).where(User.username == DEMO_PEOPLE[0][0])),
                             db.session.scalar(select(User).where(User.username == DEMO_ENTERPRISE[0])))
    lines = [f"{u:<16} {p:<14} {label}" for u, p, label in accounts]
    path = password_file or Path(current_app.instance_path) / "demo-accounts.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("username         password       role\n" + "\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    click.echo("Demo accounts (also saved to " + str(path) + "):")
    click.echo("username         password       role")
    for line in lines:
        click.echo(line)
    click.echo("Sample applications (reference, bundle, applicant, state):")
    for line in samples:
        click.echo("  " + line)


@group.command("sweep")
def sweep_command() -> None:
    """Deemed actions, expired supplements and 容缺 promises, warnings and escalation (idempotent)."""
    from onestop.jobs.sweep import run_sweep

    report = run_sweep()
    click.echo(f"sweep: {report.steps_examined} steps examined, {len(report.actions)} actions, "
               f"{len(report.alerts)} alerts")
    for line in report.actions + report.alerts:
        click.echo(f"  {line}")


@group.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every link of the chain; report the first broken event."""
    report = verify_chain()
    if report.ok:
        click.secho(f"audit trail intact: {report.checked} events", fg="green")
        return
    click.secho(f"audit trail broken at event {report.broken_at_seq}: {report.problem} "
                f"({report.checked} events verified before it)", fg="red", err=True)
    sys.exit(1)


def init_app(app: Flask) -> None:
    from onestop.benefits.cli import benefits_group
    from onestop.supervision.cli import group as supervision_group

    group.add_command(benefits_group)  # flask onestop benefits import|match
    group.add_command(supervision_group)
    app.cli.add_command(group)
