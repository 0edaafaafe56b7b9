"""Google pieces every Google endpoint shares: scopes, error envelopes, bearer checks, time formats."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from sandbox.core import Grant, Sandbox, bearer_token, json_response

NAME = "google"
SCOPE_PREFIX = "https://www.googleapis.com/auth/"


def scope(short: str) -> str:
    """The full scope URL Google grants for ``short`` (``calendar`` → ``https://…/auth/calendar``)."""
    return SCOPE_PREFIX + short


def scopes(*shorts: str) -> frozenset[str]:
    """A frozenset of full scope URLs."""
    return frozenset(scope(s) for s in shorts)


# Scopes each endpoint accepts (any one of them is enough).
FREEBUSY = scopes("calendar", "calendar.readonly", "calendar.freebusy", "calendar.events.freebusy")
CALENDAR_LIST = scopes(
    "calendar", "calendar.readonly", "calendar.calendarlist", "calendar.calendarlist.readonly"
)
EVENTS_WRITE = scopes("calendar", "calendar.events", "calendar.events.owned")
EVENTS_READ = EVENTS_WRITE | scopes(
    "calendar.readonly", "calendar.events.readonly", "calendar.events.owned.readonly"
)
DIRECTORY_USERS = scopes("admin.directory.user", "admin.directory.user.readonly")
DIRECTORY_DOMAINS = scopes("admin.directory.domain", "admin.directory.domain.readonly")
MEET_CREATE = scopes("meetings.space.created")
MEET_READ = scopes("meetings.space.created", "meetings.space.readonly", "meetings.space.settings")
USERINFO = frozenset({"openid", scope("userinfo.email"), scope("userinfo.profile")})

# What Google grants (and reports in ``scope``) for the OpenID shorthand scopes.
SHORTHAND = {"email": scope("userinfo.email"), "profile": scope("userinfo.profile"), "openid": "openid"}

RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INSUFFICIENT_SCOPES = "Request had insufficient authentication scopes."

# Generic answers for injected status faults: (domain, reason, message).
_FAULT_REASONS = {
    400: ("global", "badRequest", "Bad Request"),
    401: ("global", "authError", "Invalid Credentials"),
    403: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    404: ("global", "notFound", "Not Found"),
    409: ("global", "duplicate", "The requested identifier already exists."),
    410: ("global", "deleted", "Resource has been deleted"),
    412: ("global", "conditionNotMet", "Precondition Failed"),
    429: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("global", "backendError", "Backend Error"),
    502: ("global", "backendError", "Backend Error"),
    503: ("global", "backendError", "Backend Error"),
    504: ("global", "backendError", "Deadline exceeded"),
}


def error_envelope(
    status: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    location: str | None = None,
    location_type: str | None = None,
    with_status: bool = False,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Google's JSON API error body: ``{"error":{"code","message","errors":[{domain,reason,message}]}}``."""
    item: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
    if location:
        item["location"] = location
        item["locationType"] = location_type or "parameter"
    error: dict[str, Any] = {"code": status, "message": message, "errors": [item]}
    if with_status:
        error["status"] = RPC_STATUS.get(status, "UNKNOWN")
    if details:
        error["details"] = details
    return {"error": error}


def error(
    status: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    location: str | None = None,
    location_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A Google JSON API error response."""
    body = error_envelope(
        status, reason, message, domain=domain, location=location, location_type=location_type
    )
    return json_response(body, status=status, headers=headers)


def rpc_error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> web.Response:
    """A google.rpc-shaped error (Meet v2): ``{"error":{"code","message","status"}}``."""
    body: dict[str, Any] = {"code": status, "message": message, "status": RPC_STATUS.get(status, "UNKNOWN")}
    if details:
        body["details"] = details
    return json_response({"error": body}, status=status)


def error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Body of an injected status fault on Calendar / Directory routes."""
    domain, reason, message = _FAULT_REASONS.get(status, ("global", "unknown", "Unknown Error"))
    return error_envelope(status, reason, message, domain=domain, with_status=status in (401, 429)), {}


def rpc_error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Body of an injected status fault on Meet routes (google.rpc shape)."""
    message = _FAULT_REASONS.get(status, ("", "", "Unknown Error"))[2]
    return {"error": {"code": status, "message": message, "status": RPC_STATUS.get(status, "UNKNOWN")}}, {}


def oauth_error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Body of an injected status fault on the OAuth endpoints (RFC 6749 shape)."""
    error_code = {400: "invalid_request", 401: "invalid_client"}.get(status)
    if error_code is None:
        error_code = "temporarily_unavailable" if status in (429, 503) else "server_error"
    return {"error": error_code, "error_description": "Injected fault"}, {}


def _scope_details(service: str, method: str) -> list[dict[str, Any]]:
    return [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": service, "method": method},
        }
    ]


def authorize(
    request: web.Request,
    sandbox: Sandbox,
    accepted: frozenset[str],
    *,
    service: str,
    method: str,
    rpc: bool = False,
) -> Grant | web.Response:
    """The caller's live Google access grant holding one of ``accepted``, or Google's 401/403 answer."""
    token = bearer_token(request) or request.query.get("access_token")
    if not token:
        if rpc:
            return rpc_error(401, _MISSING_CREDENTIALS)
        body = error_envelope(
            401,
            "required",
            "Login Required.",
            location="Authorization",
            location_type="header",
            with_status=True,
        )
        body["error"]["message"] = _MISSING_CREDENTIALS
        return json_response(body, status=401)
    grant = sandbox.tokens.get(token)
    if grant is None or grant.provider != NAME or grant.kind != "access" or not grant.active(sandbox.clock()):
        if rpc:
            return rpc_error(401, _INVALID_CREDENTIALS)
        body = error_envelope(
            401,
            "authError",
            "Invalid Credentials",
            location="Authorization",
            location_type="header",
            with_status=True,
        )
        body["error"]["message"] = _INVALID_CREDENTIALS
        return json_response(body, status=401)
    if accepted.isdisjoint(grant.scopes):
        details = _scope_details(service, method)
        if rpc:
            return rpc_error(403, INSUFFICIENT_SCOPES, details)
        body = error_envelope(
            403, "insufficientPermissions", "Insufficient Permission", with_status=True, details=details
        )
        body["error"]["message"] = INSUFFICIENT_SCOPES
        return json_response(body, status=403)
    return grant


# ------------------------------------------------------------------------------------------------ time
def zone(name: str | None) -> tzinfo:
    """The IANA zone ``name`` (UTC when empty); ValueError when unknown."""
    if not name or name in ("UTC", "Etc/UTC", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def parse_rfc3339(value: Any) -> datetime:
    """An aware datetime from an RFC 3339 string; ValueError when it is not one (or has no offset)."""
    if not isinstance(value, str) or "T" not in value:
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"RFC 3339 date-time without offset: {value!r}")
    return parsed


def format_instant(ts: float, tz: tzinfo = UTC) -> str:
    """``2026-10-01T13:00:00Z`` in UTC, ``2026-10-01T15:00:00+02:00`` elsewhere (Google's freeBusy style)."""
    moment = datetime.fromtimestamp(ts, tz)
    if tz is UTC:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="seconds")


def format_millis(ts: float) -> str:
    """``2026-10-01T13:00:00.000Z`` (Google's created/updated/timeMin echo style)."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
