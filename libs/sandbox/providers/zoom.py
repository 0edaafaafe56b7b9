"""Zoom emulation: OAuth (``zoom.us/oauth/*``) and API v2 (``api.zoom.us/v2``) users and meetings.

API routes: ``GET /users`` (``page_size`` ≤ 300, ``next_page_token``, ``status``), ``GET /users/{userId}``
(id, email or ``me``), ``POST /users/{userId}/meetings`` (201, int64 ``id``, ``join_url``, ``start_url``,
``password``; 100 creates per user per day), ``GET|PATCH|DELETE /meetings/{meetingId}``.
Errors are ``{"code","message"}``: 401 code 124, 400 code 4711 for a missing scope, 404 code 1001
(user) / 3001 (meeting), 400 code 300 for validation, 429 for rate limits.
"""

from __future__ import annotations

import base64
import secrets
import string
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from sandbox.core import Grant, Sandbox, bearer_token, json_response, read_json, route
from sandbox.providers import zoom_oauth
from sandbox.providers.zoom_state import State, User, bulk_users, created, load, seed, update_user

NAME = "zoom"
BASE = "/api.zoom.us/v2"
MAX_PAGE = 300
DEFAULT_PAGE = 30
DAILY_CREATE_LIMIT = 100

USER_ANY = frozenset({"user:read:admin", "user:read:user:admin", "user:write:admin"})
USER_SELF = frozenset({"user:read", "user:read:user"})
LIST_USERS = frozenset({"user:read:admin", "user:read:list_users:admin", "user:write:admin"})
MEETING_WRITE_ANY = frozenset({"meeting:write:admin", "meeting:write:meeting:admin"})
MEETING_WRITE_SELF = frozenset({"meeting:write", "meeting:write:meeting"})
MEETING_READ = (
    MEETING_WRITE_ANY
    | MEETING_WRITE_SELF
    | {
        "meeting:read:admin",
        "meeting:read",
        "meeting:read:meeting:admin",
        "meeting:read:meeting",
    }
)
MEETING_UPDATE = (
    MEETING_WRITE_ANY | MEETING_WRITE_SELF | {"meeting:update:meeting:admin", "meeting:update:meeting"}
)
MEETING_DELETE = (
    MEETING_WRITE_ANY | MEETING_WRITE_SELF | {"meeting:delete:meeting:admin", "meeting:delete:meeting"}
)
MEETING_TYPES = (1, 2, 3, 8)
DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "join_before_host": False,
    "mute_upon_entry": False,
    "waiting_room": True,
    "approval_type": 2,
    "audio": "voip",
    "auto_recording": "none",
    "meeting_authentication": False,
    "meeting_invitees": [],
}

__all__ = ["NAME", "State", "bulk_users", "created", "error_body", "load", "seed", "setup", "update_user"]


def zoom_error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    """Zoom's API error response ``{"code","message"}``."""
    return json_response({"code": code, "message": message, **extra}, status=status, headers=headers)


def error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Body (and rate-limit headers) of an injected status fault."""
    if status == 429:
        message = "You have reached the maximum per-second rate limit for this API. Try again later."
        return {"code": 429, "message": message}, {
            "X-RateLimit-Category": "Medium",
            "X-RateLimit-Type": "QPS",
        }
    if status == 401:
        return {"code": 124, "message": "Invalid access token."}, {}
    return {"code": status, "message": "Internal Error" if status >= 500 else "Injected fault"}, {}


def _validation(field: str, message: str = "Invalid field.") -> web.Response:
    return zoom_error(400, 300, "Validation Failed.", errors=[{"field": field, "message": message}])


def _scope_error(needed: frozenset[str]) -> web.Response:
    return zoom_error(
        400, 4711, f"Invalid access token, does not contain scopes:[{', '.join(sorted(needed))}]."
    )


def _authenticate(sandbox: Sandbox, request: web.Request) -> Grant | web.Response:
    token = bearer_token(request)
    grant = sandbox.tokens.get(token) if token else None
    if grant is None or grant.provider != NAME or grant.kind != "access" or grant.revoked:
        return zoom_error(401, 124, "Invalid access token.")
    if not grant.active(sandbox.clock()):
        return zoom_error(401, 124, "Access token is expired.")
    return grant


def _target(
    state: State, grant: Grant, user_id: str, any_user: frozenset[str], self_only: frozenset[str]
) -> User | web.Response:
    """The user ``userId`` names, when the grant may act on them."""
    if not (grant.scopes & (any_user | self_only)):
        return _scope_error(any_user | self_only)
    if user_id == "me":
        user = state.users.get(grant.subject or "") if grant.subject else state.owner(grant.tenant or "")
    else:
        user = state.user(user_id)
    if user is None or user.account_id != grant.tenant:
        return zoom_error(404, 1001, f"User does not exist: {user_id}.")
    if not (grant.scopes & any_user) and user.id != grant.subject:
        return _scope_error(any_user)
    return user


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _start_time(raw: Any, tz_name: str | None, now: float) -> str | None:
    """``yyyy-MM-ddTHH:mm:ssZ`` (UTC) from Zoom's accepted forms; None when invalid."""
    if raw is None:
        return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        parsed = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(tz_name) or UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meeting(state: State, host: User, body: dict[str, Any], start: str, now: float) -> dict[str, Any]:
    meeting_id = next(state.meeting_ids)
    password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(6))
    encrypted = secrets.token_urlsafe(24)
    settings = {**DEFAULT_SETTINGS, **(body.get("settings") or {})}
    return {
        "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
        "id": meeting_id,
        "host_id": host.id,
        "host_email": host.email,
        "topic": str(body.get("topic", "Zoom Meeting")),
        "type": int(body.get("type", 2)),
        "status": "waiting",
        "start_time": start,
        "duration": int(body.get("duration", 60)),
        "timezone": body.get("timezone") or host.timezone,
        "agenda": str(body.get("agenda", "")),
        "created_at": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "start_url": f"https://zoom.us/s/{meeting_id}?zak={secrets.token_urlsafe(32)}",
        "join_url": f"https://zoom.us/j/{meeting_id}?pwd={encrypted}",
        "password": password,
        "h323_password": "".join(secrets.choice(string.digits) for _ in range(6)),
        "pstn_password": "".join(secrets.choice(string.digits) for _ in range(6)),
        "encrypted_password": encrypted,
        "settings": settings,
        "pre_schedule": False,
    }


