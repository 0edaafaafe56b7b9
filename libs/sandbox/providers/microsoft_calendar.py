"""Graph calendar endpoints: ``getSchedule``, events create/get/patch/delete and ``onlineMeetings``
(create, get, patch, delete)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
from datetime import UTC, timedelta
from typing import Any

from aiohttp import web

from sandbox.core import Sandbox, json_response, route
from sandbox.providers.microsoft_graph import (
    CAL_OTHERS,
    CAL_READ,
    CAL_WRITE,
    CONTEXT,
    GRAPH_PREFIX,
    NAME,
    Caller,
    authenticate,
    deny,
    graph_error,
    json_body,
    target_user,
)
from sandbox.providers.microsoft_meetings import make_online_meeting_handlers, make_online_meetings
from sandbox.providers.microsoft_schedule import schedule_error, schedule_information
from sandbox.providers.microsoft_state import DEFAULT_WORKING_HOURS, MsEvent, MsUser, State, event_from_data
from sandbox.providers.microsoft_time import (
    graph_dt,
    iso_utc,
    parse_graph_datetime,
    prefer_timezone,
    resolve_zone,
)

MAX_SCHEDULES = 20
MAX_WINDOW = timedelta(days=62)
#: responseCode of a per-schedule error injected with a calendar fault of this status.
FAULT_RESPONSE_CODES = {
    403: "ErrorAccessDenied",
    404: "ErrorMailRecipientNotFound",
    429: "ErrorServerBusy",
    500: "ErrorInternalServerError",
    503: "ErrorInternalServerTransientError",
}
EVENT_FIELDS = (
    "subject", "body", "start", "end", "location", "locations", "attendees", "isAllDay", "showAs",
    "sensitivity", "importance", "categories", "recurrence", "isOnlineMeeting", "onlineMeetingProvider",
    "allowNewTimeProposals", "responseRequested", "isReminderOn", "reminderMinutesBeforeStart",
    "transactionId", "hideAttendees",
)  # fmt: skip


def _caller_and_user(
    request: web.Request, sandbox: Sandbox, perms: tuple[frozenset[str], frozenset[str]], others: frozenset[str]
) -> tuple[Caller, MsUser, State] | web.Response:
    """Authenticate, check the permission, resolve the path's user (delegated: self unless ``others``)."""
    caller = authenticate(request, sandbox)
    if isinstance(caller, web.Response):
        return caller
    if not caller.allowed(perms):
        return deny(request)
    state: State = sandbox.state[NAME]
    user = target_user(request, caller, state, request.match_info.get("user"))
    if isinstance(user, web.Response):
        return user
    if caller.user is not None and user is not caller.user and not caller.grant.scopes & others:
        return deny(request)
    return caller, user, state


def _prefer_zone(request: web.Request) -> tuple[Any, str, dict[str, str]]:
    name = prefer_timezone(request.headers.get("Prefer"))
    zone = resolve_zone(name) if name else None
    if zone is None:
        return UTC, "UTC", {}
    return zone, name or "UTC", {"Preference-Applied": f'outlook.timezone="{name}"'}


# ------------------------------------------------------------------------------------- getSchedule
def make_get_schedule(sandbox: Sandbox) -> Any:
    """``POST /users/{id|upn}/calendar/getSchedule`` and ``/me/calendar/getSchedule``."""

    @route("microsoft.getSchedule", NAME)
    async def get_schedule(request: web.Request) -> web.StreamResponse:
        found = _room_path(request, sandbox) or _caller_and_user(request, sandbox, CAL_READ, CAL_OTHERS)
        if isinstance(found, web.Response):
            return found
        caller, _user, state = found
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        checked = _check_schedule_request(request, body)
        if isinstance(checked, web.Response):
            return checked
        schedules, a, b, interval = checked
        zone, zone_name, headers = _prefer_zone(request)
        value = []
        for sid in schedules:
            fault = sandbox.faults.take_calendar_fault(NAME, sid)
            if fault is not None and fault.kind == "latency":
                await asyncio.sleep(fault.latency_ms / 1000)
            elif fault is not None and fault.kind in ("status", "timeout"):
                value.append(_fault_entry(sid, fault.status if fault.kind == "status" else 504, fault.body))
                continue
            mailbox = state.mailbox(sid, caller.tenant.id)
            if mailbox is None:
                value.append(schedule_error(
                    sid, f"Failed to resolve the mailbox '{sid}': the recipient was not found.",
                    "ErrorMailRecipientNotFound"))  # fmt: skip
                continue
            _kind, ident, settings = mailbox
            hours = _working_hours(settings)
            value.append(schedule_information(sid, state.schedule(ident), a, b, interval, zone, zone_name, hours))
        doc = {"@odata.context": f"{CONTEXT}#Collection(microsoft.graph.scheduleInformation)", "value": value}
        return json_response(doc, headers=headers)

    return get_schedule


