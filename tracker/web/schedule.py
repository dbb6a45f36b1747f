"""The lead's pages for the weekly rounds, follow-up actions (행정지도), incidents and assignments."""
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import clock, district
from ..auth import roles_required
from ..extensions import db
from ..models import LEADS, DongAssignment, Site, Task, User
from ..services import ServiceError, checklist, replies, schedule
from . import form_status, page_arg, refused
from .forms import ConfirmForm

bp = Blueprint("schedule", __name__)


def _week_arg() -> str:
    week = request.args.get("week") or clock.week_of()
    try:
        clock.parse_week(week)
    except ValueError:
        flash(_("주는 2020-W11 형식이어야 합니다: '%(w)s'", w=week), "error")
        week = clock.week_of()
    return week


def _inspectors():
    return db.session.scalars(select(User).where(User.role == "inspector", User.active).order_by(User.name)).all()


@bp.route("/schedule")
@roles_required(*LEADS)
def week():
    """One week: overdue and missed sites by inspector and dong, actions by age, incidents, workloads."""
    wk = _week_arg()
    dong = request.args.get("dong") or None
    return render_template("schedule/week.html", view=schedule.week_view(wk, dong), week=wk, dong=dong,
                           prev=clock.add_weeks(wk, -1), next=clock.add_weeks(wk, 1),
                           district=district.current(), inspectors=_inspectors(), form=ConfirmForm(),
                           replies_waiting=replies.waiting_count())


@bp.route("/actions")
@roles_required(*LEADS)
def actions():
    """Follow-up actions, filtered by status, dong, item and age."""
    args = request.args
    status = args.get("status", "open")
    min_age = args.get("min_age", type=int)
    if min_age is not None and not 0 <= min_age <= 36_500:
        min_age = None  # as for any other filter value the page cannot use: none (days past the calendar overflow)
    rows = db.paginate(schedule.actions_stmt(status=status or None, dong=args.get("dong") or None,
                                             item=args.get("item") or None, min_age=min_age),
                       page=page_arg(), per_page=50, error_out=False)
    tpl = checklist.current()
    labels = {i.key: i for i in tpl.items} if tpl else {}
    return render_template("schedule/actions.html", page=rows, labels=labels, status=status,
                           filters={k: v for k, v in args.items() if k != "page" and v},
                           district=district.current(), now=clock.now())


def _incident_input() -> tuple[date, int, str]:
    """The posted date and number of cases as values; a ServiceError naming the field that is not one."""
    raw_day, raw_cases = request.form.get("confirmed_on", "").strip(), request.form.get("cases", "").strip()
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise ServiceError(_("확진일 '%(v)s'은(는) YYYY-MM-DD 형식의 날짜가 아닙니다", v=raw_day)) from None
    try:
        cases = int(raw_cases)
    except ValueError:
        raise ServiceError(_("확진자 수 '%(v)s'은(는) 숫자가 아닙니다", v=raw_cases)) from None
    return day, cases, request.form.get("note", "")


@bp.route("/sites/<int:site_id>/incidents", methods=["POST"])
@roles_required(*LEADS)
def record_incident(site_id):
    """Record a confirmed case at a site."""
    site = db.get_or_404(Site, site_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("sites.detail", site_id=site.id))
    try:
        schedule.record_incident(site, *_incident_input(), by=current_user)
    except ServiceError as exc:
        refused(exc)
    else:
        flash(_("확진자 발생을 기록했습니다. 다음 근무일까지 현장점검이 배정되고 "
                "모니터링이 주 2회로 늘어납니다."), "info")
    return redirect(url_for("sites.detail", site_id=site.id))


@bp.route("/schedule/assignments", methods=["GET", "POST"])
@roles_required(*LEADS)
def assignments():
    """Which inspector covers each dong."""
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            for dong in district.current().dongs:  # all or nothing: one refused dong undoes the others
                raw = request.form.get(f"dong-{dong}", "")
                schedule.assign_dong(dong, _inspector_id(raw, optional=True), by=current_user)
        except ServiceError as exc:
            refused(exc)
        else:
            flash(_("담당을 저장했습니다."), "info")
            return redirect(url_for("schedule.assignments"))
    current = dict(db.session.execute(select(DongAssignment.dong, DongAssignment.inspector_id)).all())
    return render_template("schedule/assignments.html", form=form, dongs=district.current().dongs,
                           current=current, inspectors=_inspectors()), form_status()


def _inspector_id(raw: str, optional: bool) -> int | None:
    """A posted inspector's id, None for a blank optional choice; anything else is refused as no inspector."""
    if optional and not raw.strip():
        return None
    try:
        return int(raw)
    except ValueError:
        raise ServiceError(_("점검원을 찾을 수 없습니다")) from None


@bp.route("/tasks/<int:task_id>/assignee", methods=["POST"])
@roles_required(*LEADS)
def reassign(task_id):
    """Give one task to another inspector."""
    task = db.get_or_404(Task, task_id)
    if ConfirmForm().validate_on_submit():
        try:
            inspector_id = _inspector_id(request.form.get("inspector_id", ""), optional=False)
            schedule.reassign_task(task, inspector_id, by=current_user)
        except ServiceError as exc:
            refused(exc)
        else:
            flash(_("담당자를 바꿨습니다."), "info")
    return redirect(request.referrer or url_for("schedule.week", week=task.week))
