"""API tokens: made, checked and revoked. Operations flush and audit, never commit.

A token reads `ost_<prefix>_<secret>`: the prefix (public, shown in lists) finds the row in one indexed
lookup; the stored value is the SHA-256 of the whole token, compared in constant time. 32 random bytes
of secret make a slow hash pointless (nothing to guess), so checking costs microseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from onestop.accounts.models import User, UserKind
from onestop.api.models import SCOPES, ApiToken
from onestop.audit.operations import Actor, record
from onestop.core.clock import now
from onestop.extensions import db

TOKEN_PREFIX = "ost_"  # noqa: S105 - the public start of every token, not a secret
# Writing "last used" on every request would turn each read into a write: once a minute is enough to show.
LAST_USED_GRANULARITY = timedelta(minutes=1)

# What each kind of account may be given: an applicant never decides, a reviewer never applies.
SCOPES_BY_KIND = {
    UserKind.PERSON: {"read", "apply"},
    UserKind.ENTERPRISE: {"read", "apply"},
    UserKind.STAFF: {"read", "decide"},
    UserKind.AUDITOR: {"read", "audit"},
    UserKind.ADMIN: {"read", "audit"},
}


class TokenError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def allowed_scopes(user: User) -> set[str]:
    return set(SCOPES_BY_KIND.get(UserKind(user.kind), set()))


def create_token(user: User, name: str, scopes: Iterable[str], creator: User, *, system_name: str | None = None,
                 expires_at: datetime | None = None) -> NewToken:
    """A personal token (creator is the user) or a system token (an administrator, for `system_name`)."""
    scopes = sorted(set(scopes))
    if not scopes or set(scopes) - set(SCOPES):
        raise TokenError("bad_scopes")
    if set(scopes) - allowed_scopes(user):
        raise TokenError("scope_not_allowed")
    if system_name is not None and creator.kind != UserKind.ADMIN:
        raise TokenError("forbidden")
    if system_name is None and creator.id != user.id:
        raise TokenError("forbidden")
    if not name.strip():
        raise TokenError("name_required")
    prefix = secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(prefix=prefix, secret_sha256=_digest(secret), name=name.strip()[:100],
                     kind="system" if system_name else "personal", system_name=system_name, user_id=user.id,
                     scopes=scopes, created_by_id=creator.id, created_at=now(), expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    record("api:token_created", "api_token", token.id,
           {"prefix": prefix, "kind": token.kind, "scopes": scopes, "user": user.id, "system": system_name},
           actor=Actor(creator.id, creator.role_label))
    return NewToken(token, secret)


def revoke_token(token: ApiToken, by: User) -> None:
    if token.user_id != by.id and token.created_by_id != by.id and by.kind != UserKind.ADMIN:
        raise TokenError("forbidden")
    if token.is_revoked:
        raise TokenError("already_revoked")
    token.revoked_at, token.revoked_by_id = now(), by.id
    record("api:token_revoked", "api_token", token.id, {"prefix": token.prefix},
           actor=Actor(by.id, by.role_label))


def authenticate(raw: str, ip: str | None) -> ApiToken:
    """The token a bearer string names, or TokenError: malformed, unknown, revoked, expired, or its
    account disabled. Last use is written at most once a minute, in its own small UPDATE."""
    parts = raw.split("_")
    if len(parts) < 3 or not raw.startswith(TOKEN_PREFIX):
        raise TokenError("invalid_token")
    prefix = parts[1]
    token = db.session.scalar(select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.prefix == prefix))
    if token is None or not hmac.compare_digest(token.secret_sha256, _digest(raw)):
        raise TokenError("invalid_token")
    current = now()
    if token.is_revoked:
        raise TokenError("token_revoked")
    if token.expires_at is not None and token.expires_at <= current:
        raise TokenError("token_expired")
    if not token.user.is_active:
        raise TokenError("account_disabled")
    if token.last_used_at is None or current - token.last_used_at >= LAST_USED_GRANULARITY:
        db.session.execute(update(ApiToken).where(ApiToken.id == token.id)
                           .values(last_used_at=current, last_used_ip=(ip or "")[:64])
                           .execution_options(synchronize_session=False))
        db.session.commit()
    return token


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == "personal")
                                   .order_by(ApiToken.id.desc())))


def system_tokens() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.kind == "system").order_by(ApiToken.id.desc())))
