"""The shape of input, defined once for the API and the pages: marshmallow schemas and fields whose messages are in
the reader's language. Shape only (types, formats, ranges, lengths); rules that need the database stay in services.
"""
from collections.abc import Mapping
from datetime import timezone

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from . import clock, district
from .models import ACCESS_ACTIONS, ANSWER_VALUES, MODES

NOTE_MAX = 2000
CONTACT_MAX = 100
# ISO weeks 01-53 of years 1000-9999, for the document; what a pattern cannot say (W53 of a year without one) is
# refused by the field all the same.
WEEK_PATTERN = "^[1-9]\\d{3}-W(0[1-9]|[1-4]\\d|5[0-3])$"


# --- fields ---------------------------------------------------------------------------------------------------

class _Translated:
    """Marshmallow's English messages replaced by Korean msgids, translated when the error is raised (marshmallow
    formats only plain str messages, so the lazy ones are formatted here)."""

    default_error_messages = {"required": _l("값이 필요합니다"), "null": _l("값이 필요합니다"),
                              "validator_failed": _l("값이 올바르지 않습니다")}

    def make_error(self, key: str, **kwargs) -> ValidationError:
        return ValidationError(str(self.error_messages[key]).format(**kwargs))


def _trimmed(value):
    return value.strip() if isinstance(value, str) else value


class String(_Translated, fields.String):
    """Text, trimmed."""

    default_error_messages = {"invalid": _l("문자열이어야 합니다")}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class Integer(_Translated, fields.Integer):
    default_error_messages = {"invalid": _l("정수여야 합니다: '{input}'"), "too_large": _l("수가 너무 큽니다")}


class Float(_Translated, fields.Float):
    default_error_messages = {"invalid": _l("숫자여야 합니다: '{input}'"), "too_large": _l("수가 너무 큽니다"),
                              "special": _l("유한한 숫자여야 합니다")}


class Boolean(_Translated, fields.Boolean):
    default_error_messages = {"invalid": _l("1 또는 0(true 또는 false)이어야 합니다: '{input}'")}


class UUID(_Translated, fields.UUID):
    """A UUID, loaded in the text form the database keeps."""

    default_error_messages = {"invalid_uuid": _l("UUID 형식이 아닙니다")}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return str(super()._deserialize(_trimmed(value), attr, data, **kwargs))


class LocalDateTime(_Translated, fields.DateTime):
    """An ISO 8601 time; one without an offset (a phone's datetime-local field) is the district's wall time."""

    default_error_messages = {"invalid": _l("시각 '{input}'을(를) 읽을 수 없습니다 (예: 2020-03-12T14:30)")}

    def _deserialize(self, value, attr, data, **kwargs):
        dt = super()._deserialize(_trimmed(value), attr, data, **kwargs)
        dt = dt if dt.tzinfo else dt.replace(tzinfo=clock.zone())
        try:
            dt.astimezone(timezone.utc)  # what the database stores: 0001-01-01T00:00+14:00 has no UTC time
        except OverflowError:
            raise self.make_error("invalid", input=value) from None
        return dt


