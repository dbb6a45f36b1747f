"""The API's query arguments and response bodies. Each schema both reads or writes the data and describes it in the
OpenAPI document; the inspection body the API shares with the page is tracker.schemas.Submission."""
from datetime import timezone

from marshmallow import Schema, fields
from marshmallow.utils import get_value, missing

from .. import schemas as shape
from ..masking import mask_email, mask_name, mask_phone
from ..models import ANSWER_VALUES, MODES
from ..services import inspections

SITE_STATUSES = ("active", "closed")
TASK_STATUSES = ("open", "done", "missed", "cancelled")
ACTION_STATUSES = ("open", "escalated", "reported", "cleared")


class Envelope(Schema):
    """A response body around the records: written inline in its operation, where the records are components."""


def component_name(schema) -> str | None:
    """apispec's schema_name_resolver: records by their class name without 'Schema', envelopes inline."""
    cls = schema if isinstance(schema, type) else type(schema)
    return None if issubclass(cls, Envelope) else cls.__name__.removesuffix("Schema")


def _enum(values) -> dict:
    return {"enum": list(values)}


class UtcTime(fields.DateTime):
    """A stored time as ISO 8601 in UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value.astimezone(timezone.utc).isoformat() if value else None


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "invalid, forbidden, authentication required …"})
    message = fields.String(required=True, metadata={"description": "what is wrong, in the user's language"})
    errors = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "each wrong field (dotted when nested, e.g. answers.masks_mandatory) with its message"})


# --- query arguments ------------------------------------------------------------------------------------------

class PageArgs(shape.Input):
    offset = shape.Integer(load_default=0, validate=shape.between(0, 10**9))


class SiteArgs(PageArgs):
    dong = shape.Dong(metadata={"description": "one of the district's dongs (usual spellings are accepted)"})
    band = shape.Band(metadata={"description": "a head-count band"})
    status = shape.String(validate=shape.one_of(SITE_STATUSES))
    q = shape.String(metadata={"description": "part of the name, or of the business number"})
    limit = shape.Integer(load_default=100, validate=shape.between(1, 500))


class TaskArgs(PageArgs):
    week = shape.Week(metadata={"description": "default: this week"})
    status = shape.String(validate=shape.one_of(TASK_STATUSES))
    limit = shape.Integer(load_default=500, validate=shape.between(1, 5000))


class ActionArgs(PageArgs):
    status = shape.String(validate=shape.one_of(ACTION_STATUSES), metadata={"description": "open includes escalated"})
    dong = shape.Dong()
    item = shape.String(metadata={"description": "a checklist item's key"})
    limit = shape.Integer(load_default=500, validate=shape.between(1, 5000))


class InspectionArgs(PageArgs):
    site_id = shape.Integer(validate=shape.between(0, 2**31 - 1))
    week = shape.Week()
    limit = shape.Integer(load_default=100, validate=shape.between(1, 500))


class AccessLogArgs(shape.AccessLogFilter, PageArgs):
    limit = shape.Integer(load_default=100, validate=shape.between(1, 500))


class SummaryArgs(shape.Input):
    first = shape.Week(data_key="from", metadata={"description": "first ISO week (default: this week)"})
    last = shape.Week(data_key="to", metadata={"description": "last ISO week (default: from)"})
    dong = shape.Dong(metadata={"description": "one of the district's dongs"})
    coverage = shape.Boolean(load_default=False, metadata={
        "description": "true: also sites_inspected and sites_active (the weekly e-mail's coverage figures)"})


# --- records --------------------------------------------------------------------------------------------------

class SiteSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    business_no = fields.String()
    dong = fields.String()
    headcount = fields.Integer()
    size_band = fields.String()
    status = fields.String(metadata=_enum(SITE_STATUSES))
    address = fields.String()
    manager_name = fields.Function(lambda s: mask_name(s.manager_name), metadata={
        "type": "string", "description": "the prevention officer, masked (김*용); in full on the site's page"})
    manager_phone = fields.Function(lambda s: mask_phone(s.manager_phone), metadata={
        "type": "string", "description": "the officer's phone, masked (010-****-5678)"})
    manager_email = fields.Function(lambda s: mask_email(s.manager_email), metadata={
        "type": "string", "description": "the officer's e-mail, masked (ab***@example.com); empty if none"})


class TaskSchema(Schema):
    id = fields.Integer()
    site_id = fields.Integer()
    site_name = fields.String(attribute="site.name")
    dong = fields.String(attribute="site.dong")
    week = fields.String()
    kind = fields.String()
    slot = fields.Integer()
    required_mode = fields.String()
    due_at = UtcTime()
    status = fields.String(metadata=_enum(TASK_STATUSES))
    overdue = fields.Boolean()
    assignee_id = fields.Integer(allow_none=True)
    done_inspection_id = fields.Integer(allow_none=True)


class ActionSchema(Schema):
    id = fields.Integer()
    site_id = fields.Integer()
    site_name = fields.String(attribute="site.name")
    dong = fields.String(attribute="site.dong")
    item_key = fields.String()
    critical = fields.Boolean()
    status = fields.String(metadata=_enum(ACTION_STATUSES))
    opened_at = UtcTime()
    due_at = UtcTime()
    cleared_at = UtcTime(allow_none=True)
    opened_inspection_id = fields.Integer(allow_none=True)
    cleared_inspection_id = fields.Integer(allow_none=True)


class AnswerSchema(Schema):
    value = fields.String(metadata=_enum(ANSWER_VALUES))
    note = fields.String()


class PhotoSchema(Schema):
    item_key = fields.String()
    sha256 = fields.String()
    width = fields.Integer()
    height = fields.Integer()


class _Answers(fields.Dict):
    def __init__(self):
        super().__init__(keys=fields.String(), values=fields.Nested(AnswerSchema),
                         metadata={"description": "by checklist item key"})

    def _serialize(self, value, attr, obj, **kwargs):
        # One dump of the list rather than one nested dump per answer (a submit's answer is described at once).
        answers = list(value)
        return dict(zip((get_value(a, "item_key") for a in answers), _ANSWER_LIST.dump(answers)))


_ANSWER_LIST = AnswerSchema(many=True)


class _TemplateVersion(fields.Integer):
    def get_value(self, obj, attr, accessor=None, default=missing):
        return inspections.template_version(obj.template_id)


class InspectionSchema(Schema):
    id = fields.Integer()
    client_uuid = fields.UUID()
    site_id = fields.Integer()
    mode = fields.String(metadata=_enum(MODES))
    template_id = fields.Integer()
    template_version = _TemplateVersion(allow_none=True)
    inspector_id = fields.Integer(allow_none=True)
    week = fields.String()
    submitted_at = UtcTime()
    device_time = UtcTime(allow_none=True)
    qr_scanned_at = UtcTime(allow_none=True, metadata={
        "description": "the server's time of a scan record of this inspector at this site, used once: the proof of "
                       "presence"})
    offline_scanned_at = UtcTime(allow_none=True, metadata={
        "description": "a weaker proof: the site's code scanned with no signal, at the phone's (unchecked) time"})
    contact_name = fields.String()
    called_at = UtcTime(allow_none=True)
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    yes_count = fields.Integer()
    no_count = fields.Integer()
    na_count = fields.Integer()
    critical_no_count = fields.Integer()
    compliant = fields.Boolean(metadata={"description": "no critical item answered no"})
    answers = _Answers()
    photos = fields.List(fields.Nested(PhotoSchema))


class AccessRecordSchema(Schema):
    id = fields.Integer()
    at = UtcTime()
    user_id = fields.Integer(allow_none=True)
    user_email = fields.String()
    ip = fields.String(metadata={"description": "the client's address"})
    action = fields.String(metadata=_enum(shape.ACCESS_ACTIONS))
    subject = fields.Dict(metadata={"description": "whose data: {site}, {users}, {inspection}, {inspections}, or "
                                                   "an export's {export, format, filters, rows, full}"})
    reason = fields.String(metadata={"description": "the reason given for an export (사유)"})


class ChecklistItemSchema(Schema):
    key = fields.String()
    label_ko = fields.String()
    label_en = fields.String()
    category = fields.String()
    critical = fields.Boolean()
    modes = fields.List(fields.String(metadata=_enum(MODES)), attribute="mode_list")


# --- response bodies ------------------------------------------------------------------------------------------

class _Page(Envelope):
    limit = fields.Integer()
    offset = fields.Integer()


class SiteListSchema(_Page):
    items = fields.List(fields.Nested(SiteSchema))


class SiteStatsSchema(Envelope):
    total = fields.Integer()
    by_dong = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_band = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "in band order"})


class TaskListSchema(_Page):
    week = fields.String()
    items = fields.List(fields.Nested(TaskSchema))


class ActionListSchema(_Page):
    items = fields.List(fields.Nested(ActionSchema))


class InspectionListSchema(_Page):
    items = fields.List(fields.Nested(InspectionSchema))


class AccessLogSchema(_Page):
    items = fields.List(fields.Nested(AccessRecordSchema))


class ChecklistSchema(Envelope):
    name = fields.String()
    version = fields.Integer()
    items = fields.List(fields.Nested(ChecklistItemSchema))


class CsrfTokenSchema(Envelope):
    csrf_token = fields.String()


# --- the summary ----------------------------------------------------------------------------------------------

class CountsSchema(Schema):
    inspections = fields.Integer()
    yes = fields.Integer()
    no = fields.Integer()
    na = fields.Integer()
    compliance_rate = fields.Float(allow_none=True, metadata={"description": "per cent; null when nothing applied"})


class FiguresSchema(CountsSchema):
    compliant = fields.Integer()
    compliant_share = fields.Float(allow_none=True, metadata={"description": "per cent"})


class GroupFiguresSchema(FiguresSchema):
    key = fields.String()
    sites = fields.Integer()
    onsite_sites_inspected = fields.Integer()


class WeekFiguresSchema(FiguresSchema):
    week = fields.String()
    round = fields.Boolean(metadata={"description": "a monitoring round was held that week"})


class ItemFiguresSchema(CountsSchema):
    key = fields.String()
    label = fields.String()
    category = fields.String()
    critical = fields.Boolean()
    retired = fields.Boolean(metadata={"description": "dropped from the published checklist"})
    failure_rate = fields.Float(allow_none=True)


class LowestSiteSchema(CountsSchema):
    site_id = fields.Integer()
    name = fields.String()
    dong = fields.String()
    status = fields.String(metadata=_enum(SITE_STATUSES))


class ProgressSchema(Schema):
    week = fields.String()
    tasks = fields.Integer()
    done = fields.Integer()
    open = fields.Integer()
    overdue = fields.Integer()
    missed = fields.Integer()


class ActionAgeSchema(Schema):
    first = fields.Integer(attribute="from", data_key="from", metadata={"description": "days open, from"})
    last = fields.Integer(attribute="to", data_key="to", allow_none=True,
                          metadata={"description": "days open, to; null: and more"})
    count = fields.Integer()


class SummarySchema(Envelope, FiguresSchema):
    first = fields.String(attribute="from", data_key="from")
    last = fields.String(attribute="to", data_key="to")
    dong = fields.String(allow_none=True)
    weeks_in_period = fields.Integer()
    sites_total = fields.Integer()
    onsite_sites_inspected = fields.Integer()
    sites_inspected = fields.Integer(metadata={"description": "with coverage=true"})
    sites_active = fields.Integer(metadata={"description": "with coverage=true"})
    monitoring_rounds = fields.Integer()
    confirmed_cases = fields.Integer()
    by_dong = fields.List(fields.Nested(GroupFiguresSchema))
    by_band = fields.List(fields.Nested(GroupFiguresSchema))
    by_mode = fields.Dict(keys=fields.String(metadata=_enum(MODES)), values=fields.Nested(FiguresSchema))
    by_item = fields.List(fields.Nested(ItemFiguresSchema), metadata={"description": "most failed first"})
    lowest_sites_from = fields.String(metadata={"description": "first week of the lowest_sites window"})
    lowest_sites = fields.List(fields.Nested(LowestSiteSchema), metadata={
        "description": "the sites with the lowest rate in the period's last 4 weeks, lowest first (at most 10)"})
    weeks = fields.List(fields.Nested(WeekFiguresSchema))
    progress = fields.Nested(ProgressSchema, metadata={"description": "the last week's monitoring"})
    actions_as_of = UtcTime(allow_none=True, metadata={"description": "the instant the action ages stand at; "
                                                       "null: now"})
    action_ages = fields.List(fields.Nested(ActionAgeSchema))
    definitions = fields.Dict(keys=fields.String(), values=fields.String())
