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
from ..models import ROLES, ApiToken, LoginThrottle, RoleChange, User
from . import ServiceError, audit, sessions, shown

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


# The most used passwords that the length-and-kinds rule below would still let through (from the public lists of
# leaked passwords, Korean keyboards included). Compared case-insensitively.
COMMON_PASSWORDS = frozenset({
    "password1", "password12", "password123", "password1234", "passw0rd", "p@ssw0rd", "p@ssword", "p@ssword1",
    "qwerty123", "qwerty1234", "qwer1234", "qwer1234!", "qwerty12", "1q2w3e4r", "1q2w3e4r!", "1q2w3e4r5t",
    "1qaz2wsx", "q1w2e3r4", "q1w2e3r4t5", "a1234567", "a12345678", "abcd1234", "abcd1234!", "abc12345",
    "abc123456", "asdf1234", "zxcv1234", "iloveyou1", "admin123", "admin1234", "admin12345", "welcome1",
    "letmein1", "test1234", "1234qwer", "12345qwert", "1234567890", "0123456789", "0987654321", "1111111111",
    "0000000000", "1234512345", "qwertyuiop", "asdfghjkl;", "aaaaaaaaaa", "abcdefghij", "tracker123",
    "tracker1234", "corona19", "covid19!", "covid-19",
})
PASSWORD_MAX = 128  # a longer one is a paste gone wrong, and only costs hashing time


def _kinds(password: str) -> int:
    """How many of letters (Hangul included), digits and symbols the password mixes."""
    return (any(c.isalpha() for c in password) + any(c.isdigit() for c in password)
            + any(not c.isalnum() for c in password))


def check_password_rule(password: str | None) -> None:
    """The 해설서's example rule as a minimum: 8 characters or more mixing two of letters, digits and symbols, or 10 or
    more of one kind; a password on the common list is refused too. Used wherever a password is set."""
    password = password or ""
    problem = None
    if len(password) > PASSWORD_MAX:
        problem = _("비밀번호는 %(n)s자 이하여야 합니다.", n=PASSWORD_MAX)
    elif not (len(password) >= 10 or (len(password) >= 8 and _kinds(password) >= 2)):
        problem = _("비밀번호는 영문자·숫자·특수문자 중 두 종류 이상을 섞어 8자 이상으로, 또는 한 종류로 10자 이상으로 "
                    "정하세요.")
    elif password.lower() in COMMON_PASSWORDS or len(set(password)) < 3:
        problem = _("너무 흔하거나 단순한 비밀번호입니다. 다른 비밀번호를 정하세요.")
    if problem:
        raise ServiceError(problem, errors={"password": problem})


def _record_roles(user: User, before: str | None, after: str | None, by=None) -> None:
    """Keep a grant or removal of a role. A role counts only while the user is active, so a deactivation removes
    it and a reactivation grants it again."""
    by_id = getattr(by, "id", None)
    if before == after:
        return
    if before:
        db.session.add(RoleChange(user_id=user.id, role=before, change="remove", by_id=by_id))
    if after:
        db.session.add(RoleChange(user_id=user.id, role=after, change="grant", by_id=by_id))


def role_history_stmt(user: User):
    """The grants and removals of the user's roles, newest first."""
    return (select(RoleChange).where(RoleChange.user_id == user.id)
            .order_by(RoleChange.at.desc(), RoleChange.id.desc()))


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
    check_password_rule(password)
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise ServiceError(_("이미 등록된 이메일입니다: %(email)s", email=email))
    user = User(email=email, name=name.strip(), role=role, password_hash=_hash(password))
    db.session.add(user)
    db.session.flush()
    audit.record(by, "user", user.id, "create", None, {"email": email, "name": user.name, "role": role})
    _record_roles(user, None, role, by)
    return user


def update_user(user: User, role: str, active: bool, by=None) -> None:
    """Change a user's role or deactivate them; an admin cannot lock themselves out."""
    _check_role(role)
    if by is not None and user.id == by.id and (role != "admin" or not active):
        raise ServiceError(_("자신의 관리자 권한을 해제하거나 비활성화할 수 없습니다."))
    before = {"role": user.role, "active": user.active}
    _record_roles(user, user.role if user.active else None, role if active else None, by)
    user.role, user.active = role, active
    if before["active"] and not active:
        sessions.end_all(user.id, "deactivated")
    audit.record(by, "user", user.id, "update", before, {"role": role, "active": active})


def _set_password(user: User, password: str, must_change: bool, reason: str) -> None:
    user.password_hash = _hash(password)
    user.must_change_password = must_change
    sessions.end_all(user.id, reason)


def change_password(user: User, old: str, new: str) -> None:
    """The user's own change, given the current password. Every session and API token of theirs ends; the caller
    starts a new session for the browser that asked."""
    if not check_password_hash(user.password_hash, old or ""):
        raise ServiceError(_("지금 비밀번호가 올바르지 않습니다."), status=401)
    check_password_rule(new)
    if check_password_hash(user.password_hash, new):
        raise ServiceError(_("새 비밀번호가 지금 비밀번호와 같습니다. 다른 비밀번호를 정하세요."))
    _set_password(user, new, False, "password")
    audit.record(user, "user", user.id, "password", None, None)


def reset_password(user: User, new: str, by=None) -> None:
    """An admin sets a temporary password: the user's sessions and tokens end, and they must choose their own at
    the next login."""
    check_password_rule(new)
    _set_password(user, new, True, "reset")
    audit.record(by, "user", user.id, "reset_password", None, None)


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
