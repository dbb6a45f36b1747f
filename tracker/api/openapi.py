"""The OpenAPI 3 document of the API; each area adds its paths to PATHS."""
import copy

from flask import jsonify

from . import bp

ERROR = {"type": "object", "required": ["error", "message"],
         "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "errors": {}}}
SITE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"}, "business_no": {"type": "string"},
    "dong": {"type": "string"}, "headcount": {"type": "integer"}, "size_band": {"type": "string"},
    "status": {"type": "string", "enum": ["active", "closed"]}, "address": {"type": "string"}}}


# ISO weeks 01-53 of years 1000-9999: W00, W60 or year 0000 are refused (422), so the document does not promise
# them. What a pattern cannot say is refused with 422 too: W53 of a year without one, a period over 160 weeks.
WEEK_PATTERN = "^[1-9]\\d{3}-W(0[1-9]|[1-4]\\d|5[0-3])$"


def _err(desc):
    return {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def q(name, schema, desc=""):
    """A query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}


STD_ERRORS = {"401": _err("not authenticated"), "403": _err("role may not"), "422": _err("bad input")}

PATHS = {
    "/api/v1/sites": {"get": {
        "summary": "List sites", "operationId": "listSites",
        "parameters": [q("dong", {"type": "string"}), q("band", {"type": "string"}),
                       q("status", {"type": "string", "enum": ["active", "closed"]}), q("q", {"type": "string"}),
                       q("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                       q("offset", {"type": "integer", "minimum": 0, "maximum": 10**9})],
        "responses": {"200": {"description": "sites", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Site"}}}}}}},
            **STD_ERRORS}}},
    "/api/v1/stats/sites": {"get": {
        "summary": "Active sites by dong and by head-count band", "operationId": "siteStats",
        "responses": {"200": {"description": "counts", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"total": {"type": "integer"}, "by_dong": {"type": "object"},
                                             "by_band": {"type": "object"}}}}}}, **STD_ERRORS}}},
    "/api/v1/tasks": {"get": {
        "summary": "Tasks of a week; inspectors see their own", "operationId": "listTasks",
        "parameters": [q("week", {"type": "string", "pattern": WEEK_PATTERN}),
                       q("status", {"type": "string", "enum": ["open", "done", "missed", "cancelled"]}),
                       q("limit", {"type": "integer", "minimum": 1, "maximum": 5000}),
                       q("offset", {"type": "integer", "minimum": 0, "maximum": 10**9})],
        "responses": {"200": {"description": "tasks"}, **STD_ERRORS}}},
    "/api/v1/actions": {"get": {
        "summary": "Follow-up actions (행정지도)", "operationId": "listActions",
        "parameters": [q("status", {"type": "string", "enum": ["open", "escalated", "cleared"]}),
                       q("dong", {"type": "string"}), q("item", {"type": "string"}),
                       q("limit", {"type": "integer", "minimum": 1, "maximum": 5000}),
                       q("offset", {"type": "integer", "minimum": 0, "maximum": 10**9})],
        "responses": {"200": {"description": "actions"}, **STD_ERRORS}}},
    "/api/v1/summary": {"get": {
        "summary": "Dashboard figures for a period: compliance by dong, band, mode, item and week",
        "operationId": "getSummary",
        "parameters": [q("from", {"type": "string", "pattern": WEEK_PATTERN}, "first ISO week (default: this week)"),
                       q("to", {"type": "string", "pattern": WEEK_PATTERN}, "last ISO week (default: from)"),
                       q("dong", {"type": "string"}, "one of the district's dongs"),
                       q("coverage", {"type": "string", "enum": ["0", "1"]},
                         "1: also sites_inspected and sites_active (the weekly e-mail's coverage figures)")],
        "responses": {"200": {"description": "figures", "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "from": {"type": "string"}, "to": {"type": "string"}, "dong": {"type": "string", "nullable": True},
                "sites_total": {"type": "integer"}, "onsite_sites_inspected": {"type": "integer"},
                "sites_inspected": {"type": "integer", "description": "with coverage=1"},
                "sites_active": {"type": "integer", "description": "with coverage=1"},
                "monitoring_rounds": {"type": "integer"}, "inspections": {"type": "integer"},
                "compliant": {"type": "integer"}, "yes": {"type": "integer"}, "no": {"type": "integer"},
                "na": {"type": "integer"}, "compliance_rate": {"type": "number", "nullable": True},
                "compliant_share": {"type": "number", "nullable": True}, "confirmed_cases": {"type": "integer"},
                "by_dong": {"type": "array"}, "by_band": {"type": "array"}, "by_mode": {"type": "object"},
                "by_item": {"type": "array"}, "weeks": {"type": "array"}, "progress": {"type": "object"},
                "lowest_sites_from": {"type": "string", "description": "first week of the lowest_sites window"},
                "lowest_sites": {"type": "array", "description": "the sites with the lowest rate in the period's "
                                 "last 4 weeks, lowest first (at most 10)", "items": {"type": "object", "properties": {
                                     "site_id": {"type": "integer"}, "name": {"type": "string"},
                                     "dong": {"type": "string"}, "status": {"type": "string"},
                                     "inspections": {"type": "integer"}, "yes": {"type": "integer"},
                                     "no": {"type": "integer"}, "na": {"type": "integer"},
                                     "compliance_rate": {"type": "number"}}}},
                "action_ages": {"type": "array"},
                "actions_as_of": {"type": "string", "nullable": True,
                                  "description": "UTC instant the action ages stand at; null: now"},
                "definitions": {"type": "object"}}}}}},
            **STD_ERRORS}}},
    "/api/v1/csrf-token": {"get": {
        "summary": "A fresh CSRF token for session-authenticated writes", "operationId": "csrfToken",
        "responses": {"200": {"description": "token"}, "401": _err("not authenticated")}}},
    # --- inspections (issue 3) ---
    "/api/v1/inspections": {
        "post": {
            "summary": "Submit an inspection (idempotent on client_uuid)", "operationId": "submitInspection",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["mode", "client_uuid", "answers"],
                "properties": {
                    "site_id": {"type": "integer"}, "qr_token": {"type": "string"},
                    "mode": {"type": "string", "enum": ["onsite", "phone"]},
                    "client_uuid": {"type": "string", "format": "uuid"},
                    "answers": {"type": "object", "additionalProperties": {"type": "object", "required": ["value"],
                                "properties": {"value": {"type": "string", "enum": ["yes", "no", "na"]},
                                               "note": {"type": "string"}}}},
                    "device_time": {"type": "string", "format": "date-time"},
                    "contact_name": {"type": "string"}, "called_at": {"type": "string", "format": "date-time"},
                    "lat": {"type": "number"}, "lng": {"type": "number"}, "note": {"type": "string"}}}}}},
            "responses": {"201": {"description": "the new inspection"},
                          "200": {"description": "the inspection already saved under this client_uuid"},
                          "409": _err("client_uuid already used by another inspector's inspection"),
                          **STD_ERRORS}},
        "get": {
            "summary": "Inspections by site and week; inspectors see their own", "operationId": "listInspections",
            "parameters": [q("site_id", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}), q("week", {"type": "string", "pattern": WEEK_PATTERN}),
                           q("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                           q("offset", {"type": "integer", "minimum": 0, "maximum": 10**9})],
            "responses": {"200": {"description": "inspections"}, **STD_ERRORS}}},
    "/api/v1/checklist": {"get": {
        "summary": "The published checklist template", "operationId": "currentChecklist",
        "responses": {"200": {"description": "version and items (key, label_ko, label_en, category, critical, modes)"},
                      "404": _err("no template published"), "401": _err("not authenticated")}}},
}


def _with_district(paths: dict) -> dict:
    """The paths with the configured district's dongs and head-count bands as the allowed values."""
    from .. import district
    d = district.current()
    enums = {"dong": list(d.dongs), "band": list(d.band_labels)}
    out = copy.deepcopy(paths)
    for ops in out.values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["name"] in enums:
                    param["schema"] = {**param["schema"], "enum": enums[param["name"]]}
    return out


@bp.route("/openapi.json")
def openapi():
    """The API's OpenAPI document (public, so that clients can discover it)."""
    return jsonify({
        "openapi": "3.0.3",
        "info": {"title": "Tracker API", "version": "1"},
        "components": {"schemas": {"Error": ERROR, "Site": SITE},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": _with_district(PATHS),
    })
