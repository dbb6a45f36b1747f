"""Two-factor login (TOTP, RFC 6238) with pyotp, a QR code to enrol, and ten one-time recovery codes."""
import base64
import hashlib
import hmac
import io
import logging
import secrets

import pyotp
import qrcode
import qrcode.image.svg
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from werkzeug.security import check_password_hash

from .. import clock
from ..extensions import db
from ..models import LoginThrottle, RecoveryCode, User
from . import ServiceError, accounts, audit, sessions

log = logging.getLogger(__name__)
RECOVERY_CODES = 10
SEALED = "fernet:"
# A code from the step before or after the current one is accepted too: a phone's clock drifts by seconds.
WINDOW = 1


def required(user: User) -> bool:
    """Whether the user's role must log in with a code (TRACKER_TOTP_REQUIRED)."""
    return user.role in current_app.config["TRACKER_TOTP_REQUIRED"]


def new_secret() -> str:
    """A random base32 secret for enrolment; it is kept only once a code made from it has been entered."""
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    issuer = f"{current_app.config['TRACKER_DISTRICT_NAME']} Tracker"
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code (the same library the sites' QR codes use)."""
    buf = io.BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(buf)
    svg = buf.getvalue().decode()
    return svg[svg.index("<svg"):]  # inline in the page: no XML declaration


def _sealer() -> Fernet:
    """The key that seals TOTP secrets in the database, derived from the app's secret key (HKDF-SHA256): a copy of the
    database alone (a backup, a dump) does not give anyone the codes. Changing TRACKER_SECRET_KEY unseals nothing
    more: those users log in with a recovery code, then turn it off and on again on 내 정보 (or an admin resets it)."""
    secret_key = current_app.config["SECRET_KEY"]
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tracker totp secret").derive(raw)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    """A TOTP secret as it is stored."""
    return SEALED + _sealer().encrypt(secret.encode()).decode("ascii")


def unseal(stored: str) -> str | None:
    """The TOTP secret a stored value holds; None when it was sealed under another secret key."""
    if not stored.startswith(SEALED):
        return stored  # enrolled before secrets were sealed: verify() seals it at its next good code
    try:
        return _sealer().decrypt(stored[len(SEALED):].encode("ascii")).decode()
    except InvalidToken:
        log.warning("a TOTP secret was sealed under another secret key: its user must log in with a recovery code")
        return None


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step whose code this is, within the window, and later than the last one used; else None."""
    code = "".join((code or "").split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(clock.now())
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _code_hash(code: str) -> str:
    return hashlib.sha256("".join((code or "").split()).replace("-", "").lower().encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _n in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits, shown as xxxxx-xxxxx; one try in ten is all the throttle allows
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(raw)))
    return codes


def enrol(user: User, secret: str, code: str) -> list[str]:
    """Turn on TOTP once the app shows a code made from the secret; returns the recovery codes, shown once."""
    step = _matching_step(secret, code, None)
    if step is None:
        raise ServiceError(_("인증 코드가 맞지 않습니다. 앱에 보이는 6자리 숫자를 입력하세요."))
    user.totp_secret, user.totp_last_step = seal(secret), step
    audit.record(user, "user", user.id, "totp_on", None, None)
    return _new_recovery_codes(user)


def disable(user: User, password: str) -> None:
    """Turn TOTP off, given the password; refused when the user's role requires it."""
    if required(user):
        raise ServiceError(_("이 역할은 2단계 인증을 꼭 써야 합니다."))
    if not check_password_hash(user.password_hash, password or ""):
        raise ServiceError(_("지금 비밀번호가 올바르지 않습니다."), status=401)
    _clear(user)
    audit.record(user, "user", user.id, "totp_off", None, None)


def reset(user: User, by) -> None:
    """An admin clears a user's TOTP (a lost phone and lost recovery codes): every login and API token of the user
    ends, and the next login asks for the password alone, then for enrolment again where the role requires it."""
    _clear(user)
    sessions.end_all(user.id, "totp_reset")
    audit.record(by, "user", user.id, "totp_reset", None, None)


def _clear(user: User) -> None:
    user.totp_secret, user.totp_last_step = None, None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _use_recovery_code(user: User, code: str) -> bool:
    row = db.session.scalar(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _code_hash(code), RecoveryCode.used_at.is_(None)))
    # A conditional UPDATE: two requests racing with the same code cannot both use it.
    return row is not None and db.session.execute(update(RecoveryCode).where(
        RecoveryCode.id == row, RecoveryCode.used_at.is_(None)).values(used_at=clock.now())).rowcount == 1


def verify(user_id: int, code: str, key: str, address: str | None) -> User:
    """The user once their TOTP or recovery code checks out. Throttled as the password is: 429 while repeated
    failures must wait, 401 for a wrong code, which the caller counts with accounts.record_failed_login."""
    wait = max(accounts.login_wait_seconds(key), accounts.login_wait_seconds(accounts.address_key(address)))
    if wait:
        raise ServiceError(_("인증 실패가 반복되었습니다. %(n)s초 후에 다시 시도하세요.", n=wait), status=429)
    user = db.session.get(User, user_id)
    if user is None or not user.active or not user.totp_secret:
        raise ServiceError(_("다시 로그인하세요."), status=401)
    secret = unseal(user.totp_secret)
    step = _matching_step(secret, code, user.totp_last_step) if secret else None
    if step is not None:
        user.totp_last_step = step
        if not user.totp_secret.startswith(SEALED):
            user.totp_secret = seal(secret)
    elif not _use_recovery_code(user, code):
        raise ServiceError(_("인증 코드가 올바르지 않습니다."), status=401)
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
    return user


def recovery_codes_left(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))
