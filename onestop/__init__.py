"""onestop: one-stop online application and approval (高效办成一件事)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from onestop.config import PROJECT_ROOT, load_settings


def create_app(config: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Flask:
    """Build the application. `config` overrides settings (tests); `environ` replaces os.environ."""
    settings = load_settings(environ)
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings.flask_config())
    if config:
        app.config.update(config)
    Path(app.config["ONESTOP_UPLOAD_DIR"]).mkdir(parents=True, exist_ok=True)

    from onestop import extensions as ext

    ext.db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from sqlalchemy import event

        from onestop.config import sqlite_pragmas

        with app.app_context():
            event.listen(ext.db.engine, "connect", sqlite_pragmas)
    ext.migrate.init_app(app, ext.db, directory=str(PROJECT_ROOT / "migrations"))
    ext.csrf.init_app(app)
    ext.limiter.init_app(app)

    from onestop.core import i18n, security

    ext.babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)
    security.init_app(app)

    # Importing the models registers them on the metadata (for migrations and the model check).
    from onestop import models  # noqa: F401
    from onestop.accounts import views as accounts_views
    from onestop.admin import views as admin_views
    from onestop.applications import views as applications_views
    from onestop.benefits import views as benefits_views
    from onestop.catalog import views as catalog_views
    from onestop.core import errors, templating
    from onestop.deliveries import views as deliveries_views
    from onestop.drafts import views as drafts_views
    from onestop.instant import views as instant_views
    from onestop.jobs import notifications, sweep  # noqa: F401  (registers the jobs)
    from onestop.messaging import views as messaging_views
    from onestop.ratings import views as ratings_views
    from onestop.reviews import views as reviews_views
    from onestop.supervision import views as supervision_views
    from onestop.window import views as window_views

    accounts_views.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    app.register_blueprint(catalog_views.bp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(applications_views.bp)
    app.register_blueprint(reviews_views.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(instant_views.bp)
    app.register_blueprint(drafts_views.bp)
    app.register_blueprint(ratings_views.bp)
    app.register_blueprint(deliveries_views.bp)
    app.register_blueprint(messaging_views.bp)
    app.register_blueprint(window_views.bp)
    app.register_blueprint(window_views.public_bp)
    app.register_blueprint(benefits_views.bp)
    app.register_blueprint(supervision_views.bp)

    from onestop import api, certificates, cli
    from onestop.webhooks import views as webhooks_views

    api.init_app(app)
    app.register_blueprint(webhooks_views.bp)
    certificates.init_app(app)
    cli.init_app(app)
    _check_catalog(app)
    return app


def _check_catalog(app: Flask) -> None:
    """The bundle files are validated at start-up: a broken file stops the app with its problems."""
    from workflows.catalog.schema import CatalogError, load_catalog

    try:
        app.extensions["onestop_catalog"] = load_catalog()
    except CatalogError as exc:
        raise CatalogError([*exc.problems, "(run `flask onestop catalog check` after fixing them)"]) from None
