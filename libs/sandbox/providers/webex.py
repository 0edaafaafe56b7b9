"""Webex emulator (``webexapis.com/v1``): OAuth authorize/access_token, ``/meetings`` and ``/people``.

Fidelity notes:
- ``POST /meetings`` answers **200** (not 201); validates title (<= 128), agenda (<= 1300), start not
  in the past on the sandbox clock (60 s grace), 10 min <= end - start <= 23 h 59 m; ``hostEmail`` for
  another user needs ``meeting:admin_schedule_write`` *and* an admin caller in the same org.
- ``PUT /meetings/{id}`` replaces the schedule (title, start, end required, same validation) and
  answers **200** with the meeting; ``GET``/``PUT``/``DELETE`` of a meeting someone else hosts need
  an admin of the host's org with the admin scope naming the host (``hostEmail``: query for GET and
  DELETE, body for PUT), and answer **404** "Meeting not found." otherwise or for an unknown id.
- ``GET /people?email=`` answers ``items: []`` when nothing matches; listing without ``email``,
  ``displayName`` or ``id`` is for admins only; paging uses ``max`` and an RFC 5988 ``Link`` header
  carrying ``cursor``. ``loginEnabled``/``invitePending`` are shown to admins only.
- Errors: ``{"message","errors":[{"description"}],"trackingId"}``; token errors are OAuth-style
  ``{"error","error_description","trackingId"}``. Refresh returns the *same* refresh token
  (Webex does not rotate); access tokens live 14 days, refresh tokens 90.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from sandbox.core import (
    Grant,
    OAuthClient,
    Sandbox,
    bearer_token,
    json_response,
    read_form,
    redirect_uri_allowed,
    route,
)

NAME = "webex"
PREFIX = "/webexapis.com/v1"
ACCESS_TTL = 1209599
REFRESH_TTL = 7775999
MIN_DURATION = timedelta(minutes=10)
MAX_DURATION = timedelta(hours=23, minutes=59)
PAST_GRACE = 60.0
WRITE_SCOPES = frozenset({"meeting:schedules_write", "meeting:admin_schedule_write", "spark:all"})
READ_SCOPES = WRITE_SCOPES | {"meeting:schedules_read", "meeting:admin_schedule_read"}
#: Scopes that reach meetings other users host (an admin of their org): [read, write].
ADMIN_SCOPES = (frozenset({"meeting:admin_schedule_read", "meeting:admin_schedule_write", "spark:all"}),
                frozenset({"meeting:admin_schedule_write", "spark:all"}))  # fmt: skip
PEOPLE_SCOPES = frozenset({"spark:people_read", "spark:all", "spark-admin:people_read"})
MAX_PEOPLE = 1000
#: Clock for changes made outside a request (admin ``update_user``); setup() points it at the sandbox clock.
CLOCK: list[Callable[[], float]] = [time.time]


def webex_id(kind: str, raw: str) -> str:
    """A Webex REST id: base64 (unpadded) of ``ciscospark://us/<KIND>/<uuid>``."""
    return base64.b64encode(f"ciscospark://us/{kind}/{raw}".encode()).decode().rstrip("=")


def tracking_id() -> str:
    """A Webex tracking id (``ROUTER_…``)."""
    return "ROUTER_" + str(uuid.uuid4()).upper()


def error_doc(message: str, descriptions: list[str] | None = None) -> dict[str, Any]:
    """The Webex error body."""
    return {"message": message, "errors": [{"description": d} for d in (descriptions or [message])],
            "trackingId": tracking_id()}  # fmt: skip


def webex_error(status: int, message: str, descriptions: list[str] | None = None) -> web.Response:
    """A Webex error response (also echoes ``trackingid``)."""
    body = error_doc(message, descriptions)
    return json_response(body, status=status, headers={"trackingid": body["trackingId"]})


