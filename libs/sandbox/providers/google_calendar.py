"""Calendar API v3 events (insert / get / patch / update / delete) and ``users/me/calendarList``."""

from __future__ import annotations

import base64
import copy
import re
import secrets
from typing import Any

from aiohttp import web

from sandbox.core import Grant, Sandbox, json_response, read_json, route
from sandbox.providers.google_common import (
    CALENDAR_LIST,
    EVENTS_READ,
    EVENTS_WRITE,
    NAME,
    authorize,
    error,
    format_millis,
    parse_rfc3339,
    zone,
)
from sandbox.providers.google_events import (
    attendee_calendars,
    complete_event,
    created_record,
    index_invites,
    invited_events,
    merge_patch,
    new_conference,
    new_etag,
)
from sandbox.providers.google_state import ROLES, Calendar, State

BASE = "/www.googleapis.com/calendar/v3"
SERVICE = "calendar-json.googleapis.com"
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
SEND_UPDATES = ("all", "externalOnly", "none")
MAX_CALENDAR_LIST_PAGE = 250


def _not_found() -> web.Response:
    return error(404, "notFound", "Not Found")


def _gone() -> web.Response:
    return error(410, "deleted", "Resource has been deleted")


def _calendar_for(state: State, grant: Grant, calendar_id: str, need: str) -> Calendar | web.Response:
    """The calendar ``calendarId`` names for this caller with at least role ``need``."""
    cal_id = grant.email if calendar_id == "primary" else calendar_id
    calendar = state.calendar(cal_id or "")
    role = calendar.role_of(grant.email) if calendar else None
    if calendar is None or role is None or role == "freeBusyReader":
        return _not_found()
    if ROLES.index(role) < ROLES.index(need):
        return error(
            403, "requiredAccessLevel", "You need to have writer access to this calendar.", domain="calendar"
        )
    return calendar


def _validate_time(event: dict[str, Any], key: str) -> str | None:
    value = event.get(key)
    if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
        return f"Missing {key} time."
    if value.get("dateTime"):
        raw = value["dateTime"]
        try:
            if value.get("timeZone"):
                zone(value["timeZone"])
                if "T" not in raw:
                    raise ValueError(raw)
            else:
                parse_rfc3339(raw)
        except ValueError:
            if not value.get("timeZone") and "T" in str(raw):
                return f"Missing time zone definition for {key} time."
            return f"Invalid {key} time."
    return None


