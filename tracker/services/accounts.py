"""Users, roles, API tokens and the slowing-down of repeated failed logins."""
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock
from ..addresses import clean_address
from ..auth import token_hash
from ..extensions import db
from ..models import ROLES, ApiToken, LoginThrottle, User
from . import ServiceError, audit, shown

MAX_DELAY = 15 * 60
ADDRESS_MEMORY = timedelta(hours=1)
# Checked when the e-mail is unknown, so that a wrong address takes as long as a wrong password: one per hash
# method, made on first use.
_DUMMY_HASHES: dict[str, str] = {}


def _hash(password: str) -> str:
    """A salted hash with the configured method (scrypt unless the test suite asks for a cheap one)."""
    return generate_password_hash(password, method=current_app.config["TRACKER_PASSWORD_HASH"])


def _dummy_hash() -> str:
    method = current_app.config["TRACKER_PASSWORD_HASH"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = _hash("not-a-password")
    return _DUMMY_HASHES[method]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ServiceError(_("역할은 admin, lead, inspector 중 하나여야 합니다: '%(role)s'", role=role))


def create_user(email: str, name: str, role: str, password: str, by=None) -> User:
    """A new active user with a hashed password."""
    raw_email = email
    email = clean_address(email)
    if email is None:
        raise ServiceError(_("이메일 주소가 올바르지 않습니다: '%(email)s'", email=shown(raw_email)))
    if not (name or "").strip():
        raise ServiceError(_("이름을 입력하세요."))
    _check_role(role)
    if len(password or "") < 8:
        raise ServiceError(_("비밀번호는 8자 이상이어야 합니다."))
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise ServiceError(_("이미 등록된 이메일입니다: %(email)s", email=email))
    user = User(email=email, name=name.strip(), role=role, password_hash=_hash(password))
    db.session.add(user)
    db.session.flush()
    audit.record(by, "user", user.id, "create", None, {"email": email, "name": user.name, "role": role})
    return user


def update_user(user: User, role: str, active: bool, by=None) -> None:
    """Change a user's role or deactivate them; an admin cannot lock themselves out."""
    _check_role(role)
    if by is not None and user.id == by.id and (role != "admin" or not active):
        raise ServiceError(_("자신의 관리자 권한을 해제하거나 비활성화할 수 없습니다."))
    before = {"role": user.role, "active": user.active}
    user.role, user.active = role, active
    audit.record(by, "user", user.id, "update", before, {"role": role, "active": active})


def find_user(email: str) -> User | None:
    """The user with this e-mail, case-insensitively."""
    return db.session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))


def create_token(user: User) -> str:
    """A new API token; only its hash is stored, so the caller must show it now."""
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=token_hash(token)))
    db.session.flush()
    return token


ADDRESS_PREFIX = "address|"


def address_key(address: str | None) -> str:
    """The throttle key of a client address: every e-mail tried from it counts there too."""
    return f"{ADDRESS_PREFIX}{address}"


def _delay_for(key: str, failures: int) -> int:
    # An address stands for many people (an office behind one router), so it is allowed more failures than one
    # e-mail is before it is slowed down.
    free = current_app.config["TRACKER_LOGIN_FREE_FAILURES_PER_ADDRESS" if key.startswith(ADDRESS_PREFIX)
                              else "TRACKER_LOGIN_FREE_FAILURES"]
    if failures < free:
        return 0
    return min(MAX_DELAY, 2 ** (failures - free + 1))


def login_wait_seconds(key: str) -> int:
    """Seconds the caller must still wait before another try, after repeated failures."""
    row = db.session.get(LoginThrottle, key)
    if not row:
        return 0
    ready_at = row.last_failure_at + timedelta(seconds=_delay_for(key, row.failures))
    return max(0, int((ready_at - clock.now()).total_seconds() + 0.999))


def authenticate(email: str, password: str, key: str, address: str | None = None) -> User:
    """The user for these credentials. Refused: 429 while repeated failures must wait (of this e-mail from this
    address, or of any e-mail from the address), 401 for wrong credentials, which the caller counts with
    record_failed_login for both keys (outside the refused request's transaction)."""
    wait = max(login_wait_seconds(key), login_wait_seconds(address_key(address)) if address is not None else 0)
    if wait:
        raise ServiceError(_("로그인 실패가 반복되었습니다. %(n)s초 후에 다시 시도하세요.", n=wait), status=429)
    user = find_user(email)
    good = check_password_hash(user.password_hash if user else _dummy_hash(), password or "")
    if user and user.active and good:
        db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
        return user
    raise ServiceError(_("이메일 또는 비밀번호가 올바르지 않습니다."), status=401)


def record_failed_login(key: str) -> None:
    """Count one more failed login under a key (an e-mail and address, or an address): the next tries are slowed
    down. An address's count starts again after an hour without failures, so that an office's typos never add up."""
    row = db.session.get(LoginThrottle, key) or LoginThrottle(key=key, failures=0)
    if key.startswith(ADDRESS_PREFIX) and row.last_failure_at and clock.now() - row.last_failure_at > ADDRESS_MEMORY:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = clock.now()
    db.session.add(row)


def users_stmt():
    """All users, by role then name."""
    return select(User).order_by(User.role, User.name)
