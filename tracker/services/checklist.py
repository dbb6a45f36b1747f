"""Versioned checklist templates. Saving publishes a new version; inspections keep the one they used."""
import json
import re

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..extensions import db
from ..models import CATEGORIES, MODES, ChecklistItem, ChecklistTemplate
from . import ServiceError, audit

DEFAULT_NAME = "콜센터 코로나19 대응지침 점검표"
# (key, 한국어, English, category, critical, modes) as in shared/CHECKLIST.md, version 1.
DEFAULT_ITEMS = [
    ("officer_designated", "방역 전담자 지정",
     "A person in charge of prevention is designated",
     "management", True, "onsite,phone"),
    ("response_manual", "사업장 대응 매뉴얼 마련",
     "The workplace has a COVID-19 response manual",
     "management", True, "onsite,phone"),
    ("density_minimized", "근무공간 밀집 최소화 (좌석 간격 1m 이상, 권고 2m·지그재그 배치)",
     "Workspace crowding is minimised: seats at least 1 m apart (2 m advised), zigzag seating",
     "workspace", True, "onsite"),
    ("partitions_installed", "칸막이·가림막 설치 (책상 면에서 90cm 이상)",
     "Partitions or screens stand between seats, at least 90 cm above the desk",
     "workspace", True, "onsite"),
    ("fixed_seating", "개인별 근무 좌석 고정 배치",
     "Each worker keeps a fixed seat; seats are not rotated",
     "workspace", False, "onsite,phone"),
    ("hygiene_supplies", "위생용품(손소독제 등) 비치",
     "Hygiene supplies such as hand sanitiser are provided",
     "hygiene", False, "onsite"),
    ("masks_mandatory", "근무 중 마스크 착용 의무화",
     "Masks are compulsory at work",
     "hygiene", True, "onsite,phone"),
    ("office_clean", "사무실·집기류 청결 유지",
     "Office and equipment are kept clean",
     "hygiene", False, "onsite"),
    ("disinfection", "정기 소독 실시",
     "Regular disinfection is carried out (with a log)",
     "hygiene", True, "onsite,phone"),
    ("ventilation", "주기적 환기 (1일 2회 이상)",
     "Regular ventilation, at least twice a day",
     "hygiene", False, "onsite,phone"),
    ("temperature_checks", "발열·호흡기 증상 확인 (1일 2회 이상)",
     "Fever and respiratory symptoms are checked at least twice a day",
     "health", True, "onsite,phone"),
    ("symptomatic_sent_home", "유증상자 즉시 업무 배제·귀가 및 보건소 안내",
     "Staff with symptoms leave work at once and are referred to the health centre",
     "health", True, "onsite,phone"),
    ("personal_headsets", "전화기·헤드셋·마이크 개인 사용 및 일회용 덮개·주기적 소독",
     "Phones, headsets and microphones are personal, covered or disinfected regularly",
     "hygiene", False, "onsite,phone"),
    ("staggered_breaks", "휴게·식사 시간 분산 및 휴게공간 밀집 방지",
     "Breaks and meals are staggered, and rest areas are not crowded",
     "workspace", False, "onsite,phone"),
    ("flexible_work", "재택·시차출퇴근 등 유연근무 활용",
     "Telework, staggered hours or other flexible work is used",
     "workspace", False, "onsite,phone"),
    ("visitor_log", "외부인 출입 관리(출입자 명부)",
     "Visitors are controlled and logged",
     "management", False, "onsite"),
    ("case_reporting", "확진자·의심자 발생 시 보고체계 마련",
     "There is a way to report a confirmed or suspected case to the district at once",
     "incident", True, "onsite,phone"),
]
# A key names what an item checks, for good: reports and follow-up actions join on it across versions.
KEY_RE = re.compile(r"[a-z][a-z0-9_]*")
CATEGORY_LABELS = {"management": ("관리체계", "Management"), "workspace": ("근무환경", "Workspace"),
                   "hygiene": ("위생·방역", "Hygiene"), "health": ("건강관리", "Health"),
                   "incident": ("확진자 대응", "Incident response")}


def current() -> ChecklistTemplate | None:
    """The published template with its items loaded."""
    return db.session.scalar(ChecklistTemplate.current_stmt().options(selectinload(ChecklistTemplate.items)))


def published(tpl_id: int | None) -> ChecklistTemplate | None:
    """A published version with its items, read once per app and then shared read-only: it never changes; None
    when there is none."""
    if tpl_id is None:
        return None
    # Per app, not per process: each app (each test) has a database of its own.
    cache = current_app.extensions.setdefault("tracker.checklists", {})
    tpl = cache.get(tpl_id)
    if tpl is None:
        # Loaded by a session of its own on this transaction's connection, and closed: the cached objects belong
        # to no request's session, so no commit expires them and no other request sees them change.
        with Session(db.session.connection()) as own:
            tpl = own.scalar(select(ChecklistTemplate).where(ChecklistTemplate.id == tpl_id)
                             .options(selectinload(ChecklistTemplate.items)))
        if tpl is not None:
            cache[tpl_id] = tpl
    return tpl


def item_labels() -> dict[str, tuple[str, str]]:
    """{key: (Korean label, English label)} of every template's items, newest version winning; once a request."""
    from flask import g, has_request_context
    if has_request_context() and "_item_labels" in g:
        return g._item_labels
    rows = db.session.execute(select(ChecklistItem.key, ChecklistItem.label_ko, ChecklistItem.label_en)
                              .order_by(ChecklistItem.template_id)).all()
    labels = {k: (ko, en) for k, ko, en in rows}
    if has_request_context():
        g._item_labels = labels
    return labels


