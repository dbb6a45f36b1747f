"""SQLAlchemy 2.0 models. Times are stored in UTC; weeks are ISO labels in the district's zone."""
from datetime import date, datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .extensions import db

ROLES = ("admin", "lead", "inspector")
LEADS = ("lead", "admin")  # the roles that see every site, inspection and figure
MODES = ("onsite", "phone")
# Task kinds: the weekly monitoring round, a re-check after a "no", and the visit after a confirmed case.
ROUND, REINSPECTION, INCIDENT = "weekly_monitoring", "reinspection", "incident_response"
ANSWER_VALUES = ("yes", "no", "na")
CATEGORIES = ("management", "workspace", "hygiene", "health", "incident")


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on both SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def _utcnow():
    from . import clock
    return clock.now()


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    # Set when an admin resets the password: every page sends the user to choose their own first.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # TOTP (two-factor login): the shared secret once enrolment is confirmed, sealed (services/totp.py: it is
    # authentication data, which the 안전성 확보조치 기준 has stored encrypted), and the last time step used, so that a
    # code seen over a shoulder cannot be used a second time.
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)


    # Reminders to the office (services/reminders.py), each switched off on 내 정보: the inspector's message the
    # day before the weekly due day, and the lead's digest after the due time. On unless the person says no.
    mail_task_reminder: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    mail_lead_digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    __table_args__ = (CheckConstraint("role in ('admin','lead','inspector')", name="role"),)

    @property
    def is_active(self):
        return self.active


