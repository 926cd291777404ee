"""Browser end-to-end tests: the real app served over HTTP, driven by Debian's Chromium through Playwright.

Every test gets its own live server on a copy of the migrated and seeded SQLite template, with CSRF on (the
browser submits the real tokens), and the accounts of the first matter: one enterprise operator and
reviewers of market regulation (samr), fire (fire) and water (water). The browser always runs against
SQLite, even when TEST_DATABASE_URL is set.

Screenshots go to test-artifacts/e2e/<name>.png.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import make_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
}
E2E_DIR = Path(__file__).resolve().parent
ACTION_TIMEOUT_MS = 10_000
# The app has no favicon; Chromium asks for one on every first page and logs the 404 as a console error.
IGNORED_404 = ("/favicon.ico",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@dataclass
class LiveServer:
    url: str
    app: Flask
    operator: str
    reviewers: dict[str, str] = field(default_factory=dict)  # department code -> username
    password: str = ""
    profile: dict[str, Any] = field(default_factory=dict)  # the operator's profile, as the form prefills it

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@pytest.fixture
def live_server(templates: dict[str, str], tmp_path: Path) -> Iterator[LiveServer]:
    from werkzeug.serving import make_server

    db_path = tmp_path / "e2e.sqlite3"
    shutil.copyfile(templates["sqlite"], db_path)
    app = make_app(f"sqlite:///{db_path}", tmp_path / "instance", WTF_CSRF_ENABLED=True)
    assert app.config["WTF_CSRF_ENABLED"], "the browser tests submit real CSRF tokens"

    from onestop.core.jobs import commit
    from onestop.extensions import db
    from tests.factories import PASSWORD, make_operator, make_reviewer

    with app.app_context():
        operator = make_operator(username="e2e_operator")
        reviewers = {code: make_reviewer(code, username=f"e2e_{code}").username for code in ("samr", "fire", "water")}
        operator_name = operator.username
        profile = {
            "enterprise_name": operator.enterprise.name, "credit_code": operator.enterprise.credit_code,
            "legal_rep_name": operator.enterprise.legal_representative, "operator_name": operator.name,
            "operator_id": operator.id_number, "operator_phone": operator.phone,
            "shop_address": operator.enterprise.address,
        }
        commit()
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, operator=operator_name,
                         reviewers=reviewers, password=PASSWORD, profile=profile)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests run in Debian's Chromium. Install it with "
            "`make system-deps-test` (or `apt-get install chromium`); `playwright install` is not used.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception as exc:
        playwright.stop()
        pytest.fail(f"Chromium at {CHROMIUM} could not be started by Playwright: {exc}", pytrace=False)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """new_page("desktop" | "phone") -> a Page in a fresh browser context (own cookies), closed after the test.

    A script error, a console error (a CSP violation is one) or a server error (5xx) on any page fails the
    test at teardown, with the list of what went wrong.
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def watch(page: Any) -> None:
        page.on("pageerror", lambda exc: problems.append(f"script error on {page.url}: {exc}"))
        page.on("console", lambda msg: problems.append(
            f"console error on {page.url}: {msg.text} ({msg.location.get('url', '')})")
            if msg.type == "error" and not msg.location.get("url", "").endswith(IGNORED_404) else None)
        page.on("response", lambda r: problems.append(f"HTTP {r.status} for {r.request.method} {r.url}")
                if r.status >= 500 else None)

    def factory(device: str = "desktop") -> Any:
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **DEVICES[device])
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        context.on("page", watch)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()
    if problems:
        pytest.fail("the browser saw problems:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    """A desktop page (1280x900)."""
    return new_page("desktop")


@pytest.fixture
def phone_page(new_page: Callable[..., Any]) -> Any:
    """A phone page (390x844, mobile, 2x)."""
    return new_page("phone")


@pytest.fixture
def shot(artifacts: Path) -> Callable[[Any, str], Path]:
    """shot(page, name): a full-page screenshot saved as test-artifacts/e2e/<name>.png."""
    folder = artifacts / "e2e"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
