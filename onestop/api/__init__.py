"""The machine interface, /api/v1: an OpenAPI 3 document (flask-smorest), bearer tokens with scopes,
per-token rate limits, one JSON error envelope. Serves the unified intake system, the mobile app, the
hotline and departments' own systems; the same operations as the web pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from flask_babel import refresh
from flask_smorest import Api
from werkzeug.routing import BaseConverter, ValidationError

from onestop.api.schemas import ErrorEnvelope

API_VERSION = "1.0"


class OnestopApi(Api):  # type: ignore[misc]
    """flask-smorest with our error envelope: errors are rendered by onestop.core.errors for the whole
    app (HTML pages for people, the envelope under /api), so this registers no handler of its own."""

    ERROR_SCHEMA = ErrorEnvelope

    def _register_error_handlers(self) -> None:
        pass


_blueprints_ready = False
MAX_ID = 2**31 - 1


class IdConverter(BaseConverter):
    """A row id in a path: digits that fit the database's integer (anything else is simply not found)."""

    regex = r"\d{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def _before() -> None:
    _refuse_nul()
    _language()


def _refuse_nul() -> None:
    """NUL characters are never meaningful here, and PostgreSQL refuses them in text: a clear 400, not a
    database error."""
    from onestop.api.errors import fail

    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        fail("bad_request", {"_": ["NUL characters are not accepted."]})
    if request.mimetype == "application/json" and b"\\u0000" in request.get_data(cache=True):
        fail("bad_request", {"_": ["NUL characters are not accepted."]})


def _language() -> None:
    """Accept-Language picks the language of field messages (`details`); Chinese by default."""
    wanted = request.accept_languages.best_match(["zh", "zh-CN", "en"], default="zh") or "zh"
    if request.args.get("lang") not in ("zh", "en"):
        g.lang = "en" if wanted.startswith("en") else "zh"
        refresh()


def init_app(app: Flask) -> None:
    from onestop.api import resources, views
    from onestop.api.auth import rate_limit, rate_limit_key
    from onestop.extensions import csrf, limiter

    app.config.setdefault("API_TITLE", "onestop 高效办成一件事 API")
    app.config.setdefault("API_VERSION", API_VERSION)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Bearer tokens (personal: under your account, 'API tokens'; system: from the "
                                "administrator). Errors: {\"error\": {\"code\", \"message\", \"message_en\"}}."},
        "servers": [{"url": "/"}],
    })
    global _blueprints_ready
    if not _blueprints_ready:  # module-level blueprints: set up once per process, registered per app
        for bp in resources.BLUEPRINTS:
            bp.before_request(_before)
            csrf.exempt(bp)  # bearer tokens only, never cookies: there is no session to forge requests with
            limiter.limit(rate_limit, key_func=rate_limit_key)(bp)
        _blueprints_ready = True
    app.url_map.converters["id"] = IdConverter
    api = OnestopApi(app)
    api.register_converter(IdConverter, lambda _converter: {"type": "integer", "minimum": 1, "maximum": MAX_ID})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for bp in resources.BLUEPRINTS:
        api.register_blueprint(bp)
    app.extensions["onestop_api"] = api
    views.init_app(app)


def spec_dict() -> dict[str, Any]:
    from flask import current_app

    return current_app.extensions["onestop_api"].spec.to_dict()  # type: ignore[no-any-return]
