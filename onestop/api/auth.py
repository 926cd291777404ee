"""Bearer-token authentication and scopes for /api/v1. No cookies: a browser session never
authenticates an API call, which is why the API needs no CSRF token."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint

from onestop.api.errors import fail
from onestop.api.models import ApiToken
from onestop.api.tokens import TOKEN_PREFIX, TokenError, authenticate


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def rate_limit_key() -> str:
    """Per token (its public prefix) when one is sent, per address otherwise."""
    raw = bearer()
    if raw and raw.startswith(TOKEN_PREFIX) and raw.count("_") >= 2:
        return "token:" + raw.split("_")[1][:16]
    return "ip:" + (get_remote_address() or "")


def rate_limit() -> str:
    return str(current_app.config.get("ONESTOP_API_RATE_LIMIT", "600 per minute"))


def current_token() -> ApiToken:
    token: ApiToken = g.api_token
    return token


def _authenticate(scope: str) -> ApiToken:
    raw = bearer()
    if raw is None:
        fail("unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="onestop"'})
    try:
        token = authenticate(raw, request.remote_addr)
    except TokenError as exc:
        fail(exc.code, headers={"WWW-Authenticate": 'Bearer realm="onestop", error="invalid_token"'})
    if not token.has_scope(scope):
        fail("insufficient_scope", {"required": scope, "granted": token.scopes},
             headers={"WWW-Authenticate": f'Bearer realm="onestop", error="insufficient_scope", scope="{scope}"'})
    g.api_token = token
    # Operations and the audit trail read the acting user from Flask-Login: the token's account, for
    # this request only (nothing is written to a session).
    g._login_user = token.user
    return token


def requires(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _authenticate(scope)
            return view(*args, **kwargs)

        wrapper._api_scope = scope  # type: ignore[attr-defined]
        return Blueprint.doc(security=[{"bearerAuth": []}],
                             description=f"Scope: `{scope}`.")(wrapper)  # type: ignore[no-any-return]

    return decorate