def item_label(key: str, lang: str = "ko") -> str:
    """An item's label in the reader's language; the key itself for an item no template knows."""
    ko, en = item_labels().get(key, (key, key))
    return en if lang == "en" and en else ko


def default_items() -> list[dict]:
    """The default items as dicts, the shape publish() and the JSON export use."""
    return [dict(key=k, label_ko=ko, label_en=en, category=c, critical=crit, modes=m.split(","))
            for k, ko, en, c, crit, m in DEFAULT_ITEMS]


def ensure_default() -> ChecklistTemplate:
    """Publish the default template as version 1 when there is none yet."""
    return current() or publish(DEFAULT_NAME, default_items())


def _validate(items: list[dict], legacy_keys: set[str] = frozenset()) -> list[dict]:
    errors, clean, keys = [], [], set()
    if not items:
        raise ServiceError(_("점검 항목이 하나 이상 있어야 합니다."))
    for n, it in enumerate(items, start=1):
        key = str(it.get("key") or "").strip()
        orig = str(it.get("orig_key") or "").strip()
        modes = it.get("modes") or []
        modes = modes.split(",") if isinstance(modes, str) else list(modes)
        modes = [m.strip() for m in modes if m and m.strip()]
        if orig and key != orig:
            # The editor shows an existing item's key read-only; a changed meaning is a new item, not a renamed one.
            errors.append(_("%(n)s번 항목: 기존 항목의 키 '%(k)s'은(는) 바꿀 수 없습니다. "
                            "다른 내용이면 새 항목으로 추가하세요",
                            n=n, k=orig))
        elif not KEY_RE.fullmatch(key) and key not in legacy_keys:
            errors.append(_("%(n)s번 항목: 키 '%(k)s'은(는) 영문 소문자로 시작하고 "
                            "영문 소문자·숫자·밑줄(_)만 쓸 수 있습니다",
                            n=n, k=key))
        elif key in keys:
            errors.append(_("%(n)s번 항목: 키 '%(k)s'이(가) 두 번 있습니다", n=n, k=key))
        keys.add(key)
        if not str(it.get("label_ko") or "").strip():
            errors.append(_("%(n)s번 항목: 한국어 문구가 비어 있습니다", n=n))
        if it.get("category") not in CATEGORIES:
            errors.append(_("%(n)s번 항목: 분류 '%(c)s'은(는) 알 수 없습니다", n=n, c=it.get("category")))
        if not modes or any(m not in MODES for m in modes):
            errors.append(_("%(n)s번 항목: 점검 방식은 onsite, phone 중에서 골라야 합니다", n=n))
        clean.append(dict(key=key, label_ko=str(it.get("label_ko") or "").strip(),
                          label_en=str(it.get("label_en") or "").strip() or str(it.get("label_ko") or "").strip(),
                          category=it.get("category"), critical=bool(it.get("critical")),
                          modes=[m for m in MODES if m in modes]))
    if errors:
        raise ServiceError("; ".join(errors), errors=errors)
    return clean


def publish(name: str, items: list[dict], by=None) -> ChecklistTemplate:
    """Publish a new version of the checklist; earlier inspections keep theirs.

    A row with "orig_key" (an existing item, from the editor) must keep that key; rows without it may bring new
    keys, and keys left out are dropped, as a JSON import does.
    """
    # Keys published before the key rule was tightened stay usable, so that old templates can still be edited.
    current_id = ChecklistTemplate.current_stmt().with_only_columns(ChecklistTemplate.id).scalar_subquery()
    legacy = set(db.session.scalars(select(ChecklistItem.key).where(ChecklistItem.template_id == current_id)))
    clean = _validate(items, legacy)
    version = (db.session.scalar(select(func.max(ChecklistTemplate.version))) or 0) + 1
    tpl = ChecklistTemplate(version=version, name=(name or DEFAULT_NAME).strip(), created_by_id=getattr(by, "id", None))
    db.session.add(tpl)
    db.session.flush()
    for pos, it in enumerate(clean):
        db.session.add(ChecklistItem(template_id=tpl.id, position=pos, key=it["key"], label_ko=it["label_ko"],
                                     label_en=it["label_en"], category=it["category"], critical=it["critical"],
                                     modes=",".join(it["modes"])))
    db.session.flush()
    db.session.refresh(tpl)
    audit.record(by, "checklist", tpl.id, "publish", None, {"version": version, "items": len(clean)})
    return tpl


def to_dict(tpl: ChecklistTemplate) -> dict:
    """A template as JSON-ready data (the export and the API's shape)."""
    return {"name": tpl.name, "version": tpl.version,
            "items": [{"key": i.key, "label_ko": i.label_ko, "label_en": i.label_en, "category": i.category,
                       "critical": i.critical, "modes": i.mode_list} for i in tpl.items]}


def import_json(text: str, by=None) -> ChecklistTemplate:
    """Publish a template from an exported JSON document."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise ServiceError(_("JSON 형식이 올바르지 않습니다: %(e)s", e=str(exc))) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ServiceError(_("JSON에 items 목록이 없습니다."))
    if not all(isinstance(i, dict) for i in doc["items"]):
        raise ServiceError(_("items의 각 항목은 객체여야 합니다."))
    return publish(str(doc.get("name") or DEFAULT_NAME), doc["items"], by=by)
