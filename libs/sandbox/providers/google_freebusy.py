"""Calendar API v3 ``POST /freeBusy`` (freebusy.query)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from sandbox.core import Sandbox, bearer_token, json_response, read_json, route, sleep_unless_stopping
from sandbox.providers.google_busy import busy_between, parse_window
from sandbox.providers.google_common import (
    FREEBUSY,
    NAME,
    authorize,
    error,
    format_instant,
    format_millis,
    scope,
    zone,
)
from sandbox.providers.google_state import State

BASE = "/www.googleapis.com/calendar/v3"
SERVICE = "calendar-json.googleapis.com"
CALENDAR_EXPANSION_MAX = 50
GROUP_EXPANSION_MAX = 100
# Reason reported inside a 200 for an injected per-calendar status fault.
_CALENDAR_FAULT_REASON = {404: "notFound", 403: "forbidden", 429: "rateLimitExceeded"}


def _calendar_error(reason: str) -> dict[str, Any]:
    return {"errors": [{"domain": "global", "reason": reason}], "busy": []}


def _bounded_int(body: dict[str, Any], key: str, maximum: int) -> int | web.Response:
    value = body.get(key, maximum)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        return error(
            400,
            "invalid",
            f"Invalid value for {key}: {value!r}. Values must be within the range: [1, {maximum}]",
            location=key,
        )
    return value


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add ``POST /www.googleapis.com/calendar/v3/freeBusy``."""

    @route("google.freeBusy", NAME)
    async def free_busy(request: web.Request) -> web.Response:
        grant = authorize(request, sandbox, FREEBUSY, service=SERVICE, method="calendar.v3.Freebusy.Query")
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        try:
            body = await read_json(request)
        except ValueError:
            return error(400, "parseError", "Parse Error")
        if not isinstance(body, dict):
            return error(400, "badRequest", "Bad Request")
        for key in ("timeMin", "timeMax"):
            if not body.get(key):
                return error(400, "required", f"Missing {key} parameter.", location=key)
        try:
            lo, hi = parse_window(body["timeMin"], body["timeMax"])
        except ValueError as exc:
            return error(
                400,
                "invalid",
                f"Invalid value for: {exc} is not a valid RFC 3339 date-time",
                location=str(exc),
            )
        if hi <= lo:
            return error(
                400,
                "timeRangeEmpty",
                "The specified time range is empty.",
                domain="calendar",
                location="timeMax",
            )
        try:
            out_tz = zone(body.get("timeZone"))
        except ValueError:
            return error(400, "invalid", "Invalid time zone definition.", location="timeZone")
        calendar_max = _bounded_int(body, "calendarExpansionMax", CALENDAR_EXPANSION_MAX)
        if isinstance(calendar_max, web.Response):
            return calendar_max
        group_max = _bounded_int(body, "groupExpansionMax", GROUP_EXPANSION_MAX)
        if isinstance(group_max, web.Response):
            return group_max
        items = body.get("items", [])
        if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("id") for i in items):
            return error(400, "invalid", "Invalid items: each item needs an id.", location="items")

        own_only = grant.scopes.isdisjoint(FREEBUSY - {scope("calendar.freebusy")})
        ids, groups = _expand_items(state, [str(i["id"]) for i in items], group_max)
        calendars: dict[str, Any] = {}
        now = sandbox.clock()
        for n, cal_id in enumerate(ids):
            if n >= calendar_max:
                calendars[cal_id] = _calendar_error("tooManyCalendarsRequested")
                continue
            fault = sandbox.faults.take_calendar_fault(NAME, cal_id)
            if fault is not None:
                answered = await _calendar_fault(sandbox, request, fault, cal_id, calendars)
                if isinstance(answered, web.Response):
                    return answered
                if answered:
                    continue
            calendar = state.calendar(cal_id)
            if calendar is None or (own_only and calendar.role_of(grant.email) != "owner"):
                calendars[cal_id] = _calendar_error("notFound")
                continue
            busy = busy_between(state, calendar, lo, hi, now)
            calendars[cal_id] = {
                "busy": [
                    {"start": format_instant(s, out_tz), "end": format_instant(e, out_tz)} for s, e in busy
                ]
            }
        result: dict[str, Any] = {
            "kind": "calendar#freeBusy",
            "timeMin": format_millis(lo),
            "timeMax": format_millis(hi),
        }
        if groups:
            result["groups"] = groups
        result["calendars"] = calendars
        return json_response(result)

    app.router.add_post(f"{BASE}/freeBusy", free_busy)


def _expand_items(state: State, ids: list[str], group_max: int) -> tuple[list[str], dict[str, Any]]:
    """Calendar ids to answer for (group members spliced in) and the ``groups`` section."""
    out: list[str] = []
    groups: dict[str, Any] = {}
    for item in ids:
        members = state.groups.get(item.lower())
        if members is None:
            if item not in out:
                out.append(item)
            continue
        if len(members) > group_max:
            groups[item] = {"errors": [{"domain": "global", "reason": "groupTooBig"}], "calendars": []}
            continue
        groups[item] = {"calendars": list(members)}
        out.extend(m for m in members if m not in out)
    return out, groups


async def _calendar_fault(
    sandbox: Sandbox, request: web.Request, fault: Any, cal_id: str, calendars: dict[str, Any]
) -> bool | web.Response:
    """Apply a per-calendar fault. True when it answered for the calendar, a Response for the whole call."""
    if fault.kind == "latency":
        await asyncio.sleep(fault.latency_ms / 1000)
        return False
    if fault.kind == "timeout":
        await sleep_unless_stopping(sandbox, 60.0)
        return error(503, "backendError", "Backend Error")
    if fault.kind == "revoke":
        token = bearer_token(request)
        if token:
            sandbox.tokens.revoke(token)
        return error(
            401, "authError", "Invalid Credentials", location="Authorization", location_type="header"
        )
    reason = (fault.body or {}).get("reason") or _CALENDAR_FAULT_REASON.get(fault.status, "internalError")
    calendars[cal_id] = _calendar_error(reason)
    return True