def _check_event_body(event: Any) -> web.Response | None:
    if not isinstance(event, dict):
        return error(400, "badRequest", "Bad Request")
    for key in ("start", "end"):
        problem = _validate_time(event, key)
        if problem:
            reason = "required" if problem.startswith("Missing") and "zone" not in problem else "invalid"
            return error(400, reason, problem)
    if ("date" in event["start"]) != ("date" in event["end"]):
        return error(400, "invalid", "Start and end times must either both be date or both be dateTime.")
    if _sort_key(event["end"]) <= _sort_key(event["start"]):
        return error(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
    for attendee in event.get("attendees", []):
        if not isinstance(attendee, dict) or not attendee.get("email"):
            return error(400, "required", "Missing attendee email.")
    return None


def _sort_key(value: dict[str, Any]) -> float:
    if value.get("date"):
        return parse_rfc3339(value["date"] + "T00:00:00+00:00").timestamp()
    raw = value["dateTime"]
    try:
        return parse_rfc3339(raw).timestamp()
    except ValueError:
        return parse_rfc3339(raw + "+00:00").timestamp()


def _query_flags(request: web.Request) -> tuple[int, str | None] | web.Response:
    version = request.query.get("conferenceDataVersion", "0")
    if version not in ("0", "1"):
        return error(400, "invalid", "Invalid conference data version.", location="conferenceDataVersion")
    send = request.query.get("sendUpdates")
    if send is not None and send not in SEND_UPDATES:
        return error(400, "invalid", f"Invalid value for sendUpdates: {send}", location="sendUpdates")
    if send is None and request.query.get("sendNotifications") is not None:
        send = "all" if request.query["sendNotifications"] == "true" else "none"
    return int(version), send


def _apply_conference(
    state: State, calendar: Calendar, event: dict[str, Any], requested: Any, version: int
) -> web.Response | None:
    """Create or keep Meet conference data; only when ``conferenceDataVersion=1``."""
    if version != 1 or not isinstance(requested, dict):
        return None
    create = requested.get("createRequest")
    if not isinstance(create, dict):
        event["conferenceData"] = copy.deepcopy(requested)
        return None
    solution = (create.get("conferenceSolutionKey") or {}).get("type", "hangoutsMeet")
    if solution != "hangoutsMeet":
        return error(400, "invalid", "Invalid conference type value.")
    request_id = str(create.get("requestId") or "")
    if not request_id:
        return error(400, "invalid", "Missing conference request id.")
    current = event.get("conferenceData", {}).get("createRequest", {}).get("requestId")
    if current == request_id:
        return None  # the same request again is ignored
    key = (calendar.id.lower(), request_id)
    conference = state.conferences.get(key) or new_conference(request_id)
    state.conferences[key] = conference
    event["conferenceData"] = copy.deepcopy(conference)
    event["hangoutLink"] = conference["entryPoints"][0]["uri"]
    return None


def _view(event: dict[str, Any], version: int) -> dict[str, Any]:
    """The event as a client sees it (conference data only for ``conferenceDataVersion=1`` clients)."""
    return {
        k: v for k, v in event.items() if not k.startswith("_") and (version == 1 or k != "conferenceData")
    }


def _record(
    state: State,
    calendar: Calendar,
    event: dict[str, Any],
    op: str,
    send: str | None,
    version: int,
    now: float,
) -> None:
    entry = {
        "op": op,
        "sendUpdates": send or "false",
        "conferenceDataVersion": version,
        "at": format_millis(now),
    }
    record = created_record(state, calendar, event["id"])
    if record is None:
        record = {"calendarId": calendar.id, "eventId": event["id"], "history": []}
        state.created_events.append(record)
    record.update(event=event, sendUpdates=send, conferenceDataVersion=version, deleted=op == "delete")
    record["history"].append(entry)


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add the events and calendarList routes."""

    def auth(request: web.Request, scopes: frozenset[str], method: str) -> Grant | web.Response:
        return authorize(request, sandbox, scopes, service=SERVICE, method=method)

    @route("google.events.insert", NAME)
    async def insert(request: web.Request) -> web.Response:
        grant = auth(request, EVENTS_WRITE, "calendar.v3.Events.Insert")
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        calendar = _calendar_for(state, grant, request.match_info["calendarId"], "writer")
        if isinstance(calendar, web.Response):
            return calendar
        flags = _query_flags(request)
        if isinstance(flags, web.Response):
            return flags
        version, send = flags
        try:
            body = await read_json(request)
        except ValueError:
            return error(400, "parseError", "Parse Error")
        problem = _check_event_body(body)
        if problem is not None:
            return problem
        event_id = body.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
                return error(400, "invalid", "Invalid resource id value.")
            if event_id in calendar.events:
                return error(409, "duplicate", "The requested identifier already exists.")
        event = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("conferenceData", "hangoutLink")}
        now = sandbox.clock()
        for key in ("etag", "htmlLink", "iCalUID", "created", "updated", "creator", "organizer"):
            event.pop(key, None)
        event["status"] = body.get("status", "confirmed")
        complete_event(event, calendar, now)
        problem = _apply_conference(state, calendar, event, body.get("conferenceData"), version)
        if problem is not None:
            return problem
        calendar.events[event["id"]] = event
        index_invites(state, calendar, event)
        _record(state, calendar, event, "insert", send, version, now)
        return json_response(_view(event, version))

    @route("google.events.get", NAME)
    async def get(request: web.Request) -> web.Response:
        grant = auth(request, EVENTS_READ, "calendar.v3.Events.Get")
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        calendar = _calendar_for(state, grant, request.match_info["calendarId"], "reader")
        if isinstance(calendar, web.Response):
            return calendar
        event_id = request.match_info["eventId"]
        event = calendar.events.get(event_id)
        if event is None:
            event = next((e for e in invited_events(state, calendar.id) if e["id"] == event_id), None)
        if event is None:
            return _not_found()
        return json_response(_view(event, 1))

    async def _change(request: web.Request, op: str) -> web.Response:
        method = "calendar.v3.Events.Patch" if op == "patch" else "calendar.v3.Events.Update"
        grant = auth(request, EVENTS_WRITE, method)
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        calendar = _calendar_for(state, grant, request.match_info["calendarId"], "writer")
        if isinstance(calendar, web.Response):
            return calendar
        flags = _query_flags(request)
        if isinstance(flags, web.Response):
            return flags
        version, send = flags
        event = calendar.events.get(request.match_info["eventId"])
        if event is None:
            return _not_found()
        if event.get("_deleted"):
            return _gone()
        if_match = request.headers.get("If-Match")
        if if_match and if_match != event["etag"]:
            return error(
                412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header"
            )
        try:
            body = await read_json(request)
        except ValueError:
            return error(400, "parseError", "Parse Error")
        if not isinstance(body, dict):
            return error(400, "badRequest", "Bad Request")
        fixed: dict[str, Any] = {
            k: event[k]
            for k in ("id", "iCalUID", "htmlLink", "created", "creator", "organizer", "kind")
            if k in event
        }
        updated = copy.deepcopy(event)
        changes = {k: v for k, v in body.items() if k not in ("conferenceData", "hangoutLink", *fixed)}
        if op == "update":
            keep: dict[str, Any] = {
                k: updated[k]
                for k in ("conferenceData", "hangoutLink", "sequence", "eventType")
                if k in updated
            }
            updated = {**changes, **keep}
        else:
            merge_patch(updated, changes)
        updated.update(fixed)
        problem = _check_event_body(updated)
        if problem is not None:
            return problem
        problem = _apply_conference(state, calendar, updated, body.get("conferenceData"), version)
        if problem is not None:
            return problem
        if updated.get("start") != event.get("start") or updated.get("end") != event.get("end"):
            updated["sequence"] = int(event.get("sequence", 0)) + 1
        now = sandbox.clock()
        updated["updated"] = format_millis(now)
        updated["etag"] = new_etag()
        complete_event(updated, calendar, now)
        before = attendee_calendars(state, event, calendar.id)
        calendar.events[updated["id"]] = updated
        index_invites(state, calendar, updated, before)
        _record(state, calendar, updated, op, send, version, now)
        return json_response(_view(updated, version))

    @route("google.events.patch", NAME)
    async def patch(request: web.Request) -> web.Response:
        return await _change(request, "patch")

    @route("google.events.update", NAME)
    async def update(request: web.Request) -> web.Response:
        return await _change(request, "update")

    @route("google.events.delete", NAME)
    async def delete(request: web.Request) -> web.Response:
        grant = auth(request, EVENTS_WRITE, "calendar.v3.Events.Delete")
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        calendar = _calendar_for(state, grant, request.match_info["calendarId"], "writer")
        if isinstance(calendar, web.Response):
            return calendar
        flags = _query_flags(request)
        if isinstance(flags, web.Response):
            return flags
        version, send = flags
        event = calendar.events.get(request.match_info["eventId"])
        if event is None:
            return _not_found()
        if event.get("_deleted"):
            return _gone()
        before = attendee_calendars(state, event, calendar.id)
        now = sandbox.clock()
        event.update(status="cancelled", updated=format_millis(now), etag=new_etag())
        event["_deleted"] = True
        index_invites(state, calendar, event, before)
        _record(state, calendar, event, "delete", send, version, now)
        return web.Response(status=204)

    @route("google.calendarList.list", NAME)
    async def calendar_list(request: web.Request) -> web.Response:
        grant = auth(request, CALENDAR_LIST, "calendar.v3.CalendarList.List")
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        return _calendar_list_page(state, grant, request)

    base = f"{BASE}/calendars/{{calendarId}}/events"
    app.router.add_post(base, insert)
    app.router.add_get(f"{base}/{{eventId}}", get)
    app.router.add_patch(f"{base}/{{eventId}}", patch)
    app.router.add_put(f"{base}/{{eventId}}", update)
    app.router.add_delete(f"{base}/{{eventId}}", delete)
    app.router.add_get(f"{BASE}/users/me/calendarList", calendar_list)


def _entries(state: State, email: str) -> list[dict[str, Any]]:
    """The user's calendar list: the primary calendar, then subscribed calendars."""
    out = []
    primary = state.calendar(email)
    subscribed = [(primary, "owner", True)] if primary else []
    for item in state.calendar_list.get(email.lower(), []):
        cal = state.calendar(item["id"])
        if cal is not None and cal is not primary:
            subscribed.append((cal, item.get("accessRole", "reader"), False))
    for cal, role, is_primary in subscribed:
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{abs(hash((cal.id, role))) % 10**16}"',
            "id": cal.id,
            "summary": cal.summary,
            "timeZone": cal.time_zone,
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": role,
            "defaultReminders": [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if is_primary:
            entry["primary"] = True
        out.append(entry)
    return out


def _calendar_list_page(state: State, grant: Grant, request: web.Request) -> web.Response:
    query = request.query
    try:
        size = min(int(query.get("maxResults", "100")), MAX_CALENDAR_LIST_PAGE)
        if size < 1:
            raise ValueError
    except ValueError:
        return error(400, "invalid", "Invalid value for maxResults.", location="maxResults")
    min_role = query.get("minAccessRole")
    if min_role is not None and min_role not in ROLES:
        return error(400, "invalid", f"Invalid value for minAccessRole: {min_role}", location="minAccessRole")
    email = grant.email or ""
    entries = _entries(state, email)
    if min_role:
        entries = [e for e in entries if ROLES.index(e["accessRole"]) >= ROLES.index(min_role)]
    sync = query.get("syncToken")
    if sync is not None:
        known = state.sync_tokens.get(sync)
        if known is None or known[0] != email.lower():
            return error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
        if known[1] == state.calendar_list_version:
            entries = []
    offset = 0
    if query.get("pageToken"):
        try:
            offset = int(base64.urlsafe_b64decode(query["pageToken"].encode()).decode().removeprefix("cl:"))
        except (ValueError, UnicodeDecodeError):
            return error(400, "invalid", "Invalid page token value.", location="pageToken")
    page = entries[offset : offset + size]
    result: dict[str, Any] = {"kind": "calendar#calendarList", "etag": f'"p{state.calendar_list_version}"'}
    if offset + size < len(entries):
        result["nextPageToken"] = base64.urlsafe_b64encode(f"cl:{offset + size}".encode()).decode()
    else:
        token = "CL" + secrets.token_urlsafe(18)
        state.sync_tokens[token] = (email.lower(), state.calendar_list_version)
        result["nextSyncToken"] = token
    result["items"] = page
    return json_response(result)