def _validate_meeting(body: Any) -> web.Response | None:
    if not isinstance(body, dict):
        return zoom_error(400, 300, "Request Body should be a valid JSON object.")
    if body.get("type", 2) not in MEETING_TYPES:
        return _validation("type")
    duration = body.get("duration", 60)
    if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
        return _validation("duration")
    if len(str(body.get("topic", ""))) > 200:
        return _validation("topic", "Topic is too long (max 200 characters).")
    if body.get("timezone") and _zone(body["timezone"]) is None:
        return _validation("timezone")
    if body.get("settings") is not None and not isinstance(body["settings"], dict):
        return _validation("settings")
    return None


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add every Zoom route (OAuth and API)."""
    zoom_oauth.setup(app, sandbox)

    @route("zoom.users.get", NAME)
    async def get_user(request: web.Request) -> web.Response:
        grant = _authenticate(sandbox, request)
        if isinstance(grant, web.Response):
            return grant
        user = _target(sandbox.state[NAME], grant, request.match_info["userId"], USER_ANY, USER_SELF)
        return user if isinstance(user, web.Response) else json_response(user.resource())

    @route("zoom.users.list", NAME)
    async def list_users(request: web.Request) -> web.Response:
        grant = _authenticate(sandbox, request)
        if isinstance(grant, web.Response):
            return grant
        if not grant.scopes & LIST_USERS:
            return _scope_error(LIST_USERS)
        state: State = sandbox.state[NAME]
        q = request.query
        status = q.get("status", "active")
        if status not in ("active", "inactive", "pending"):
            return _validation("status")
        try:
            size = min(max(int(q.get("page_size", DEFAULT_PAGE)), 1), MAX_PAGE)
            offset = (
                int(base64.urlsafe_b64decode(q["next_page_token"]).decode())
                if q.get("next_page_token")
                else 0
            )
        except (ValueError, UnicodeDecodeError):
            return zoom_error(400, 300, "Invalid next_page_token.")
        users = [u for u in state.account_users(grant.tenant or "") if u.status == status]
        page = users[offset : offset + size]
        more = offset + size < len(users)
        return json_response(
            {
                "page_count": (len(users) + size - 1) // size,
                "page_number": offset // size + 1,
                "page_size": size,
                "total_records": len(users),
                "next_page_token": base64.urlsafe_b64encode(str(offset + size).encode()).decode()
                if more
                else "",
                "users": [u.summary() for u in page],
            }
        )

    @route("zoom.meetings.create", NAME)
    async def create_meeting(request: web.Request) -> web.Response:
        grant = _authenticate(sandbox, request)
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        host = _target(state, grant, request.match_info["userId"], MEETING_WRITE_ANY, MEETING_WRITE_SELF)
        if isinstance(host, web.Response):
            return host
        try:
            body = await read_json(request)
        except ValueError:
            return zoom_error(400, 300, "Request Body should be a valid JSON object.")
        body = {} if body is None else body
        problem = _validate_meeting(body)
        if problem is not None:
            return problem
        now = sandbox.clock()
        start = _start_time(body.get("start_time"), body.get("timezone") or host.timezone, now)
        if start is None:
            return _validation("start_time")
        day = (host.id, datetime.fromtimestamp(now, UTC).date().isoformat())
        if state.daily_creates.get(day, 0) >= DAILY_CREATE_LIMIT:
            message = (
                f"You have exceeded the daily rate limit of ({DAILY_CREATE_LIMIT}) for Create a meeting API "
                f"requests for the user, {host.email}. You can resume these API requests at GMT 00:00:00."
            )
            headers = {
                "X-RateLimit-Type": "Daily-limit",
                "X-RateLimit-Limit": str(DAILY_CREATE_LIMIT),
                "X-RateLimit-Remaining": "0",
            }
            return zoom_error(429, 429, message, headers)
        state.daily_creates[day] = state.daily_creates.get(day, 0) + 1
        meeting = _meeting(state, host, body, start, now)
        state.meetings[meeting["id"]] = meeting
        state.created_meetings.append(
            {"meeting": meeting, "request": body, "userId": request.match_info["userId"], "deleted": False}
        )
        return json_response(meeting, status=201)

    def _find(state: State, grant: Grant, raw_id: str) -> dict[str, Any] | web.Response:
        meeting = state.meetings.get(int(raw_id)) if raw_id.isdigit() else None
        host = state.users.get(meeting["host_id"]) if meeting else None
        if meeting is None or host is None or host.account_id != grant.tenant:
            return zoom_error(404, 3001, f"Meeting does not exist: {raw_id}.")
        if (
            not grant.scopes
            & (
                MEETING_WRITE_ANY
                | {
                    "meeting:read:admin",
                    "meeting:read:meeting:admin",
                    "meeting:update:meeting:admin",
                    "meeting:delete:meeting:admin",
                }
            )
            and host.id != grant.subject
        ):
            return zoom_error(404, 3001, f"Meeting does not exist: {raw_id}.")
        return meeting

    @route("zoom.meetings.get", NAME)
    async def get_meeting(request: web.Request) -> web.Response:
        grant = _authenticate(sandbox, request)
        if isinstance(grant, web.Response):
            return grant
        if not grant.scopes & MEETING_READ:
            return _scope_error(frozenset({"meeting:read:admin", "meeting:read:meeting:admin"}))
        found = _find(sandbox.state[NAME], grant, request.match_info["meetingId"])
        return found if isinstance(found, web.Response) else json_response(found)

    @route("zoom.meetings.update", NAME)
    async def update_meeting(request: web.Request) -> web.Response:
        grant = _authenticate(sandbox, request)
        if isinstance(grant, web.Response):
            return grant
        if not grant.scopes & MEETING_UPDATE:
            return _scope_error(frozenset({"meeting:write:admin", "meeting:update:meeting:admin"}))
        state: State = sandbox.state[NAME]
        found = _find(state, grant, request.match_info["meetingId"])
        if isinstance(found, web.Response):
            return found
        try:
            body = await read_json(request) or {}
        except ValueError:
            return zoom_error(400, 300, "Request Body should be a valid JSON object.")
        problem = _validate_meeting({**found, **body, "settings": body.get("settings", {})})
        if problem is not None:
            return problem
        if "start_time" in body:
            start = _start_time(
                body["start_time"], body.get("timezone") or found["timezone"], sandbox.clock()
            )
            if start is None:
                return _validation("start_time")
            body = {**body, "start_time": start}
        settings = {**found["settings"], **(body.get("settings") or {})}
        found.update(
            {
                k: v
                for k, v in body.items()
                if k in ("topic", "type", "start_time", "duration", "timezone", "agenda")
            }
        )
        found["settings"] = settings
        return web.Response(status=204)

    @route("zoom.meetings.delete", NAME)
    async def delete_meeting(request: web.Request) -> web.Response:
        grant = _authenticate(sandbox, request)
        if isinstance(grant, web.Response):
            return grant
        if not grant.scopes & MEETING_DELETE:
            return _scope_error(frozenset({"meeting:write:admin", "meeting:delete:meeting:admin"}))
        state: State = sandbox.state[NAME]
        found = _find(state, grant, request.match_info["meetingId"])
        if isinstance(found, web.Response):
            return found
        del state.meetings[found["id"]]
        for record in state.created_meetings:
            if record["meeting"]["id"] == found["id"]:
                record["deleted"] = True
        return web.Response(status=204)

    app.router.add_get(f"{BASE}/users", list_users)
    app.router.add_get(f"{BASE}/users/{{userId}}", get_user)
    app.router.add_post(f"{BASE}/users/{{userId}}/meetings", create_meeting)
    app.router.add_get(f"{BASE}/meetings/{{meetingId}}", get_meeting)
    app.router.add_patch(f"{BASE}/meetings/{{meetingId}}", update_meeting)
    app.router.add_delete(f"{BASE}/meetings/{{meetingId}}", delete_meeting)
