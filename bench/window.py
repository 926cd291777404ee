"""The service hall's window: how long a clerk waits for a look-up and for the acceptance slip.

Seeds its own data (--people registered citizens and one window clerk), then:

1. looks each citizen up by ID number with the right name, and again with a wrong one (each look-up
   validated, found, checked against the name, audited and committed): median and p95 per look-up;
2. takes --slips 企业开办 matters in at the window through the portal's draft and submission, then renders
   their acceptance slips (expected completion date, QR code, activation code hashed with argon2's default
   profile, WeasyPrint with the CJK subset): median and p95 per slip and the PDF size.

    .venv/bin/python bench/window.py [--people 2000 --slips 30] [--postgres postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/queue.py would shadow the standard library's queue module: drop this folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONESTOP_ENV", "testing")

from tests.conftest import fresh_pg_database, make_app, migrate_and_seed  # noqa: E402


def _figures(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(f"{label}: median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (n={len(ordered)})")


def _number(i: int) -> str:
    """A distinct valid resident ID number per citizen (the birth date moves every 1,000)."""
    from datetime import date, timedelta

    from workflows.identity import resident_id_check_digit

    born = date(1960, 1, 1) + timedelta(days=i // 1000)
    first17 = f"410105{born:%Y%m%d}{i % 1000:03d}"
    return first17 + resident_id_check_digit(first17)


def run(app, people: int, slips: int) -> None:
    from flask import current_app

    from onestop.accounts.models import UserKind
    from onestop.accounts.operations import create_staff
    from onestop.catalog.operations import bundle_of
    from onestop.core.jobs import commit
    from onestop.drafts.models import Draft
    from onestop.drafts.operations import submit_draft
    from onestop.extensions import db
    from onestop.window.operations import (
        LookUp,
        WindowError,
        issue_activation_code,
        look_up,
        register_walk_in,
        start_intake,
        submitted_at_window,
    )
    from onestop.window.slip import render_slip, slip_values
    from tests.factories import answers_for, make_person, upload

    current_app.config["ONESTOP_ARGON2_PROFILE"] = "fast-insecure-tests-only"  # seeding only
    clerk = create_staff(username="bench_clerk", password="bench password 1", name="综合窗口受理员",
                         kind=UserKind.WINDOW)
    citizens = [(p.id_number, p.name) for p in (make_person(name="张三", id_number=_number(i)) for i in range(people))]
    commit()

    found, refused = [], []
    for number, name in citizens:
        started = time.perf_counter()
        look_up(clerk, "person", number, name)
        commit()
        found.append(time.perf_counter() - started)
        started = time.perf_counter()
        try:
            look_up(clerk, "person", number, "李四")
        except WindowError:
            commit()
        refused.append(time.perf_counter() - started)
    _figures(f"look-up by ID number, found ({people} citizens registered)", found)
    _figures("look-up with a mismatching name (refused, recorded)", refused)

    intakes = []
    for _ in range(slips):
        applicant = register_walk_in(clerk, LookUp("person", _number(people + len(intakes)), "赵六", None),
                                     phone="13800000009")
        intake = start_intake(clerk, applicant, "company_establishment", new_account=True, consent=True,
                              prefill_consent=True, proxy=None, collection="window")
        draft = db.session.get(Draft, intake.draft_id)
        bundle = bundle_of(draft.bundle_version)
        answers = answers_for("company_establishment", applicant, legal_rep_id=applicant.id_number)
        materials = {m.key: upload(applicant, m.key) for m in bundle.materials
                     if not m.held_by_government and m.required}
        result = submit_draft(draft, applicant, answers, materials)
        submitted_at_window(draft, result.application, clerk)
        commit()
        intakes.append(intake.id)
    current_app.config["ONESTOP_ARGON2_PROFILE"] = "default"  # the code is hashed as in production
    from onestop.window.models import WindowIntake

    render_slip(slip_values(db.session.get(WindowIntake, intakes[0]), "ABCDE-FGHJK"))  # warm up the fonts
    times, sizes = [], []
    for intake_id in intakes:
        started = time.perf_counter()
        intake = db.session.get(WindowIntake, intake_id)
        code = issue_activation_code(intake, clerk)
        pdf = render_slip(slip_values(intake, code, None))
        commit()
        times.append(time.perf_counter() - started)
        sizes.append(len(pdf))
    _figures("acceptance slip (activation code + render)", times)
    print(f"slip PDF size: median {statistics.median(sizes) / 1024:.1f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--slips", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a fresh database is created on it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = (fresh_pg_database("onestop_bench_window", args.postgres) if args.postgres
               else f"sqlite:///{tmp}/bench.sqlite3")
        app = make_app(url, Path(tmp) / "instance")
        migrate_and_seed(app)
        with app.app_context():
            print(f"database: {url.split('://')[0]}")
            run(app, args.people, args.slips)


if __name__ == "__main__":
    main()