class ApiToken(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    # Only the SHA-256 is kept; the token itself is shown once.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """A login on one browser. The cookie holds a random key; only its SHA-256 is kept, so a copy of this table
    opens no session. Logging out, idling too long, a password change or deactivation set ended_at."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))  # logout, idle, password, deactivated, ended, totp_on
    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """A one-time code that stands in for a TOTP code when the phone is lost; only its SHA-256 is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RoleChange(db.Model):
    """A grant or removal of a role (a deactivation removes it too), kept 3 years as the 안전성 확보조치 기준 asks."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    change: Mapped[str] = mapped_column(String(10))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    by: Mapped[User | None] = relationship(foreign_keys=[by_id])

    __table_args__ = (CheckConstraint("change in ('grant','remove')", name="change"),)


class LoginThrottle(db.Model):
    """Failed logins per e-mail and address, kept in the database so that every worker sees them."""

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DongAssignment(db.Model):
    """Which inspector covers a dong's weekly rounds."""

    dong: Mapped[str] = mapped_column(String(50), primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    inspector: Mapped[User] = relationship()


class Site(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    business_no: Mapped[str] = mapped_column(String(12), unique=True)
    dong: Mapped[str] = mapped_column(String(50), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    headcount: Mapped[int] = mapped_column(Integer)
    size_band: Mapped[str] = mapped_column(String(20), index=True)
    manager_name: Mapped[str] = mapped_column(String(100), default="")
    manager_phone: Mapped[str] = mapped_column(String(40), default="")
    # The prevention officer's address, for the result notice (issue 16); checked by addresses.clean_address.
    manager_email: Mapped[str] = mapped_column(String(254), default="")
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    # Asked each week to check itself (자체점검, issue 16) through its signed link; a lead switches it on.
    self_check: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    qr_token: Mapped[str] = mapped_column(String(64), unique=True)
    # Each reply link carries the generation it was made in; a lead who ends the site's links (a notice gone to the
    # wrong person) moves this on, and every earlier link stops working at once (services/replies.py).
    reply_link_gen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow, onupdate=_utcnow)

    __table_args__ = (
        CheckConstraint("status in ('active','closed')", name="status"),
        CheckConstraint("headcount >= 0", name="headcount"),
    )

    AUDITED = ("name", "business_no", "dong", "address", "headcount", "size_band", "manager_name",
               "manager_phone", "manager_email", "status", "self_check")

    def snapshot(self) -> dict:
        """The audited fields, for the audit trail."""
        return {f: getattr(self, f) for f in self.AUDITED}


class Audit(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    user: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)


class ChecklistTemplate(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    items: Mapped[list["ChecklistItem"]] = relationship(order_by="ChecklistItem.position",
                                                         back_populates="template")

    @staticmethod
    def current_stmt():
        """The published template: the highest version."""
        return select(ChecklistTemplate).order_by(ChecklistTemplate.version.desc()).limit(1)


class ChecklistItem(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_template.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    label_ko: Mapped[str] = mapped_column(String(300))
    label_en: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(30))
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    modes: Mapped[str] = mapped_column(String(30))  # "onsite,phone"
    position: Mapped[int] = mapped_column(Integer)
    template: Mapped[ChecklistTemplate] = relationship(back_populates="items")

    __table_args__ = (UniqueConstraint("template_id", "key"),)

    @property
    def mode_list(self) -> list[str]:
        return [m for m in self.modes.split(",") if m]

    def applies_to(self, mode: str) -> bool:
        """Whether this item is judged in the given mode."""
        return mode in self.mode_list


class Inspection(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_template.id"))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    mode: Mapped[str] = mapped_column(String(10))
    week: Mapped[str] = mapped_column(String(8))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    device_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Proof of presence: the server's time of a scan record bound to this inspector and site, used once.
    qr_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A weaker proof: the site's code scanned with no signal, at the phone's time (which the server cannot check).
    offline_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    # The officer's optional 확인 서명 on the phone's screen (issue 16): re-encoded and stored as photos are, by hash.
    signature_sha256: Mapped[str | None] = mapped_column(String(64))
    # Counts kept at submit time so that summaries never have to re-read every answer.
    yes_count: Mapped[int] = mapped_column(Integer, default=0)
    no_count: Mapped[int] = mapped_column(Integer, default=0)
    na_count: Mapped[int] = mapped_column(Integer, default=0)
    critical_no_count: Mapped[int] = mapped_column(Integer, default=0)
    compliant: Mapped[bool] = mapped_column(Boolean, default=True)

    site: Mapped[Site] = relationship()
    template: Mapped[ChecklistTemplate] = relationship()
    inspector: Mapped[User | None] = relationship()
    answers: Mapped[list["Answer"]] = relationship(back_populates="inspection", order_by="Answer.id")
    photos: Mapped[list["Photo"]] = relationship(back_populates="inspection", order_by="Photo.id")

    __table_args__ = (
        CheckConstraint("mode in ('onsite','phone')", name="mode"),
        Index("ix_inspection_site_week", "site_id", "week"),
        Index("ix_inspection_week_mode", "week", "mode"),
        # Covers "distinct sites inspected on site in a period" (dashboard, council report) without heap reads.
        Index("ix_inspection_mode_week_site", "mode", "week", "site_id"),
    )


class UsedScan(db.Model):
    """A scan record that has proved presence for an inspection: each proves it for one only."""

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)


class Answer(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(Text, default="")
    inspection: Mapped[Inspection] = relationship(back_populates="answers")

    __table_args__ = (
        UniqueConstraint("inspection_id", "item_key"),
        CheckConstraint("value in ('yes','no','na')", name="value"),
    )


class Photo(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    item_key: Mapped[str] = mapped_column(String(60))
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    inspection: Mapped[Inspection] = relationship(back_populates="photos")

    @property
    def filename(self) -> str:
        return f"{self.sha256}.jpg"


class Task(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    week: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(30))  # weekly_monitoring, reinspection, incident_response
    # Numbers the extra checks of a raised cadence, or the n-th reinspection, within one week.
    slot: Mapped[int] = mapped_column(Integer, default=0)
    required_mode: Mapped[str] = mapped_column(String(10), default="any")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    done_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    site: Mapped[Site] = relationship()
    assignee: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("site_id", "week", "kind", "slot"),
        CheckConstraint("status in ('open','done','missed','cancelled')", name="status"),
        Index("ix_task_week_status", "week", "status"),
    )


class Action(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    item_key: Mapped[str] = mapped_column(String(60))
    opened_inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"))
    cleared_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"))
    # open, escalated, cleared; reported: the site replied (issue 16) and it waits for an inspector or a lead to
    # accept the reply (cleared) or ask again (open); it does not escalate meanwhile.
    status: Mapped[str] = mapped_column(String(10), default="open")
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    site: Mapped[Site] = relationship()

    __table_args__ = (Index("ix_action_status_site_item", "status", "site_id", "item_key"),)


class ActionReply(db.Model):
    """What a site says it did about an action, through its signed reply link (조치 보고, issue 16)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    note: Mapped[str] = mapped_column(Text)
    # Re-encoded and stored as inspectors' photos are (content-addressed); at most two.
    photo1_sha256: Mapped[str | None] = mapped_column(String(64))
    photo2_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    outcome: Mapped[str | None] = mapped_column(String(10))  # None (waiting), accepted, again
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    action: Mapped[Action] = relationship()
    site: Mapped[Site] = relationship()
    reviewed_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_action_reply_site_created", "site_id", "created_at"),)

    @property
    def photos(self) -> list[str]:
        return [s for s in (self.photo1_sha256, self.photo2_sha256) if s]


class SelfCheck(db.Model):
    """A site's own check of itself (자체점검, issue 16) through its signed link: kept apart from inspections, so
    that no figure, action rule or task rule ever counts it. It only pre-fills an inspector's phone check."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Made by the page: a form sent twice (a retry after a lost answer) is kept once.
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_template.id"))
    week: Mapped[str] = mapped_column(String(8))
    officer_name: Mapped[str] = mapped_column(String(100))  # as the officer typed it
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)

    site: Mapped[Site] = relationship()
    answers: Mapped[list["SelfCheckAnswer"]] = relationship(back_populates="self_check",
                                                             order_by="SelfCheckAnswer.id")

    __table_args__ = (Index("ix_self_check_site_week", "site_id", "week"), Index("ix_self_check_week", "week"))


class SelfCheckAnswer(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    self_check_id: Mapped[int] = mapped_column(ForeignKey("self_check.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(3))
    self_check: Mapped[SelfCheck] = relationship(back_populates="answers")

    __table_args__ = (
        UniqueConstraint("self_check_id", "item_key"),
        CheckConstraint("value in ('yes','no','na')", name="value"),
    )


class Incident(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    confirmed_on: Mapped[date] = mapped_column(Date)
    cases: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str] = mapped_column(Text, default="")
    raised_until: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    site: Mapped[Site] = relationship()

    __table_args__ = (CheckConstraint("cases >= 1", name="cases"),)


class Outbox(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    period: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # pending, sending, sent, failed; a site's result notice may also be held (by its inspector or a lead) or
    # replaced (by a later inspection of the site) before it leaves (issue 16).
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    # Never sent before this: the notice waits TRACKER_NOTICE_HOLD_MINUTES for a mistaken answer to be caught.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The inspection a notice is about, and what to attach, made at send time from it ("report": its PDF).
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"), index=True)
    attachment: Mapped[str] = mapped_column(String(20), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "period", "recipient"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )


class Setting(db.Model):
    """A switch an admin sets on the admin pages (issue 16: the 적합 notice); absent means its default."""

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow, onupdate=_utcnow)


class SummaryWeek(db.Model):
    """Weekly rollup of inspections for the dashboard (issue 5), kept in the same transaction as each submit.

    Inspection-level rows have item_key '' and are keyed (week, dong, band, mode): inspections, compliant and the
    sums of the stored yes/no/na counts. Item rows are keyed (week, dong, item_key) with band and mode '' (kept
    coarse so that the by-item table reads a few thousand rows, whatever the number of sites): that item's
    yes/no/n-a answers. Dong and band are the site's at the time of the inspection. services/summary.py keeps it.
    """

    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    dong: Mapped[str] = mapped_column(String(50), primary_key=True)
    size_band: Mapped[str] = mapped_column(String(20), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(60), primary_key=True)
    inspections: Mapped[int] = mapped_column(Integer, default=0)
    compliant: Mapped[int] = mapped_column(Integer, default=0)
    yes: Mapped[int] = mapped_column(Integer, default=0)
    no: Mapped[int] = mapped_column(Integer, default=0)
    na: Mapped[int] = mapped_column(Integer, default=0)


ACCESS_ACTIONS = ("view", "export", "download")


class AccessLog(db.Model):
    """One look at personal data (개인정보 접속기록): who, from where, what was done, and whose data. Append-only:
    the app never updates or deletes a row, except the retention purge (services/retention.py)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow, index=True)
    # The e-mail is copied: the record must still say who it was if the account changes or goes.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    user_email: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(10))
    subject: Mapped[dict] = mapped_column(JSON)  # {"site": 3} or {"export": "register", "filters": {…}, "rows": 12}
    reason: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (
        CheckConstraint("action in ('view','export','download')", name="action"),
        Index("ix_access_log_user_at", "user_id", "at"),
    )


class AccessReview(db.Model):
    """A month of access records marked as reviewed (점검 완료): who reviewed it, and when."""

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # "2020-03", in the district's zone
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    reviewed_by: Mapped[User | None] = relationship()


@event.listens_for(AccessLog, "before_update")
@event.listens_for(AccessLog, "before_delete")
def _access_log_is_append_only(_mapper, _conn, _target):
    # A record that could be changed proves nothing; the purge deletes with one statement, past this hook.
    raise PermissionError("access records are never edited or deleted one by one")


class LocationConsent(db.Model):
    """One answer of a user to "may this app record your position at on-site checks?" (위치정보법).

    A row per answer, kept as history: `given` True is a consent, False a refusal (또는 "나중에"). Withdrawing a
    consent stamps its row's `withdrawn_at`; giving it again adds a new row. The user's state is their latest row.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    given: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_location_consent_user", "user_id", "id"),)


class SchedulerProcess(db.Model):
    """A `flask scheduler` process as it last reported itself: the leader, or a follower waiting for the lock.

    Each process writes its own row; the leader also clears `leading` on every other row, so that one row leads.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    leading: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)  # leading or following since
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)  # the leader's heartbeat

    __table_args__ = (UniqueConstraint("host", "pid"),)


class SchedulerJob(db.Model):
    """Each scheduled job's last run and result, and its next run, as the leading scheduler last saw them."""

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_result: Mapped[str] = mapped_column(Text, default="")
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