class Week(String):
    """An ISO week label such as 2020-W11."""

    def __init__(self, **kwargs):
        metadata = {"pattern": WEEK_PATTERN, "example": "2020-W11", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        label = super()._deserialize(value, attr, data, **kwargs)
        try:
            clock.parse_week(label)
        except ValueError:
            raise ValidationError(_("%(name)s은(는) 2020-W11 형식의 ISO 주여야 합니다: '%(v)s'",
                                    name=self.data_key or self.name, v=label)) from None
        return label


class Dong(String):
    """One of the district's dongs in any usual spelling (당산 1동, 신길제6동), loaded as its own name."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        canon = district.current().canonical_dong(name)
        if canon is None:
            raise ValidationError(_("행정동 '%(v)s'은(는) 이 구의 행정동이 아닙니다", v=name))
        return canon


class Band(String):
    """One of the district's head-count bands, by its label."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        label = super()._deserialize(value, attr, data, **kwargs)
        if label not in district.current().band_labels:
            raise ValidationError(_("규모 '%(v)s'은(는) 알 수 없습니다", v=label))
        return label


def district_values(_converter, field, **_kwargs) -> dict:
    """apispec attribute function: the configured district's dongs and bands as the documented values."""
    if isinstance(field, Dong):
        return {"enum": list(district.current().dongs)}
    if isinstance(field, Band):
        return {"enum": list(district.current().band_labels)}
    return {}


# Lazy messages, made once: each is put into words in the reader's language when a check fails.
BETWEEN = _l("{min}~{max} 사이여야 합니다")
ONE_OF = _l("{choices} 중 하나여야 합니다")
AT_MOST = _l("{max}자를 넘을 수 없습니다")


def between(low, high, error=BETWEEN) -> validate.Range:
    """low ≤ value ≤ high (documented as minimum and maximum)."""
    return validate.Range(low, high, error=error)


def one_of(choices, error=ONE_OF) -> validate.OneOf:
    """One of the choices (documented as an enum)."""
    return validate.OneOf(choices, error=error)


def at_most(n: int, error=AT_MOST) -> validate.Length:
    """At most n characters (documented as maxLength)."""
    return validate.Length(max=n, error=error)


# --- schemas --------------------------------------------------------------------------------------------------

class _Object(Schema):
    """An object whose keys the schema does not name are ignored."""

    error_messages = {"type": _l("JSON 객체여야 합니다")}

    class Meta:
        unknown = EXCLUDE


class Input(_Object):
    """Input from a form, a query or a JSON body: a blank value is an absent one (a form's empty field, `?dong=`)."""

    @pre_load
    def _blank_is_absent(self, data, **_kwargs):
        if not isinstance(data, Mapping):
            return data  # the schema then says it wants an object
        return {k: v for k, v in data.items() if v is not None and not (isinstance(v, str) and not v.strip())}


class AnswerIn(_Object):
    value = String(required=True, validate=one_of(ANSWER_VALUES, _l("답은 {choices} 중 하나여야 합니다")),
                   error_messages={"required": _l("답이 없습니다")})
    note = String(load_default="", validate=at_most(NOTE_MAX, _l("메모는 {max}자를 넘을 수 없습니다")))


class Answers(_Translated, fields.Dict):
    """{item key: answer}; a wrong answer is reported under answers.<item key>, as a missing one is."""

    default_error_messages = {"invalid": _l("answers는 항목 키별 답의 객체여야 합니다")}

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=fields.Nested(AnswerIn), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> dict:
        # One load of the list: a nested load per answer costs several times more. A wrong answer is left out
        # of the valid ones rather than kept in part.
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        keys = list(value)
        try:
            return dict(zip(keys, _ANSWER_LIST.load(list(value.values()))))
        except ValidationError as exc:
            messages = {keys[i]: ["; ".join(flat(m).values())] for i, m in exc.messages.items()}
            valid = {k: v for k, v in zip(keys, exc.valid_data or []) if k not in messages}
            raise ValidationError(messages, valid_data=valid) from None


_ANSWER_LIST = AnswerIn(many=True)


# The form shows these at its top, away from any input (lat and lng are filled in by the phone): they say what.
_MODE = _l("점검 방식은 onsite(현장점검) 또는 phone(전화 모니터링)이어야 합니다")
_PLACE = {"invalid": _l("위치 값 '{input}'이(가) 숫자가 아닙니다"), "special": _l("위치 값이 숫자가 아닙니다")}
_PLACE_RANGE = _l("위치 값 '{input}'이(가) 범위를 벗어났습니다")


class Submission(Input):
    """An inspection as a phone sends it: the API's JSON body, or the inspection page's form."""

    site_id = Integer(validate=between(1, 2**31 - 1), metadata={"description": "the site, or qr_token"})
    qr_token = String(metadata={"description": "the code printed on the site's QR, naming the site (it proves no "
                                               "presence: scan /s/<code> for a scan_token)"})
    mode = String(required=True, validate=one_of(MODES, _MODE), error_messages={"required": _MODE})
    client_uuid = UUID(required=True, error_messages={"invalid_uuid": _l("client_uuid가 UUID 형식이 아닙니다")},
                       metadata={"description": "made by the phone when it opens the form; a "
                                                "replay with the same one returns the saved inspection"})
    answers = Answers(required=True, metadata={"description": "every item that applies to the mode, by key"})
    device_time = LocalDateTime()
    contact_name = String(load_default="", validate=at_most(CONTACT_MAX),
                          metadata={"description": "who answered the call (phone mode)"})
    called_at = LocalDateTime()
    lat = Float(validate=between(-90, 90, _PLACE_RANGE), error_messages=_PLACE)
    lng = Float(validate=between(-180, 180, _PLACE_RANGE), error_messages=_PLACE)
    location_consent = String(validate=one_of(("given", "refused")), metadata={
        "description": "the user's answer to recording their position, when given on a phone offline; it counts "
                       "only if the server holds no answer of theirs yet. lat/lng are dropped without a consent"})
    note = String(load_default="", validate=at_most(NOTE_MAX, _l("전체 메모는 {max}자를 넘을 수 없습니다")))
    scan_token = String(metadata={"description": "the signed scan record that /s/<code> made for this user: proof "
                                                 "of presence for one inspection"})
    form_token = String(metadata={"description": "the signed owner of the form (inspector and client_uuid) that the "
                                                 "page put into it; a submission in another user's name is a 409"})
    offline_qr_token = String(validate=at_most(100), metadata={
        "description": "the site's code as the phone read it with no signal (a weaker, offline proof)"})
    offline_scanned_at = LocalDateTime(metadata={"description": "the phone's time of that offline scan"})


SUBMISSION = Submission()


# --- errors ---------------------------------------------------------------------------------------------------

def flat(messages, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as {dotted field: message}, the API's error shape (the input as a whole is
    'body')."""
    if not isinstance(messages, dict):
        return {prefix or "body": "; ".join(str(m) for m in messages)}
    out: dict[str, str] = {}
    for key, value in messages.items():
        name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
        out.update(flat(value, name))
    return out


def load(schema: Schema, raw) -> tuple[dict, dict[str, str]]:
    """(the fields that are right, {field: message} for those that are not): every wrong field at once, so that
    the caller can add its own rules' errors to them."""
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return valid, flat(exc.messages)


# --- the access log of personal data (issue 13) --------------------------------------------------------------

class Day(_Translated, fields.Date):
    """A calendar day in the district, YYYY-MM-DD."""

    default_error_messages = {"invalid": _l("날짜 '{input}'을(를) 읽을 수 없습니다 (예: 2020-03-12)")}

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(_trimmed(value), attr, data, **kwargs)
        if day.year not in clock.INPUT_YEARS:  # a day after it must stay on the calendar
            raise self.make_error("invalid", input=value)
        return day


class AccessLogFilter(Input):
    """The access log's filters, on the admin page and in the API: an account, a period of days, an action."""

    user = String(validate=at_most(200), metadata={"description": "an account's id or e-mail"})
    first = Day(data_key="from", metadata={"description": "first day (district time), inclusive"})
    last = Day(data_key="to", metadata={"description": "last day (district time), inclusive"})
    action = String(validate=one_of(ACCESS_ACTIONS))
