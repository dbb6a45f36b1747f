"""Admin pages: users and roles, and the checklist templates."""
import json

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import schemas as shape
from ..auth import roles_required
from ..extensions import db
from ..models import ChecklistTemplate, RoleChange, User
from ..services import ServiceError, access_log, accounts, checklist, sessions, settings, totp
from . import form_status, log_access, page_arg, refused, scheduler_warnings
from .forms import (
    ROLE_CHOICES,
    ChecklistEditForm,
    ConfirmForm,
    PasswordResetForm,
    SettingsForm,
    TemplateImportForm,
    UserEditForm,
    UserForm,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.context_processor(scheduler_warnings)


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users():
    """List users and create one."""
    form = UserForm()
    if form.validate_on_submit():
        try:
            accounts.create_user(form.email.data, form.name.data, form.role.data, form.password.data, by=current_user)
        except ServiceError as exc:
            field = form.password if "password" in exc.errors else form.email
            field.errors = list(field.errors) + [exc.message]
        else:
            flash(_("사용자를 만들었습니다."), "info")
            return redirect(url_for("admin.users"))
    rows = db.session.scalars(accounts.users_stmt()).all()
    log_access("view", {"users": [u.id for u in rows]})
    edit_forms = {u.id: UserEditForm(prefix=f"u{u.id}", role=u.role, active=u.active) for u in rows}
    return render_template("admin/users.html", form=form, users=rows, edit_forms=edit_forms), form_status()


@bp.route("/users/<int:user_id>", methods=["POST"])
@roles_required("admin")
def update_user(user_id):
    """Change a user's role, or deactivate them."""
    user = db.get_or_404(User, user_id)
    form = UserEditForm(prefix=f"u{user.id}")
    if form.validate_on_submit():
        try:
            accounts.update_user(user, form.role.data, form.active.data, by=current_user)
        except ServiceError as exc:
            refused(exc)
        else:
            flash(_("%(name)s: 저장했습니다.", name=user.name), "info")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>")
@roles_required("admin")
def user_detail(user_id):
    """One user: their open logins, the grants and removals of their roles, and a password reset."""
    user = db.get_or_404(User, user_id)
    return _user_page(user, PasswordResetForm())


def _user_page(user, reset_form, status=200):
    return render_template(
        "admin/user.html", user=user, reset_form=reset_form, confirm_form=ConfirmForm(),
        history=db.session.scalars(accounts.role_history_stmt(user).options(selectinload(RoleChange.by))).all(),
        open_sessions=db.session.scalars(sessions.active_stmt(user)).all(), totp_on=bool(user.totp_secret),
        role_labels={c.value: c.label for c in ROLE_CHOICES}), status


@bp.route("/users/<int:user_id>/totp-reset", methods=["POST"])
@roles_required("admin")
def reset_totp(user_id):
    """Clear a user's two-factor login (phone and recovery codes both lost): their logins and tokens end."""
    user = db.get_or_404(User, user_id)
    if ConfirmForm().validate_on_submit() and user.totp_secret:
        totp.reset(user, by=current_user)
        flash(_("%(name)s: 2단계 인증을 초기화했습니다. 다음 로그인은 비밀번호로 하고, 인증 앱을 다시 등록해야 합니다.",
                name=user.name), "info")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required("admin")
def reset_password(user_id):
    """Set a temporary password: the user's logins and tokens end, and they choose a new one at the next login."""
    user = db.get_or_404(User, user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(user, form.password.data, by=current_user)
        except ServiceError as exc:
            form.password.errors = [exc.message]
        else:
            flash(_("%(name)s: 임시 비밀번호를 정했습니다. 다음 로그인 때 새 비밀번호를 정해야 합니다.",
                    name=user.name), "info")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _user_page(user, form, 422)


# --- the access log of personal data (issue 13) ---

ACCESS_PER_PAGE = 50


@bp.route("/access-log")
@roles_required("admin")
def access_log_view():
    """Who looked at personal data, filtered by account, days and action, with the months' reviews."""
    filters, errors = shape.load(shape.AccessLogFilter(), request.args)
    labels = {"user": _("계정"), "from": _("시작일"), "to": _("종료일"), "action": _("작업")}
    for name, message in errors.items():
        flash(f"{labels.get(name, name)}: {message}", "error")
    page = db.paginate(access_log.list_stmt(filters.get("user"), filters.get("first"), filters.get("last"),
                                            filters.get("action")),
                       page=page_arg(), per_page=ACCESS_PER_PAGE, error_out=False)
    args = {k: request.args[k] for k in ("user", "from", "to", "action") if request.args.get(k) and k not in errors}
    return render_template("admin/access_log.html", page=page, args=args, months=access_log.months(),
                           users=db.session.scalars(accounts.users_stmt()).all(), form=ConfirmForm(),
                           actions=shape.ACCESS_ACTIONS, describe=access_log.describe)


@bp.route("/access-log/review", methods=["POST"])
@roles_required("admin")
def review_access_month():
    """Mark a month's access records as reviewed (점검 완료): who, and when."""
    if ConfirmForm().validate_on_submit():
        month = request.form.get("month", "")
        try:
            access_log.mark_reviewed(month, by=current_user)
        except ServiceError as exc:
            refused(exc)
        else:
            flash(_("%(m)s 접속기록을 점검 완료로 표시했습니다.", m=month), "info")
    return redirect(url_for("admin.access_log_view"))


# --- checklist templates (issue 3) ---

def _editor_data(tpl) -> dict:
    items = checklist.to_dict(tpl)["items"] if tpl else checklist.default_items()
    return {"name": tpl.name if tpl else checklist.DEFAULT_NAME,
            "items": [dict(it, orig_key=it["key"] if tpl else "", onsite="onsite" in it["modes"],
                           phone="phone" in it["modes"]) for it in items]}


def _rows(form: ChecklistEditForm) -> list[dict]:
    """The editor's rows, minus those marked for removal, in the shape checklist.publish takes."""
    return [{"key": r.key.data, "orig_key": r.orig_key.data, "label_ko": r.label_ko.data,
             "label_en": r.label_en.data, "category": r.category.data, "critical": r.critical.data,
             "modes": [m for m in ("onsite", "phone") if getattr(r, m).data]}
            for r in form.items if not r.remove.data]


def _checklist_page(import_form=None, error=None, status=200):
    return render_template("admin/checklist.html", tpl=checklist.current(), versions=db.session.scalars(
        select(ChecklistTemplate).order_by(ChecklistTemplate.version.desc()).limit(20)).all(),
        import_form=import_form or TemplateImportForm(), labels=checklist.CATEGORY_LABELS, error=error), status


@bp.route("/checklist")
@roles_required("admin")
def checklist_view():
    """The published checklist, earlier versions, export and import."""
    return _checklist_page()


@bp.route("/checklist/edit", methods=["GET", "POST"])
@roles_required("admin")
def checklist_edit():
    """Edit the checklist item by item; saving publishes a new version."""
    form = (ChecklistEditForm() if request.method == "POST"
            else ChecklistEditForm(data=_editor_data(checklist.current())))
    errors, status = [], 200
    if form.validate_on_submit():
        if "add_row" in request.form:
            form.items.append_entry({"category": "management", "onsite": True, "phone": True})
        else:
            try:
                tpl = checklist.publish(form.name.data, _rows(form), by=current_user)
            except ServiceError as exc:
                errors, status = (exc.errors if isinstance(exc.errors, list) else [exc.message]), 422
            else:
                flash(_("점검표 %(v)s판을 게시했습니다. 이미 저장된 점검은 예전 판을 그대로 씁니다.",
                        v=tpl.version), "info")
                return redirect(url_for("admin.checklist_view"))
    elif request.method == "POST":
        status = 422
    return render_template("admin/checklist_edit.html", form=form, errors=errors), status


@bp.route("/checklist/export.json")
@roles_required("admin")
def checklist_export():
    """The published checklist as a JSON download."""
    tpl = checklist.current() or abort(404)
    body = json.dumps(checklist.to_dict(tpl), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="checklist-v{tpl.version}.json"'})


@bp.route("/checklist/import", methods=["POST"])
@roles_required("admin")
def checklist_import():
    """Publish a new version from an uploaded JSON export."""
    form = TemplateImportForm()
    if not form.validate_on_submit():
        return _checklist_page(form, status=422)
    raw = form.file.data.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _checklist_page(form, _("파일이 UTF-8 텍스트가 아닙니다."), 422)
    try:
        tpl = checklist.import_json(text, by=current_user)
    except ServiceError as exc:
        return _checklist_page(form, exc.message, 422)
    flash(_("가져온 점검표를 %(v)s판으로 게시했습니다.", v=tpl.version), "info")
    return redirect(url_for("admin.checklist_view"))


@bp.route("/settings", methods=["GET", "POST"])
@roles_required("admin")
def settings_view():
    """The switches an admin sets: the 적합 notice (issue 16)."""
    form = SettingsForm(data={"notice_compliant": settings.enabled("notice_compliant")})
    if form.validate_on_submit():
        settings.set_flag("notice_compliant", form.notice_compliant.data, by=current_user)
        flash(_("설정을 저장했습니다."), "info")
        return redirect(url_for("admin.settings_view"))
    return render_template("admin/settings.html", form=form,
                           hold=current_app.config["TRACKER_NOTICE_HOLD_MINUTES"]), form_status()
