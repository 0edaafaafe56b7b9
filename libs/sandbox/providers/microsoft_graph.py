"""Shared Graph plumbing: the error envelope, bearer-token checks and per-endpoint permissions.

A delegated token carries the granted scopes (``scp``: ``Calendars.ReadWrite``…) and the signed-in
user as ``subject``; an app-only token carries the app roles admin-consented for its tenant
(``roles``) and no subject. Each endpoint lists the permissions that satisfy it for both kinds.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox.core import Grant, Sandbox, bearer_token, json_response
from sandbox.providers.microsoft_state import MsUser, State, Tenant

NAME = "microsoft"
GRAPH_PREFIX = "/graph.microsoft.com/v1.0"
GRAPH_RESOURCE = "https://graph.microsoft.com/"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata"

# Permissions per endpoint: (delegated scp, application roles).
CAL_READ = (
    frozenset({"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite", "Calendars.Read.Shared",
               "Calendars.ReadWrite.Shared", "Calendars.ReadBasic.All", "Calendars.Read.All",
               "Calendars.ReadWrite.All"}),
    frozenset({"Calendars.ReadBasic.All", "Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite",
               "Calendars.Read.All", "Calendars.ReadWrite.All"}),
)  # fmt: skip
CAL_WRITE = (
    frozenset({"Calendars.ReadWrite", "Calendars.ReadWrite.Shared", "Calendars.ReadWrite.All"}),
    frozenset({"Calendars.ReadWrite", "Calendars.ReadWrite.All"}),
)
#: Delegated scopes that reach other users' calendars (own calendar otherwise).
CAL_OTHERS = frozenset(
    {"Calendars.Read.Shared", "Calendars.ReadWrite.Shared", "Calendars.ReadBasic.All", "Calendars.Read.All",
     "Calendars.ReadWrite.All"}
)  # fmt: skip
MEETINGS = (frozenset({"OnlineMeetings.ReadWrite", "OnlineMeetings.ReadWrite.All"}),
            frozenset({"OnlineMeetings.ReadWrite.All"}))  # fmt: skip
USERS_FULL = frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})
USERS = (USERS_FULL | {"User.ReadBasic.All"}, USERS_FULL | {"User.ReadBasic.All"})
ME = (USERS_FULL | {"User.Read", "User.ReadWrite", "User.ReadBasic.All"}, frozenset[str]())
ORGANIZATION = (
    frozenset({"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "User.Read"}),
    frozenset({"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All"}),
)
PLACES = (frozenset({"Place.Read.All", "Place.ReadWrite.All"}), frozenset({"Place.Read.All", "Place.ReadWrite.All"}))

_CODES = {
    400: ("BadRequest", "The request is malformed or incorrect."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "The send or update operation could not be performed."),
    429: ("TooManyRequests", "Too many requests."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "The server received an invalid response."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The request timed out."),
}


def graph_error_doc(code: str, message: str, client_request_id: str | None = None) -> dict[str, Any]:
    """The Graph error envelope ``{"error":{"code","message","innerError":{…}}}``."""
    request_id = str(uuid.uuid4())
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }


def graph_error(
    request: web.Request | None, status: int, code: str | None = None, message: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:  # fmt: skip
    """A Graph error response (code and message default by status)."""
    default_code, default_message = _CODES.get(status, ("UnknownError", "An error occurred."))
    client_id = request.headers.get("client-request-id") if request is not None else None
    body = graph_error_doc(code or default_code, message or default_message, client_id)
    return json_response(body, status=status, headers=headers)


def error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Graph's error body for an injected status fault (core adds ``Retry-After``)."""
    code, message = _CODES.get(status, ("UnknownError", "An error occurred."))
    if status == 429:
        message = "Too many requests. Retry after the number of seconds in the Retry-After header."
    return graph_error_doc(code, message), {}


@dataclass
class Caller:
    """Who is calling Graph: the token, its tenant and (delegated) the signed-in user."""

    grant: Grant
    tenant: Tenant
    user: MsUser | None

    @property
    def app_only(self) -> bool:
        """True for client-credentials tokens."""
        return self.grant.subject is None

    def allowed(self, perms: tuple[frozenset[str], frozenset[str]]) -> bool:
        """True when the token carries one of the permissions for its kind."""
        return bool(self.grant.scopes & perms[1 if self.app_only else 0])


_WWW_AUTH = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)


def authenticate(request: web.Request, sandbox: Sandbox) -> Caller | web.Response:
    """The caller of a Graph request, or the 401 Graph answers."""
    token = bearer_token(request)
    headers = {"WWW-Authenticate": _WWW_AUTH}
    if token is None:
        return graph_error(request, 401, message="Access token is empty.", headers=headers)
    grant = sandbox.tokens.get(token)
    if grant is None or grant.provider != NAME or grant.kind != "access":
        return graph_error(request, 401, message="IDX14100: JWT is not well formed.", headers=headers)
    if grant.revoked:
        return graph_error(request, 401, message="Access token has been revoked.", headers=headers)
    if not grant.active(sandbox.clock()):
        return graph_error(request, 401, message="Lifetime validation failed, the token is expired.", headers=headers)
    state: State = sandbox.state[NAME]
    tenant = state.tenant_of(grant.tenant)
    if tenant is None:
        return graph_error(request, 401, message="Access token validation failure. Invalid tenant.", headers=headers)
    user = None
    if grant.subject is not None:
        user = state.user(grant.subject)
        if user is None:
            return graph_error(request, 401, message="The user of this token no longer exists.", headers=headers)
    return Caller(grant, tenant, user)


def deny(request: web.Request, directory: bool = False) -> web.Response:
    """403 for a token lacking the permission (directory endpoints use Entra's code)."""
    if directory:
        return graph_error(request, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    return graph_error(request, 403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def target_user(request: web.Request, caller: Caller, state: State, key: str | None) -> MsUser | web.Response:
    """The mailbox user a ``/me/…`` or ``/users/{key}/…`` path names, or the Graph error."""
    if key is None:
        if caller.user is None:
            return graph_error(request, 400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        return caller.user
    user = state.user(key, caller.tenant.id)
    if user is None:
        return graph_error(request, 404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
    return user


async def json_body(request: web.Request) -> dict[str, Any] | web.Response:
    """The JSON object body, or Graph's 400 when it is not one."""
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return graph_error(
            request, 400, "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )  # fmt: skip
    return body


def graph_base(request: web.Request) -> str:
    """``scheme://host:port/graph.microsoft.com/v1.0`` for absolute links."""
    return f"{request.scheme}://{request.host}{GRAPH_PREFIX}"