def _room_path(request: web.Request, sandbox: Sandbox) -> tuple[Caller, None, State] | web.Response | None:
    """An application token asking through a room mailbox (``/users/room@…/calendar/getSchedule``):
    in Entra a room mailbox is a (disabled) user object, so Graph accepts it in the path. None when
    the path names no room of the caller's tenant (the ordinary user checks apply)."""
    key = request.match_info.get("user")
    caller = authenticate(request, sandbox)
    if key is None or isinstance(caller, web.Response) or caller.user is not None:
        return None
    state: State = sandbox.state[NAME]
    mailbox = state.mailbox(key, caller.tenant.id)
    if mailbox is None or mailbox[0] != "room":
        return None
    return (caller, None, state) if caller.allowed(CAL_READ) else deny(request)


def _check_schedule_request(
    request: web.Request, body: dict[str, Any]
) -> tuple[list[str], float, float, int] | web.Response:
    schedules = body.get("schedules")
    if not isinstance(schedules, list) or not schedules or not all(isinstance(s, str) for s in schedules):
        return graph_error(request, 400, "ErrorInvalidParameter", "The 'schedules' parameter is required.")
    if len(schedules) > MAX_SCHEDULES:
        return graph_error(
            request, 400, "ErrorMailboxDataArrayTooBig",
            f"There are too many target users in the EmailAddress array. The allowed size = {MAX_SCHEDULES}; "
            f"the actual size = {len(schedules)}.",
        )  # fmt: skip
    start = parse_graph_datetime(body.get("startTime"))
    end = parse_graph_datetime(body.get("endTime"))
    if start is None or end is None:
        return graph_error(
            request, 400, "ErrorInvalidParameter",
            "startTime and endTime must be dateTimeTimeZone values with a supported time zone.",
        )  # fmt: skip
    if end <= start:
        return graph_error(request, 400, "ErrorInvalidTimeInterval", "The end time must be after the start time.")
    if end - start >= MAX_WINDOW:
        return graph_error(
            request, 400, "ErrorTimeIntervalTooBig",
            "The time interval specified is too large. The time window must be less than 62 days.",
        )  # fmt: skip
    interval = body.get("availabilityViewInterval", 30)
    if not isinstance(interval, int) or not 5 <= interval <= 1440:
        return graph_error(
            request, 400, "ErrorInvalidParameter", "availabilityViewInterval must be between 5 and 1440 minutes."
        )
    return schedules, start.timestamp(), end.timestamp(), interval


def _fault_entry(sid: str, status: int, body: dict[str, Any] | None) -> dict[str, Any]:
    if body is not None:
        return {"scheduleId": sid, "availabilityView": "", "scheduleItems": [], "error": body}
    code = FAULT_RESPONSE_CODES.get(status, "ErrorTimeoutExpired" if status == 504 else "ErrorInternalServerError")
    return schedule_error(sid, f"Free/busy information for {sid} could not be retrieved (injected {status}).", code)


def _working_hours(settings: dict[str, Any]) -> dict[str, Any]:
    hours: dict[str, Any] = dict(DEFAULT_WORKING_HOURS)
    hours.update(settings.get("workingHours") or {})
    hours["timeZone"] = {"name": (settings.get("workingHours") or {}).get("timeZone", {}).get("name")
                         or settings.get("timeZone") or "UTC"}  # fmt: skip
    return hours