_STATUS_MESSAGES = {
    400: "The request was invalid or cannot be otherwise served.",
    401: "The request requires a valid access token set in the Authorization request header.",
    403: "The server understood the request, but refused to fulfill it because the access token is missing "
    "required scopes or the person doesn't have access to the requested resource.",
    404: "The URI requested is invalid or the resource requested, such as a user, does not exist.",
    409: "The request could not be processed because it conflicts with some established rule of the system.",
    429: "Too many requests have been sent in a given amount of time and the request has been rate limited.",
    500: "Something went wrong on the server.",
    502: "The server received an invalid response from an upstream server while processing the request.",
    503: "Server is overloaded with requests. Try again later.",
    504: "An upstream server failed to respond on time.",
}


def error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Webex's error body for injected status faults (core adds ``Retry-After``)."""
    body = error_doc(_STATUS_MESSAGES.get(status, "Unexpected error."))
    return body, {"trackingid": body["trackingId"]}


def token_error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """OAuth-style error body for injected faults on the token endpoint."""
    error = "temporarily_unavailable" if status >= 500 or status == 429 else "invalid_request"
    return {"error": error, "error_description": _STATUS_MESSAGES.get(status, "Error"), "trackingId": tracking_id()}, {}


# -------------------------------------------------------------------------------------------- state
@dataclass
class State:
    """Webex orgs, people, OAuth clients and created meetings."""

    clients: dict[str, OAuthClient] = field(default_factory=dict)
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: list[dict[str, Any]] = field(default_factory=list)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_email: dict[str, dict[str, Any]] = field(default_factory=dict)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)


def load(fixture: dict[str, Any]) -> State:
    """A fresh state from ``webex.json``."""
    state = State()
    seed(state, fixture)
    return state


def seed(state: State, data: dict[str, Any]) -> None:
    """Merge ``clients``, ``orgs`` and ``people`` (people name their org by ``org`` uuid or ``orgId``)."""
    for raw in data.get("clients") or []:
        state.clients[str(raw["client_id"])] = OAuthClient.from_json(raw)
    for raw in data.get("orgs") or []:
        org_id = raw.get("id") or webex_id("ORGANIZATION", str(raw["uuid"]))
        state.orgs[org_id] = {"id": org_id, "displayName": raw.get("displayName", ""),
                              "siteUrl": raw.get("siteUrl", "sandbox.webex.com")}  # fmt: skip
    default_org = next(iter(state.orgs), "")
    for raw in data.get("people") or []:
        _add_person(state, raw, default_org)


def _add_person(state: State, raw: dict[str, Any], default_org: str) -> dict[str, Any]:
    pid = raw.get("id") or webex_id("PEOPLE", str(raw.get("uuid") or uuid.uuid4()))
    org = raw.get("orgId") or (webex_id("ORGANIZATION", str(raw["org"])) if raw.get("org") else default_org)
    existing = state.by_id.get(pid)
    if existing is not None:
        _reindex_remove(state, existing)
        state.people.remove(existing)
    person = {
        "id": pid,
        "emails": list(raw["emails"]),
        "phoneNumbers": list(raw.get("phoneNumbers") or []),
        "displayName": raw.get("displayName") or " ".join(x for x in (raw.get("firstName"), raw.get("lastName")) if x),
        "nickName": raw.get("nickName") or raw.get("firstName"),
        "firstName": raw.get("firstName"),
        "lastName": raw.get("lastName"),
        "avatar": raw.get("avatar"),
        "orgId": org,
        "created": raw.get("created", "2024-01-01T00:00:00.000Z"),
        "lastModified": raw.get("lastModified", raw.get("created", "2024-01-01T00:00:00.000Z")),
        "lastActivity": raw.get("lastActivity"),
        "status": raw.get("status", "active"),
        "type": raw.get("type", "person"),
        "timezone": raw.get("timezone", "UTC"),
        "loginEnabled": raw.get("loginEnabled", True),
        "invitePending": raw.get("invitePending", False),
        "_admin": bool(raw.get("isAdmin", False)),
    }
    state.people.append(person)
    state.by_id[pid] = person
    for email in person["emails"]:
        state.by_email[email.lower()] = person
    return person


