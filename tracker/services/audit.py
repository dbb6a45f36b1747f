"""The audit trail: who changed what, when, with the state before and after."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..masking import mask_email, mask_name, mask_phone
from ..models import Audit

# What a reader of the trail sees; the stored codes stay stable whatever the language.
ACTION_LABELS = {"create": _l("등록"), "update": _l("수정"), "import": _l("가져오기"), "close": _l("폐업 처리"),
                 "reopen": _l("운영 재개"), "rotate_qr": _l("QR 코드 새로 발급"), "publish": _l("게시"),
                 "reassign": _l("담당 변경"), "password": _l("비밀번호 변경"), "reset_password": _l("비밀번호 초기화"),
                 "totp_on": _l("2단계 인증 켜기"), "totp_off": _l("2단계 인증 끄기"),
                 "totp_reset": _l("2단계 인증 초기화"),
                 "hold_notice": _l("결과 통보 보류"), "release_notice": _l("결과 통보 보류 해제"),
                 "accept_reply": _l("조치 보고 확인"), "reply_again": _l("조치 다시 요청"),
                 "revoke_links": _l("회신 링크 모두 폐기")}
FIELD_LABELS = {"name": _l("사업장명"), "business_no": _l("사업자등록번호"), "dong": _l("행정동"),
                "address": _l("소재지"), "headcount": _l("종사자수"), "size_band": _l("규모"),
                "manager_name": _l("방역담당자"), "manager_phone": _l("연락처"),
                "manager_email": _l("방역담당자 이메일"), "status": _l("상태"), "self_check": _l("자체점검 요청"),
                "qr_code": _l("QR 코드"), "role": _l("역할"), "active": _l("활성"), "assignee_id": _l("담당자"),
                "mail_task_reminder": _l("마감 전날 남은 점검 알림"),
                "mail_lead_digest": _l("기한 지난 점검·행정지도 요약")}


def record(user, entity: str, entity_id, action: str, before: dict | None, after: dict | None) -> None:
    """Add one audit row in the current transaction."""
    db.session.add(Audit(user_id=getattr(user, "id", None), entity=entity, entity_id=entity_id,
                         action=action, before=before, after=after))


def history_stmt(entity: str, entity_id: int):
    """Audit rows of one record, newest first."""
    return (select(Audit).where(Audit.entity == entity, Audit.entity_id == entity_id)
            .options(selectinload(Audit.user)).order_by(Audit.at.desc(), Audit.id.desc()))


def changes(row: Audit, full: bool = True) -> list[tuple[str, object, object]]:
    """(field label, before, after) for each field the change touched; every field for a creation. Unless full, the
    officer's name and phone are masked, as the reader sees them elsewhere."""
    before, after = row.before or {}, row.after or {}
    out = [(k, before.get(k), v) for k, v in after.items() if not before or before.get(k) != v]
    # Rows written before codes were masked at the source still hold whole codes: mask them on the way out too.
    masks = {"qr_code": _mask} | ({} if full else PERSONAL_MASKS)
    return [(str(FIELD_LABELS.get(k, k)), *((masks[k](b), masks[k](a)) if k in masks else (word(b), word(a))))
            for k, b, a in out]


def word(value):
    """A switch (자체점검 요청, 활성) reads 예 / 아니오 in the trail and the import preview, not True / False."""
    return (_("예") if value else _("아니오")) if isinstance(value, bool) else value


def _masked(mask):
    return lambda value: mask(value) if value else value


PERSONAL_MASKS = {"manager_name": _masked(mask_name), "manager_phone": _masked(mask_phone),
                  "manager_email": _masked(mask_email)}


def _mask(code):
    from .sites import masked_code
    return masked_code(code) if code else code


def field_label(name: str) -> str:
    """A site or user field in the reader's language ("manager_phone" reads 연락처)."""
    return str(FIELD_LABELS.get(name, name))


def action_label(action: str) -> str:
    """The action in the reader's language."""
    return str(ACTION_LABELS.get(action, action))
