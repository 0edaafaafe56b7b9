"""Graph standalone Teams meetings: ``POST /users/{objectId}/onlineMeetings`` (201) and
``GET`` / ``PATCH`` (200 with the meeting) / ``DELETE`` (204) ``…/onlineMeetings/{meetingId}``, also
under ``/me``.

App-only callers must address the organizer by object id (a UPN gets 400) and need the tenant's Teams
application access policy to name their app (403 "No Application Access Policy found for this app"
otherwise); delegated callers may only reach their own meetings. A meeting id the organizer does not
have (or one deleted) is 404 ``NotFound`` (the code string is unverified). ``PATCH`` changes only
the properties sent, and moving a meeting needs ``startDateTime`` and ``endDateTime`` together (400
otherwise), as Graph documents. Deleted meetings stay in ``created()`` marked ``_deleted``.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from sandbox.core import Sandbox, json_response, route
from sandbox.providers.microsoft_graph import (
    CONTEXT,
    MEETINGS,
    NAME,
    Caller,
    authenticate,
    deny,
    graph_error,
    json_body,
    target_user,
)
from sandbox.providers.microsoft_state import MsUser, State, now
from sandbox.providers.microsoft_time import iso_utc

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def make_online_meetings(sandbox: Sandbox) -> Any:
    """``POST /users/{objectId}/onlineMeetings`` and ``/me/onlineMeetings``."""

    @route("microsoft.onlineMeetings.create", NAME)
    async def create(request: web.Request) -> web.StreamResponse:
        found = _organizer(request, sandbox)
        if isinstance(found, web.Response):
            return found
        caller, user, state = found
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        meeting = _online_meeting(caller, user, body)
        if isinstance(meeting, str):
            return graph_error(request, 400, "BadRequest", meeting)
        state.online_meetings.append({**meeting, "_organizer": user.id, "_client": caller.grant.client_id})
        return json_response(meeting, status=201)

    return create


def make_online_meeting_handlers(sandbox: Sandbox) -> dict[str, Any]:
    """``GET``, ``PATCH`` and ``DELETE`` of ``…/onlineMeetings/{meetingId}``."""

    def meeting_of(request: web.Request) -> dict[str, Any] | web.Response:
        found = _organizer(request, sandbox)
        if isinstance(found, web.Response):
            return found
        _caller, user, state = found
        wanted = request.match_info["meeting"]
        meeting = next((m for m in state.online_meetings if m["id"] == wanted and m["_organizer"] == user.id
                        and not m.get("_deleted")), None)  # fmt: skip
        if meeting is None:
            return graph_error(request, 404, "NotFound", f"The online meeting '{wanted}' was not found.")
        return meeting

    @route("microsoft.onlineMeetings.get", NAME)
    async def get(request: web.Request) -> web.StreamResponse:
        meeting = meeting_of(request)
        return meeting if isinstance(meeting, web.Response) else json_response(_public(meeting))

    @route("microsoft.onlineMeetings.update", NAME)
    async def update(request: web.Request) -> web.StreamResponse:
        meeting = meeting_of(request)
        if isinstance(meeting, web.Response):
            return meeting
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        if ("startDateTime" in body) != ("endDateTime" in body):
            return graph_error(request, 400, "BadRequest",
                               "Adjusting the start or end date/time requires both startDateTime and endDateTime.")
        if "startDateTime" in body:
            start, end = _parse_iso(body["startDateTime"]), _parse_iso(body["endDateTime"])
            if start is None or end is None:
                return graph_error(request, 400, "BadRequest", "startDateTime and endDateTime must be ISO 8601 date-times.")
            if end < start:
                return graph_error(request, 400, "BadRequest", "endDateTime must be after startDateTime.")
            meeting.update(startDateTime=_graph_instant(start), endDateTime=_graph_instant(end))
        if "subject" in body:
            meeting["subject"] = body["subject"]
        return json_response(_public(meeting))

    @route("microsoft.onlineMeetings.delete", NAME)
    async def delete(request: web.Request) -> web.StreamResponse:
        meeting = meeting_of(request)
        if isinstance(meeting, web.Response):
            return meeting
        meeting["_deleted"] = True
        return web.Response(status=204)

    return {"get": get, "update": update, "delete": delete}


def _organizer(request: web.Request, sandbox: Sandbox) -> tuple[Caller, MsUser, State] | web.Response:
    """The caller and the organizer the path names, when the caller may act on their meetings."""
    caller = authenticate(request, sandbox)
    if isinstance(caller, web.Response):
        return caller
    if not caller.allowed(MEETINGS):
        return deny(request)
    state: State = sandbox.state[NAME]
    key = request.match_info.get("user")
    if caller.app_only and key is not None and not _GUID.match(key):
        return graph_error(
            request, 400, "BadRequest",
            "The user must be identified by object id (not UPN) when using application permissions.",
        )  # fmt: skip
    user = target_user(request, caller, state, key)
    if isinstance(user, web.Response):
        return graph_error(request, 404, "NotFound", f"User '{key}' was not found.")
    if caller.user is not None and user is not caller.user:
        return graph_error(request, 403, "Forbidden", "3003: User does not have access to lookup meeting.")
    policy = caller.tenant.access_policy
    if caller.app_only and caller.grant.client_id not in policy and "*" not in policy:
        return graph_error(request, 403, "Forbidden", "No Application Access Policy found for this app")
    return caller, user, state


def _public(meeting: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meeting.items() if not k.startswith("_")}


def _graph_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _online_meeting(caller: Caller, user: MsUser, body: dict[str, Any]) -> dict[str, Any] | str:
    start = _parse_iso(body.get("startDateTime")) if "startDateTime" in body else datetime.fromtimestamp(now(), UTC)
    end = _parse_iso(body.get("endDateTime")) if "endDateTime" in body else (start and start + timedelta(hours=1))
    if start is None or end is None:
        return "startDateTime and endDateTime must be ISO 8601 date-times."
    if end < start:
        return "endDateTime must be after startDateTime."
    thread = secrets.token_hex(24)
    meeting_id = "MSo" + secrets.token_urlsafe(60).replace("-", "A").replace("_", "B")
    join = f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0"
    return {
        "@odata.context": f"{CONTEXT}#users('{user.id}')/onlineMeetings/$entity",
        "id": meeting_id,
        "creationDateTime": iso_utc(now()),
        "startDateTime": _graph_instant(start),
        "endDateTime": _graph_instant(end),
        "joinUrl": join,
        "joinWebUrl": join,
        "meetingCode": str(secrets.randbelow(9 * 10**11) + 10**11),
        "subject": body.get("subject"),
        "isBroadcast": False,
        "autoAdmittedUsers": "everyoneInCompany",
        "outerMeetingAutoAdmittedUsers": None,
        "capabilities": [],
        "externalId": body.get("externalId"),
        "iCalUid": None,
        "meetingType": None,
        "allowedPresenters": "everyone",
        "isEntryExitAnnounced": True,
        "allowAttendeeToEnableCamera": True,
        "allowAttendeeToEnableMic": True,
        "participants": {
            "organizer": {
                "upn": user.doc["userPrincipalName"],
                "role": "presenter",
                "identity": {"user": {"id": user.id, "displayName": None, "tenantId": caller.tenant.id,
                                      "identityProvider": "AAD"}},  # fmt: skip
            },
            "attendees": list((body.get("participants") or {}).get("attendees") or []),
        },
        "joinMeetingIdSettings": {
            "isPasscodeRequired": True,
            "joinMeetingId": str(secrets.randbelow(9 * 10**11) + 10**11),
            "passcode": secrets.token_urlsafe(5)[:6],
        },
        "chatInfo": {"threadId": f"19:meeting_{thread}@thread.v2", "messageId": "0", "replyChainMessageId": None},
        "audioConferencing": {
            "conferenceId": str(secrets.randbelow(9 * 10**8) + 10**8),
            "tollNumber": "+1 555-010-0000",
            "dialinUrl": "https://dialin.teams.microsoft.com/sandbox",
        },
        "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
    }