def _reindex_remove(state: State, person: dict[str, Any]) -> None:
    state.by_id.pop(person["id"], None)
    for email in person["emails"]:
        if state.by_email.get(email.lower()) is person:
            del state.by_email[email.lower()]


def update_user(state: State, user_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Admin change: ``emails``/``email``, ``displayName``, ``status``, ``loginEnabled``, ``isAdmin``, ``deleted``."""
    person = state.by_id.get(user_id) or state.by_email.get(user_id.lower())
    if person is None:
        return None
    _reindex_remove(state, person)
    if fields.get("deleted"):
        state.people.remove(person)
        return _public(person, True)
    if "email" in fields:
        fields = {**fields, "emails": [fields["email"]]}
    for key in ("emails", "displayName", "firstName", "lastName", "status", "loginEnabled", "invitePending"):
        if key in fields:
            person[key] = fields[key]
    if "isAdmin" in fields:
        person["_admin"] = bool(fields["isAdmin"])
    person["lastModified"] = _iso(datetime.fromtimestamp(CLOCK[0](), UTC))
    state.by_id[person["id"]] = person
    for email in person["emails"]:
        state.by_email[email.lower()] = person
    return _public(person, True)


def created(state: State) -> dict[str, Any]:
    """Meetings created through the API."""
    return {"meetings": list(state.meetings.values())}


def _public(person: dict[str, Any], admin_view: bool) -> dict[str, Any]:
    hidden = {"_admin"} | (set() if admin_view else {"loginEnabled", "invitePending"})
    return {k: v for k, v in person.items() if k not in hidden and v is not None}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -------------------------------------------------------------------------------------------- OAuth
def _redirect(uri: str, params: dict[str, Any]) -> web.StreamResponse:
    clean = {k: v for k, v in params.items() if v is not None}
    raise web.HTTPFound(f"{uri}{'&' if '?' in uri else '?'}{urlencode(clean)}")


def _token_error(error: str, description: str, status: int = 400) -> web.Response:
    return json_response({"error": error, "error_description": description, "trackingId": tracking_id()}, status=status)


def make_oauth(sandbox: Sandbox) -> tuple[Any, Any]:
    """``GET /authorize`` and ``POST /access_token``."""

    @route("webex.authorize", NAME)
    async def authorize(request: web.Request) -> web.StreamResponse:
        state: State = sandbox.state[NAME]
        q = request.query
        client = state.clients.get(q.get("client_id", ""))
        if client is None:
            return webex_error(400, "Invalid client_id.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri_allowed(client, redirect_uri):
            return webex_error(400, "redirect_uri does not match a registered redirect URI.")
        back = {"state": q.get("state")}
        if q.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", **back})
        if q.get("code_challenge") and q.get("code_challenge_method", "plain") != "S256":
            return _redirect(redirect_uri, {"error": "invalid_request",
                                            "error_description": "code_challenge_method must be S256", **back})  # fmt: skip
        person = state.by_email.get((q.get("login_hint") or q.get("email") or "").lower())
        if person is None or person["status"] != "active" or not person["loginEnabled"]:
            return _redirect(redirect_uri, {"error": "access_denied", "error_description": "Unknown user", **back})
        scopes = [s for s in (q.get("scope") or "").split() if s]
        if not scopes:
            return _redirect(redirect_uri, {"error": "invalid_scope", **back})
        decision = sandbox.consents.take(NAME, person["emails"][0])
        if decision is not None and decision.deny:
            return _redirect(redirect_uri, {"error": "access_denied", **back})
        if decision is not None and decision.grant_only is not None:
            scopes = [s for s in scopes if s in decision.grant_only]
        code = sandbox.codes.new(
            NAME, client_id=client.client_id, redirect_uri=redirect_uri, scopes=tuple(scopes),
            subject=person["id"], email=person["emails"][0], tenant=person["orgId"],
            code_challenge=q.get("code_challenge"), code_challenge_method=q.get("code_challenge_method"),
        )  # fmt: skip
        return _redirect(redirect_uri, {"code": code.code, **back})

    @route("webex.access_token", NAME, error_body=token_error_body)
    async def access_token(request: web.Request) -> web.StreamResponse:
        state: State = sandbox.state[NAME]
        form = await read_form(request)
        client = state.clients.get(form.get("client_id", ""))
        if client is None or not secrets.compare_digest(form.get("client_secret", ""), client.client_secret):
            return _token_error("invalid_client", "Client authentication failed.", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = sandbox.codes.take(NAME, form.get("code"))
            if code is None or code.client_id != client.client_id:
                return _token_error("invalid_grant", "Invalid or expired authorization code.")
            if form.get("redirect_uri") != code.redirect_uri:
                return _token_error("invalid_grant", "redirect_uri does not match the authorization request.")
            if not code.verifier_ok(form.get("code_verifier")):
                return _token_error("invalid_grant", "code_verifier does not match the code_challenge.")
            common: dict[str, Any] = {"provider": NAME, "client_id": client.client_id, "scopes": code.scopes,
                      "subject": code.subject, "email": code.email, "tenant": code.tenant}  # fmt: skip
            refresh = sandbox.tokens.issue(kind="refresh", ttl=REFRESH_TTL, **common)
            access = sandbox.tokens.issue(kind="access", ttl=ACCESS_TTL, family=refresh.family, **common)
            return json_response(_token_body(sandbox, access, refresh))
        if grant_type == "refresh_token":
            refresh_grant = sandbox.tokens.get(form.get("refresh_token", ""))
            if (refresh_grant is None or refresh_grant.provider != NAME or refresh_grant.kind != "refresh"
                    or refresh_grant.client_id != client.client_id or not refresh_grant.active(sandbox.clock())):  # fmt: skip
                return _token_error("invalid_grant", "The refresh token provided is expired, revoked, malformed, or invalid.")
            access = sandbox.tokens.issue(
                provider=NAME, kind="access", client_id=client.client_id, scopes=refresh_grant.scopes,
                subject=refresh_grant.subject, email=refresh_grant.email, tenant=refresh_grant.tenant,
                ttl=ACCESS_TTL, family=refresh_grant.family,
            )  # fmt: skip
            return json_response(_token_body(sandbox, access, refresh_grant))
        return _token_error("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}.")

    return authorize, access_token


def _token_body(sandbox: Sandbox, access: Grant, refresh: Grant) -> dict[str, Any]:
    return {
        "access_token": access.token,
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh.token,
        "refresh_token_expires_in": max(0, int(refresh.expires_at - sandbox.clock())),
        "token_type": "Bearer",
        "scope": " ".join(sorted(access.scopes)),
    }


# ---------------------------------------------------------------------------------------------- API
def _caller(request: web.Request, sandbox: Sandbox, scopes: frozenset[str] | None) -> tuple[Grant, dict[str, Any]] | web.Response:
    token = bearer_token(request)
    grant = sandbox.tokens.get(token) if token else None
    if grant is None or grant.provider != NAME or grant.kind != "access" or not grant.active(sandbox.clock()):
        return webex_error(401, _STATUS_MESSAGES[401])
    state: State = sandbox.state[NAME]
    person = state.by_id.get(grant.subject or "")
    if person is None:
        return webex_error(401, _STATUS_MESSAGES[401])
    if scopes is not None and not grant.scopes & scopes:
        return webex_error(403, _STATUS_MESSAGES[403])
    return grant, person


def _parse_time(value: Any, zone: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _format_time(moment: datetime, zone: Any, zone_name: str) -> str:
    local = moment.astimezone(zone)
    if zone_name == "UTC":
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat(timespec="seconds")


def _validate_meeting(body: dict[str, Any], now: float) -> tuple[list[str], datetime | None, datetime | None, Any, str]:
    problems: list[str] = []
    zone_name = str(body.get("timezone") or "UTC")
    try:
        zone: Any = UTC if zone_name == "UTC" else ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"Invalid timezone '{zone_name}'.")
        zone, zone_name = UTC, "UTC"
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("Title is required.")
    elif len(title) > 128:
        problems.append("Title must not exceed 128 characters.")
    if len(str(body.get("agenda") or "")) > 1300:
        problems.append("Agenda must not exceed 1300 characters.")
    if len(body.get("invitees") or []) > 1000:
        problems.append("The number of invitees must not exceed 1000.")
    start, end = _parse_time(body.get("start"), zone), _parse_time(body.get("end"), zone)
    if start is None:
        problems.append("Start time is required and must be ISO 8601.")
    if end is None:
        problems.append("End time is required and must be ISO 8601.")
    if start is not None and start.timestamp() < now - PAST_GRACE:
        problems.append("Start time must not be earlier than the current time.")
    if start is not None and end is not None and not MIN_DURATION <= end - start <= MAX_DURATION:
        problems.append("The duration of the meeting must be between 10 minutes and 23 hours 59 minutes.")
    return problems, start, end, zone, zone_name


def make_meetings(sandbox: Sandbox) -> dict[str, Any]:
    """``POST /meetings``, ``GET /meetings/{id}``, ``DELETE /meetings/{id}``."""

    @route("webex.meetings.create", NAME)
    async def create(request: web.Request) -> web.StreamResponse:
        found = _caller(request, sandbox, WRITE_SCOPES)
        if isinstance(found, web.Response):
            return found
        grant, caller = found
        state: State = sandbox.state[NAME]
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return webex_error(400, "The request body is not valid JSON.")
        host = caller
        host_email = body.get("hostEmail")
        if host_email and host_email.lower() not in (e.lower() for e in caller["emails"]):
            if "meeting:admin_schedule_write" not in grant.scopes or not caller["_admin"]:
                return webex_error(403, _STATUS_MESSAGES[403])
            other = state.by_email.get(host_email.lower())
            if other is None or other["orgId"] != caller["orgId"]:
                return webex_error(400, "The input parameters contain invalid items.", [f"Invalid hostEmail '{host_email}'."])
            host = other
        problems, start, end, zone, zone_name = _validate_meeting(body, sandbox.clock())
        if problems or start is None or end is None:
            return webex_error(400, "The input parameters contain invalid items.", problems)
        meeting = _meeting(state, body, host, start, end, zone, zone_name, grant.client_id)
        state.meetings[meeting["id"]] = meeting
        return json_response(_view(meeting))

    def lookup(
        request: web.Request, scopes: frozenset[str], host_email: Any = None
    ) -> tuple[dict[str, Any], State] | web.Response:
        """The meeting the path names, when the caller hosts it — or is an admin of the host's org
        with the admin scope who names the host (``hostEmail``); 404 otherwise."""
        found = _caller(request, sandbox, scopes)
        if isinstance(found, web.Response):
            return found
        grant, caller = found
        state: State = sandbox.state[NAME]
        meeting = state.meetings.get(request.match_info["meeting"])
        host = state.by_id.get(meeting["hostUserId"]) if meeting is not None else None
        if meeting is None or host is None:
            return webex_error(404, "Meeting not found.")
        if host["id"] != caller["id"]:
            named = isinstance(host_email, str) and host_email.lower() in (e.lower() for e in host["emails"])
            admin_scope = grant.scopes & ADMIN_SCOPES[scopes is WRITE_SCOPES]
            if not (named and caller["_admin"] and admin_scope and host["orgId"] == caller["orgId"]):
                return webex_error(404, "Meeting not found.")
        return meeting, state

    @route("webex.meetings.get", NAME)
    async def get(request: web.Request) -> web.StreamResponse:
        found = lookup(request, READ_SCOPES, request.query.get("hostEmail"))
        return found if isinstance(found, web.Response) else json_response(_view(found[0]))

    @route("webex.meetings.update", NAME)
    async def update(request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            body = None
        found = lookup(request, WRITE_SCOPES, body.get("hostEmail") if isinstance(body, dict) else None)
        if isinstance(found, web.Response):
            return found
        if not isinstance(body, dict):
            return webex_error(400, "The request body is not valid JSON.")
        meeting, _state = found
        problems, start, end, zone, zone_name = _validate_meeting(body, sandbox.clock())
        if problems or start is None or end is None:
            return webex_error(400, "The input parameters contain invalid items.", problems)
        # A PUT replaces the schedule: what is left out goes back to its default; the password stays
        # unless a new one is given; id, meeting number and links never change.
        meeting.update(
            title=body["title"], agenda=body.get("agenda", ""), timezone=zone_name,
            start=_format_time(start, zone, zone_name), end=_format_time(end, zone, zone_name),
            password=body.get("password") or meeting["password"],
            enabledJoinBeforeHost=bool(body.get("enabledJoinBeforeHost", False)),
            joinBeforeHostMinutes=int(body.get("joinBeforeHostMinutes", 0) or 0),
            sendEmail=bool(body.get("sendEmail", True)),
        )  # fmt: skip
        return json_response(_view(meeting))

    @route("webex.meetings.delete", NAME)
    async def delete(request: web.Request) -> web.StreamResponse:
        found = lookup(request, WRITE_SCOPES, request.query.get("hostEmail"))
        if isinstance(found, web.Response):
            return found
        meeting, state = found
        del state.meetings[meeting["id"]]
        return web.Response(status=204)

    return {"create": create, "get": get, "update": update, "delete": delete}


def _view(meeting: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meeting.items() if not k.startswith("_")}


def _meeting(state: State, body: dict[str, Any], host: dict[str, Any], start: datetime, end: datetime, zone: Any,
             zone_name: str, client_id: str) -> dict[str, Any]:  # fmt: skip
    site = state.orgs.get(host["orgId"], {}).get("siteUrl", "sandbox.webex.com")
    number = str(secrets.randbelow(9 * 10**9) + 10**9)
    mtid = secrets.token_hex(16)
    password = body.get("password") or (secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + secrets.token_urlsafe(6)[:5]
                                        + "@" + str(secrets.randbelow(90) + 10))  # fmt: skip
    return {
        "id": secrets.token_hex(16),
        "meetingNumber": number,
        "title": body["title"],
        "agenda": body.get("agenda", ""),
        "password": password,
        "phoneAndVideoSystemPassword": str(secrets.randbelow(9 * 10**7) + 10**7),
        "meetingType": "meetingSeries",
        "state": "active",
        "timezone": zone_name,
        "start": _format_time(start, zone, zone_name),
        "end": _format_time(end, zone, zone_name),
        "hostUserId": host["id"],
        "hostDisplayName": host["displayName"],
        "hostEmail": host["emails"][0],
        "siteUrl": site,
        "webLink": f"https://{site}/{site.split('.')[0]}/j.php?MTID=m{mtid}",
        "sipAddress": f"{number}@{site}",
        "dialInIpAddress": "",
        "enabledAutoRecordMeeting": False,
        "allowAnyUserToBeCoHost": False,
        "enabledJoinBeforeHost": bool(body.get("enabledJoinBeforeHost", False)),
        "enableConnectAudioBeforeHost": False,
        "joinBeforeHostMinutes": int(body.get("joinBeforeHostMinutes", 0) or 0),
        "excludePassword": False,
        "publicMeeting": False,
        "enableAutomaticLock": False,
        "sendEmail": bool(body.get("sendEmail", True)),
        "scheduledType": body.get("scheduledType", "meeting"),
        "invitees": [dict(i) for i in body.get("invitees") or []],
        "telephony": {
            "accessCode": number,
            "callInNumbers": [{"label": "United States Toll", "callInNumber": "+1-555-010-0100", "tollType": "toll"}],
            "links": [{"rel": "globalCallinNumbers", "href": f"/v1/meetings/{mtid}/globalCallinNumbers",
                       "method": "GET"}],  # fmt: skip
        },
        "_client": client_id,
    }


# -------------------------------------------------------------------------------------------- people
def _decode_cursor(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()))
    except ValueError:
        return -1


def make_people(sandbox: Sandbox) -> dict[str, Any]:
    """``GET /people``, ``GET /people/me`` and ``GET /people/{id}``."""

    @route("webex.people.list", NAME)
    async def list_people(request: web.Request) -> web.StreamResponse:
        found = _caller(request, sandbox, PEOPLE_SCOPES)
        if isinstance(found, web.Response):
            return found
        _grant, caller = found
        state: State = sandbox.state[NAME]
        q = request.query
        try:
            size = int(q.get("max", "100"))
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PEOPLE:
            return webex_error(400, "The input parameters contain invalid items.", ["max must be between 1 and 1000."])
        offset = _decode_cursor(q.get("cursor"))
        if offset < 0:
            return webex_error(400, "Invalid cursor.")
        org = caller["orgId"]
        matches: list[dict[str, Any]]
        if q.get("email"):
            person = state.by_email.get(q["email"].lower())
            matches = [person] if person is not None and person["orgId"] == org else []
        elif q.get("id"):
            ids = [i for i in q["id"].split(",") if i][:85]
            matches = [p for i in ids if (p := state.by_id.get(i)) is not None and p["orgId"] == org]
        elif q.get("displayName"):
            prefix = q["displayName"].lower()
            matches = [p for p in state.people if p["orgId"] == org and p["displayName"].lower().startswith(prefix)]
        elif caller["_admin"]:
            matches = [p for p in state.people if p["orgId"] == org]
        else:
            return webex_error(400, "Email, displayName, or id list should be specified.")
        page = matches[offset : offset + size]
        headers = {}
        if offset + size < len(matches):
            cursor = base64.urlsafe_b64encode(str(offset + size).encode()).decode().rstrip("=")
            params = [(k, v) for k, v in q.items() if k != "cursor"] + [("cursor", cursor)]
            link = f"{request.scheme}://{request.host}{PREFIX}/people?{urlencode(params, quote_via=quote)}"
            headers["Link"] = f'<{link}>; rel="next"'
        body = {"items": [_public(p, caller["_admin"]) for p in page], "notFoundIds": None}
        return json_response(body, headers=headers)

    @route("webex.people.me", NAME)
    async def me(request: web.Request) -> web.StreamResponse:
        found = _caller(request, sandbox, None)
        if isinstance(found, web.Response):
            return found
        return json_response(_public(found[1], True))

    @route("webex.people.get", NAME)
    async def get(request: web.Request) -> web.StreamResponse:
        found = _caller(request, sandbox, PEOPLE_SCOPES)
        if isinstance(found, web.Response):
            return found
        state: State = sandbox.state[NAME]
        person = state.by_id.get(request.match_info["person"])
        if person is None or person["orgId"] != found[1]["orgId"]:
            return webex_error(404, "Person not found.")
        return json_response(_public(person, found[1]["_admin"]))

    return {"list": list_people, "me": me, "get": get}


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Register the Webex routes; point the module clock at the sandbox clock."""
    CLOCK[0] = sandbox.clock
    authorize, access_token = make_oauth(sandbox)
    app.router.add_get(f"{PREFIX}/authorize", authorize)
    app.router.add_post(f"{PREFIX}/access_token", access_token)
    meetings = make_meetings(sandbox)
    app.router.add_post(f"{PREFIX}/meetings", meetings["create"])
    app.router.add_get(f"{PREFIX}/meetings/{{meeting}}", meetings["get"])
    app.router.add_put(f"{PREFIX}/meetings/{{meeting}}", meetings["update"])
    app.router.add_delete(f"{PREFIX}/meetings/{{meeting}}", meetings["delete"])
    people = make_people(sandbox)
    app.router.add_get(f"{PREFIX}/people", people["list"])
    app.router.add_get(f"{PREFIX}/people/me", people["me"])
    app.router.add_get(f"{PREFIX}/people/{{person}}", people["get"])