# ------------------------------------------------------------------------------------------ events
def render_event(state: State, event: MsEvent, zone: Any, zone_name: str) -> dict[str, Any]:
    """The Graph ``event`` resource for ``event``, times in ``zone``."""
    data = event.data
    owner = state.users.get(event.owner)
    organizer = {"name": owner.doc.get("displayName"), "address": owner.address} if owner else {}
    start, end = data.get("start") or {}, data.get("end") or {}
    online = bool(data.get("isOnlineMeeting"))
    return {
        "@odata.context": f"{CONTEXT}#users('{event.owner}')/events/$entity",
        "@odata.etag": f'W/"{event.change_key}"',
        "id": event.id,
        "createdDateTime": iso_utc(event.created),
        "lastModifiedDateTime": iso_utc(event.modified),
        "changeKey": event.change_key,
        "categories": list(data.get("categories") or []),
        "transactionId": data.get("transactionId"),
        "originalStartTimeZone": start.get("timeZone") or "UTC",
        "originalEndTimeZone": end.get("timeZone") or "UTC",
        "iCalUId": event.ical_uid,
        "uid": event.ical_uid,
        "reminderMinutesBeforeStart": data.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": data.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": data.get("subject") or "",
        "bodyPreview": _preview(data.get("body")),
        "importance": data.get("importance") or "normal",
        "sensitivity": data.get("sensitivity") or "normal",
        "isAllDay": bool(data.get("isAllDay")),
        "isCancelled": bool(data.get("isCancelled")),
        "isOrganizer": True,
        "responseRequested": data.get("responseRequested", True),
        "seriesMasterId": None,
        "showAs": data.get("showAs") or "busy",
        "type": "seriesMaster" if data.get("recurrence") else "singleInstance",
        "webLink": f"https://outlook.office365.com/owa/?itemid={event.id}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": online,
        "onlineMeetingProvider": data.get("onlineMeetingProvider") or ("teamsForBusiness" if online else "unknown"),
        "allowNewTimeProposals": data.get("allowNewTimeProposals", True),
        "hideAttendees": bool(data.get("hideAttendees")),
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": data.get("body") or {"contentType": "html", "content": ""},
        "start": graph_dt(event.start, zone, zone_name),
        "end": graph_dt(event.end, zone, zone_name),
        "location": data.get("location") or {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"},
        "locations": data.get("locations") or ([data["location"]] if data.get("location") else []),
        "recurrence": data.get("recurrence"),
        "attendees": [_render_attendee(a) for a in data.get("attendees") or []],
        "organizer": {"emailAddress": organizer},
        "onlineMeeting": data.get("onlineMeeting") if online else None,
    }


def _preview(body: Any) -> str:
    content = str((body or {}).get("content") or "") if isinstance(body, dict) else ""
    return re.sub(r"<[^>]+>", "", content).strip()[:255]


def _render_attendee(attendee: dict[str, Any]) -> dict[str, Any]:
    email = dict(attendee.get("emailAddress") or {})
    email.setdefault("name", email.get("address"))
    return {
        "type": attendee.get("type") or "required",
        "status": attendee.get("status") or {"response": "none", "time": "0001-01-01T00:00:00Z"},
        "emailAddress": email,
    }


def _teams_meeting() -> dict[str, Any]:
    thread = secrets.token_hex(24)
    return {
        "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0"
        f"?context=%7b%22Tid%22%3a%22sandbox%22%7d",
        "conferenceId": str(secrets.randbelow(9 * 10**8) + 10**8),
        "tollNumber": "+1 555-010-0000",
    }


def _event_data(body: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    data = dict(previous or {})
    data.update({k: body[k] for k in EVENT_FIELDS if k in body})
    if data.get("isOnlineMeeting"):
        provider = data.get("onlineMeetingProvider") or "teamsForBusiness"
        data["onlineMeetingProvider"] = provider
        if provider == "teamsForBusiness" and not data.get("onlineMeeting"):
            data["onlineMeeting"] = _teams_meeting()
    return data


def make_event_handlers(sandbox: Sandbox) -> dict[str, Any]:
    """Handlers for events create/get/patch/delete."""

    @route("microsoft.events.create", NAME)
    async def create(request: web.Request) -> web.StreamResponse:
        found = _caller_and_user(request, sandbox, CAL_WRITE, frozenset({"Calendars.ReadWrite.Shared", "Calendars.ReadWrite.All"}))
        if isinstance(found, web.Response):
            return found
        caller, user, state = found
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        zone, zone_name, headers = _prefer_zone(request)
        tx = body.get("transactionId")
        if tx and (user.id, tx) in state.transactions and state.transactions[(user.id, tx)] in state.events:
            event = state.events[state.transactions[(user.id, tx)]]
            return json_response(render_event(state, event, zone, zone_name), status=201, headers=headers)
        try:
            event = event_from_data(state, user.id, caller.tenant.id, _event_data(body), via_api=True)
        except ValueError as exc:
            return graph_error(request, 400, "ErrorInvalidRequest", str(exc))
        state.put_event(event)
        if tx:
            state.transactions[(user.id, tx)] = event.id
        return json_response(render_event(state, event, zone, zone_name), status=201, headers=headers)

    def owned(request: web.Request, found: tuple[Caller, MsUser, State]) -> MsEvent | web.Response:
        _caller, user, state = found
        event = state.events.get(request.match_info["event"])
        if event is None or event.owner != user.id:
            return graph_error(request, 404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

    @route("microsoft.events.get", NAME)
    async def get(request: web.Request) -> web.StreamResponse:
        found = _caller_and_user(request, sandbox, CAL_READ, CAL_OTHERS)
        if isinstance(found, web.Response):
            return found
        event = owned(request, found)
        if isinstance(event, web.Response):
            return event
        zone, zone_name, headers = _prefer_zone(request)
        return json_response(render_event(found[2], event, zone, zone_name), headers=headers)

    @route("microsoft.events.patch", NAME)
    async def patch(request: web.Request) -> web.StreamResponse:
        found = _caller_and_user(request, sandbox, CAL_WRITE, frozenset({"Calendars.ReadWrite.Shared", "Calendars.ReadWrite.All"}))
        if isinstance(found, web.Response):
            return found
        event = owned(request, found)
        if isinstance(event, web.Response):
            return event
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        state = found[2]
        data = _event_data(body, event.data)
        try:
            fresh = event_from_data(state, event.owner, event.tenant, {**data, "id": event.id}, via_api=event.via_api)
        except ValueError as exc:
            return graph_error(request, 400, "ErrorInvalidRequest", str(exc))
        fresh = dataclasses.replace(fresh, ical_uid=event.ical_uid, created=event.created, data=data)
        state.put_event(fresh)
        zone, zone_name, headers = _prefer_zone(request)
        return json_response(render_event(state, fresh, zone, zone_name), headers=headers)

    @route("microsoft.events.delete", NAME)
    async def delete(request: web.Request) -> web.StreamResponse:
        found = _caller_and_user(request, sandbox, CAL_WRITE, frozenset({"Calendars.ReadWrite.Shared", "Calendars.ReadWrite.All"}))
        if isinstance(found, web.Response):
            return found
        event = owned(request, found)
        if isinstance(event, web.Response):
            return event
        found[2].delete_event(event)
        return web.Response(status=204)

    return {"create": create, "get": get, "patch": patch, "delete": delete}


def add_routes(app: web.Application, sandbox: Sandbox) -> None:
    """Register the calendar routes (``/me/…`` and ``/users/{user}/…``)."""
    schedule = make_get_schedule(sandbox)
    events = make_event_handlers(sandbox)
    meetings = make_online_meetings(sandbox)
    meeting = make_online_meeting_handlers(sandbox)
    for base in (f"{GRAPH_PREFIX}/me", f"{GRAPH_PREFIX}/users/{{user}}"):
        app.router.add_post(f"{base}/calendar/getSchedule", schedule)
        for coll in ("events", "calendar/events"):
            app.router.add_post(f"{base}/{coll}", events["create"])
            app.router.add_get(f"{base}/{coll}/{{event}}", events["get"])
            app.router.add_patch(f"{base}/{coll}/{{event}}", events["patch"])
            app.router.add_delete(f"{base}/{coll}/{{event}}", events["delete"])
        app.router.add_post(f"{base}/onlineMeetings", meetings)
        app.router.add_get(f"{base}/onlineMeetings/{{meeting}}", meeting["get"])
        app.router.add_patch(f"{base}/onlineMeetings/{{meeting}}", meeting["update"])
        app.router.add_delete(f"{base}/onlineMeetings/{{meeting}}", meeting["delete"])
