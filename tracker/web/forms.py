"""Flask-WTF forms: the shape of the input only. The rules live in the services."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class LoginForm(FlaskForm):
    email = EmailField(_l("이메일"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("비밀번호"), validators=[DataRequired()])


class CodeForm(FlaskForm):
    """The second step of a login: a TOTP code, or one of the recovery codes."""
    code = StringField(_l("인증 코드"), validators=[DataRequired(), Length(max=20)])


class PasswordChangeForm(FlaskForm):
    old = PasswordField(_l("지금 비밀번호"), validators=[DataRequired()])
    new = PasswordField(_l("새 비밀번호"), validators=[DataRequired()])
    confirm = PasswordField(_l("새 비밀번호 확인"), validators=[DataRequired()])


class PasswordResetForm(FlaskForm):
    password = PasswordField(_l("임시 비밀번호"), validators=[DataRequired()])


class TotpEnrolForm(FlaskForm):
    code = StringField(_l("앱에 보이는 6자리 코드"), validators=[DataRequired(), Length(max=20)])


class TotpOffForm(FlaskForm):
    password = PasswordField(_l("지금 비밀번호"), validators=[DataRequired()])


class SiteForm(FlaskForm):
    name = StringField(_l("사업장명"), validators=[DataRequired(), Length(max=200)])
    business_no = StringField(_l("사업자등록번호"), validators=[DataRequired(), Length(max=20)])
    dong = SelectField(_l("행정동"), validators=[DataRequired()])
    address = StringField(_l("소재지"), validators=[Optional(), Length(max=300)])
    headcount = IntegerField(_l("종사자수"), validators=[InputRequired(), NumberRange(min=0)])
    manager_name = StringField(_l("방역담당자"), validators=[Optional(), Length(max=100)])
    manager_phone = StringField(_l("연락처"), validators=[Optional(), Length(max=40)])
    # Checked by the service (addresses.clean_address), which names the bad address in its message.
    manager_email = StringField(_l("방역담당자 이메일"), validators=[Optional(), Length(max=254)])
    self_check = BooleanField(_l("매주 자체점검 요청 메일 보내기"))


class ImportForm(FlaskForm):
    file = FileField(_l("파일 (CSV 또는 XLSX)"), validators=[
        FileRequired(), FileAllowed(["csv", "xlsx", "txt"], _l("CSV 또는 XLSX 파일만 올릴 수 있습니다."))])
    dry_run = BooleanField(_l("미리보기만 (저장하지 않음)"), default=True)


class ConfirmForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


ROLE_CHOICES = [SelectChoice("inspector", _l("점검원")), SelectChoice("lead", _l("팀장")),
                SelectChoice("admin", _l("관리자"))]


class UserForm(FlaskForm):
    email = EmailField(_l("이메일"), validators=[DataRequired(), Length(max=200)])
    name = StringField(_l("이름"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("역할"), choices=ROLE_CHOICES)
    password = PasswordField(_l("비밀번호"), validators=[DataRequired()])  # the rule: accounts.check_password_rule


class UserEditForm(FlaskForm):
    role = SelectField(_l("역할"), choices=ROLE_CHOICES)
    active = BooleanField(_l("활성"))


class SettingsForm(FlaskForm):
    notice_compliant = BooleanField(_l("부적합 사항이 없는 점검에도 짧은 '적합' 결과 통보를 보냅니다"))


class TemplateImportForm(FlaskForm):
    file = FileField(_l("점검표 JSON"),
                     validators=[FileRequired(), FileAllowed(["json"], _l("JSON 파일만 올릴 수 있습니다."))])


# --- checklist editor (issue 3) ---
class ChecklistItemForm(Form):
    """One row of the checklist editor (a sub-form: the page's CSRF token covers it)."""
    key = StringField(_l("키"), validators=[Optional(), Length(max=60)])
    orig_key = HiddenField()  # an existing item's key, which the service keeps; empty on a new row
    label_ko = StringField(_l("한국어 문구"), validators=[Optional(), Length(max=300)])
    label_en = StringField(_l("영어 문구"), validators=[Optional(), Length(max=300)])
    category = SelectField(_l("분류"), choices=[
        SelectChoice("management", _l("관리체계")), SelectChoice("workspace", _l("근무환경")),
        SelectChoice("hygiene", _l("위생·방역")), SelectChoice("health", _l("건강관리")),
        SelectChoice("incident", _l("확진자 대응"))])
    critical = BooleanField(_l("중요"))
    onsite = BooleanField(_l("현장점검"))
    phone = BooleanField(_l("전화 모니터링"))
    remove = BooleanField(_l("삭제"))


class ChecklistEditForm(FlaskForm):
    name = StringField(_l("점검표 이름"), validators=[DataRequired(), Length(max=200)])
    items = FieldList(FormField(ChecklistItemForm), min_entries=1, max_entries=200)


class LocationConsentForm(FlaskForm):
    """The answer to recording one's position at on-site checks: given, or refused (a consent given is then
    withdrawn)."""
    answer = SelectField(choices=[SelectChoice("given", _l("동의")), SelectChoice("refused", _l("동의하지 않음"))])


class ReminderForm(FlaskForm):
    """내 정보 › 알림: the two reminders a person may switch off."""
    task_reminder = BooleanField(_l("마감 전날 남은 점검 알림"), description=_l(
        "점검원: 주간 점검 마감 전날, 아직 남은 사업장을 행정동별로 점검표 링크와 함께 보냅니다."))
    lead_digest = BooleanField(_l("기한 지난 점검·행정지도 요약"), description=_l(
        "팀장: 주간 점검 마감 시각이 지나면 하루 한 번, 담당자별 지연 사업장과 기한 지난 행정지도를 보냅니다."))
