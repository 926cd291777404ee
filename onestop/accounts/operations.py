"""Account mutations: registration, staff set-up, login with lock-out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from onestop.accounts.models import Department, Enterprise, StaffRole, StaffRoleName, User, UserKind
from onestop.audit.operations import Actor, record
from onestop.core.clock import now
from onestop.core.security import hash_password, verify_password
from onestop.extensions import db
from workflows.identity import mask_resident_id

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class AccountError(Exception):
    """A refusal with a stable code; views word it in the user's language."""

    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def _check_unique(username: str, id_number: str | None) -> None:
    if db.session.scalar(select(func.count()).select_from(User).where(User.username == username)):
        raise AccountError("username_taken", "username")
    if id_number and db.session.scalar(select(func.count()).select_from(User).where(User.id_number == id_number)):
        raise AccountError("id_number_taken", "id_number")


def register_person(
    *, username: str, password: str, name: str, id_number: str, phone: str | None = None,
    email: str | None = None, address: str | None = None, actor: Actor | None = None,
) -> User:
    id_number = id_number.upper()
    _check_unique(username, id_number)
    user = User(
        username=username, password_hash=hash_password(password), kind=UserKind.PERSON, name=name,
        id_number=id_number, phone=phone, email=email, address=address, created_at=now(),
    )
    db.session.add(user)
    db.session.flush()
    record("account:registered", "user", user.id, {"kind": "person", "id_number": mask_resident_id(id_number)},
           actor=actor or Actor(user.id, "person"))
    return user


def register_enterprise(
    *, username: str, password: str, credit_code: str, enterprise_name: str, legal_representative: str,
    enterprise_address: str | None, operator_name: str, operator_id_number: str, phone: str | None = None,
    email: str | None = None, actor: Actor | None = None,
) -> User:
    """An enterprise account is its operator (经办人); a second operator joins the same enterprise."""
    credit_code, operator_id_number = credit_code.upper(), operator_id_number.upper()
    _check_unique(username, operator_id_number)
    enterprise = db.session.scalar(select(Enterprise).where(Enterprise.credit_code == credit_code))
    if enterprise is None:
        enterprise = Enterprise(
            credit_code=credit_code, name=enterprise_name, legal_representative=legal_representative,
            address=enterprise_address, created_at=now(),
        )
        db.session.add(enterprise)
    elif enterprise.name != enterprise_name:
        raise AccountError("enterprise_name_mismatch", "enterprise_name")
    user = User(
        username=username, password_hash=hash_password(password), kind=UserKind.ENTERPRISE,
        name=operator_name, id_number=operator_id_number, phone=phone, email=email, enterprise=enterprise,
        created_at=now(),
    )
    db.session.add(user)
    db.session.flush()
    record("account:registered", "user", user.id,
           {"kind": "enterprise", "credit_code": credit_code, "operator_id": mask_resident_id(operator_id_number)},
           actor=actor or Actor(user.id, "enterprise"))
    return user


def create_staff(
    *, username: str, password: str, name: str, kind: UserKind = UserKind.STAFF,
    roles: list[tuple[Department, StaffRoleName]] = (), actor: Actor | None = None,  # type: ignore[assignment]
    email: str | None = None,
) -> User:
    if kind not in (UserKind.STAFF, UserKind.AUDITOR, UserKind.ADMIN, UserKind.WINDOW):
        raise AccountError("not_a_staff_kind")
    _check_unique(username, None)
    user = User(username=username, password_hash=hash_password(password), kind=kind, name=name, email=email,
                created_at=now())
    for department, role in roles:
        user.staff_roles.append(StaffRole(department=department, role=role))
    db.session.add(user)
    db.session.flush()
    record("account:staff_created", "user", user.id,
           {"kind": str(kind), "roles": [(d.code, str(r)) for d, r in roles]}, actor=actor or Actor.system())
    return user


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    refusal: str | None = None  # "invalid" | "locked" | "disabled"
    locked_minutes: int = 0


def authenticate(username: str, password: str) -> LoginResult:
    """Check a password; five failures in a row lock the account for 15 minutes, whatever is typed."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        # Same answer and similar cost as a wrong password: no probing for account names.
        verify_password(_dummy_hash(), password)
        record("account:login_failed", "user", None, {"username": username[:64], "why": "unknown"})
        return LoginResult(None, "invalid")
    current = now()
    if user.locked_until is not None and user.locked_until > current:
        record("account:login_refused_locked", "user", user.id)
        return LoginResult(None, "locked", _minutes_left(user.locked_until - current))
    if not user.is_active_account:
        record("account:login_refused_disabled", "user", user.id)
        return LoginResult(None, "disabled")
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.failed_logins = 0
            user.locked_until = current + LOCKOUT
            record("account:locked", "user", user.id, {"until": user.locked_until})
            return LoginResult(None, "locked", _minutes_left(LOCKOUT))
        record("account:login_failed", "user", user.id, {"failures": user.failed_logins})
        return LoginResult(None, "invalid")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = current
    record("account:login", "user", user.id, actor=Actor(user.id, user.role_label))
    return LoginResult(user)


def _minutes_left(delta: timedelta) -> int:
    return max(1, -(-int(delta.total_seconds()) // 60))


_dummy: list[str] = []


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(hash_password("not-a-real-password"))
    return _dummy[0]
