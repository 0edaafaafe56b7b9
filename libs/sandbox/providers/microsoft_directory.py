"""Graph directory endpoints: ``/users`` (+ ``/users/{id}``, ``/me``), ``/users/delta``,
``/organization`` and ``/places/microsoft.graph.room``.

Paging tokens are opaque base64url JSON carrying an index (``/users``) or a change-log position
(``/users/delta``) plus the state's epoch, so a token from before ``/_admin/reset`` is recognised as
stale. Delta semantics (see ``delta``): stale/unknown token -> 410 Gone with a ``Location`` of the
initial query (sync reset); token older than 7 days -> 400 ``syncStateNotFound``.
"""

from __future__ import annotations

import base64
import json
import re
from bisect import bisect_right
from typing import Any
from urllib.parse import quote

from aiohttp import web

from sandbox.core import Sandbox, json_response, route
from sandbox.providers.microsoft_graph import (
    CONTEXT,
    GRAPH_PREFIX,
    ME,
    NAME,
    ORGANIZATION,
    PLACES,
    USERS,
    USERS_FULL,
    Caller,
    authenticate,
    deny,
    graph_base,
    graph_error,
)
from sandbox.providers.microsoft_state import BASIC_USER_PROPS, DEFAULT_USER_PROPS, USER_PROPS, MsUser, State

MAX_TOP = 999
DEFAULT_TOP = 100
DELTA_PAGE = 200
DELTA_TOKEN_LIFETIME = 7 * 86400.0
_USER_PROPS = frozenset(USER_PROPS)


def encode_token(data: dict[str, Any]) -> str:
    """An opaque URL-safe token."""
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def decode_token(token: str) -> dict[str, Any] | None:
    """The token's data, or None when it is not one of ours."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _q(value: str) -> str:
    return quote(value, safe=",'()$:@")


def _select(request: web.Request) -> tuple[str, ...] | web.Response:
    raw = request.query.get("$select")
    if raw is None:
        return DEFAULT_USER_PROPS
    props = tuple(p.strip() for p in raw.split(",") if p.strip())
    for prop in props:
        if prop not in _USER_PROPS:
            return graph_error(
                request, 400, "Request_BadRequest",
                f"Could not find a property named '{prop}' on type 'Microsoft.DirectoryServices.User'.",
            )  # fmt: skip
    return props if "id" in props else ("id", *props)


def project(user: MsUser, props: tuple[str, ...], full: bool) -> dict[str, Any]:
    """The user with ``props``; without full read permission non-basic properties are null."""
    doc = user.doc
    if full:
        return {p: doc[p] for p in props}
    return {p: (doc[p] if p in BASIC_USER_PROPS else None) for p in props}


def _context(entity: str, props: tuple[str, ...], explicit: bool) -> str:
    return f"{CONTEXT}#{entity}({','.join(props)})" if explicit else f"{CONTEXT}#{entity}"


_FILTER = re.compile(
    r"^\s*(?:(?P<prop>\w+)\s+eq\s+(?P<value>'(?:[^']|'')*'|true|false|null)"
    r"|startswith\(\s*(?P<sprop>\w+)\s*,\s*'(?P<prefix>(?:[^']|'')*)'\s*\))\s*$",
    re.IGNORECASE,
)


def parse_filter(raw: str | None) -> list[tuple[str, str, Any]] | None:
    """``$filter`` clauses joined by ``and``: ``prop eq 'v'|true|false|null`` and ``startswith(prop,'v')``.

    None when the filter uses anything else (Graph answers ``Request_UnsupportedQuery``).
    """
    if not raw:
        return []
    clauses: list[tuple[str, str, Any]] = []
    for part in re.split(r"\s+and\s+", raw, flags=re.IGNORECASE):
        match = _FILTER.match(part)
        if match is None:
            return None
        if match.group("prop"):
            prop, value = match.group("prop"), match.group("value")
            if prop not in _USER_PROPS:
                return None
            parsed: Any = {"true": True, "false": False, "null": None}.get(value.lower(), value)
            if isinstance(parsed, str):
                parsed = parsed[1:-1].replace("''", "'")
            clauses.append(("eq", prop, parsed))
        else:
            if match.group("sprop") not in _USER_PROPS:
                return None
            clauses.append(("startswith", match.group("sprop"), match.group("prefix").replace("''", "'")))
    return clauses


def _matches(user: MsUser, clauses: list[tuple[str, str, Any]]) -> bool:
    for op, prop, value in clauses:
        actual = user.doc.get(prop)
        if op == "eq":
            if isinstance(value, str) and isinstance(actual, str):
                if actual.lower() != value.lower():
                    return False
            elif actual != value:
                return False
        elif not (isinstance(actual, str) and actual.lower().startswith(str(value).lower())):
            return False
    return True


def _top(request: web.Request, default: int) -> int | web.Response:
    raw = request.query.get("$top")
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        top = 0
    if not 1 <= top <= MAX_TOP:
        return graph_error(
            request, 400, "Request_UnsupportedQuery",
            f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive.",
        )  # fmt: skip
    return top


def _directory_caller(
    request: web.Request, sandbox: Sandbox, perms: tuple[frozenset[str], frozenset[str]]
) -> Caller | web.Response:
    caller = authenticate(request, sandbox)
    if isinstance(caller, web.Response):
        return caller
    if not caller.allowed(perms):
        return deny(request, directory=True)
    return caller


# -------------------------------------------------------------------------------------------- users
def make_users(sandbox: Sandbox) -> dict[str, Any]:
    """``GET /users``, ``GET /users/{id|upn}`` and ``GET /me``."""

    @route("microsoft.users.list", NAME)
    async def list_users(request: web.Request) -> web.StreamResponse:
        caller = _directory_caller(request, sandbox, USERS)
        if isinstance(caller, web.Response):
            return caller
        props = _select(request)
        if isinstance(props, web.Response):
            return props
        top = _top(request, DEFAULT_TOP)
        if isinstance(top, web.Response):
            return top
        clauses = parse_filter(request.query.get("$filter"))
        if clauses is None:
            return graph_error(request, 400, "Request_UnsupportedQuery", "Unsupported Query.")
        state: State = sandbox.state[NAME]
        offset = 0
        if "$skiptoken" in request.query:
            token = decode_token(request.query["$skiptoken"])
            if token is None or token.get("e") != state.epoch or token.get("k") != "users":
                return graph_error(
                    request, 400, "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                )  # fmt: skip
            offset = int(token.get("o", 0))
        users = caller.tenant.users
        if clauses:
            users = [u for u in users if _matches(u, clauses)]
        page = users[offset : offset + top]
        full = bool(caller.grant.scopes & USERS_FULL)
        doc: dict[str, Any] = {"@odata.context": _context("users", props, "$select" in request.query)}
        if offset + top < len(users):
            params = [f"$top={top}"]
            for key in ("$select", "$filter"):
                if key in request.query:
                    params.append(f"{key}={_q(request.query[key])}")
            params.append("$skiptoken=" + encode_token({"k": "users", "e": state.epoch, "o": offset + top}))
            doc["@odata.nextLink"] = f"{graph_base(request)}/users?{'&'.join(params)}"
        doc["value"] = [project(u, props, full) for u in page]
        return json_response(doc)

    @route("microsoft.users.get", NAME)
    async def get_user(request: web.Request) -> web.StreamResponse:
        caller = authenticate(request, sandbox)
        if isinstance(caller, web.Response):
            return caller
        state: State = sandbox.state[NAME]
        key = request.match_info["user"]
        user = state.user(key, caller.tenant.id)
        own = caller.user is not None and user is caller.user
        if not caller.allowed(USERS) and not (own and caller.allowed(ME)):
            return deny(request, directory=True)
        if user is None:
            return graph_error(
                request, 404, "Request_ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
            )  # fmt: skip
        return _one_user(request, caller, user, own)

    @route("microsoft.me", NAME)
    async def me(request: web.Request) -> web.StreamResponse:
        caller = authenticate(request, sandbox)
        if isinstance(caller, web.Response):
            return caller
        if caller.user is None:
            return graph_error(request, 400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        if not caller.allowed(ME):
            return deny(request, directory=True)
        return _one_user(request, caller, caller.user, True)

    return {"list": list_users, "get": get_user, "me": me}


def _one_user(request: web.Request, caller: Caller, user: MsUser, own: bool) -> web.Response:
    props = _select(request)
    if isinstance(props, web.Response):
        return props
    full = own or bool(caller.grant.scopes & USERS_FULL)
    doc = {"@odata.context": _context("users", props, "$select" in request.query) + "/$entity"}
    doc.update(project(user, props, full))
    return json_response(doc)


# -------------------------------------------------------------------------------------------- delta
def _page_size(request: web.Request, remembered: int | None) -> int:
    """``Prefer: odata.maxpagesize`` (or ``$top``), else the size the token remembers, else 200."""
    match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", request.headers.get("Prefer", ""))
    raw = match.group(1) if match else request.query.get("$top")
    try:
        return max(1, min(MAX_TOP, int(raw))) if raw else (remembered or DELTA_PAGE)
    except ValueError:
        return remembered or DELTA_PAGE


def make_delta(sandbox: Sandbox) -> Any:
    """``GET /users/delta``: full sync pages, then a delta link replaying only later changes.

    Tokens carry ``$select``. A token from another epoch (after ``/_admin/reset`` or a seeded
    ``{"delta_reset": true}``) or one we cannot read is answered ``410 Gone`` with a ``Location``
    header naming the initial query (Graph's "synchronization reset"); a token older than 7 days, or
    older than a seeded ``{"expire_delta_tokens": true}``, gets ``400 syncStateNotFound``.
    """

    @route("microsoft.users.delta", NAME)
    async def delta(request: web.Request) -> web.StreamResponse:
        caller = _directory_caller(request, sandbox, USERS)
        if isinstance(caller, web.Response):
            return caller
        state: State = sandbox.state[NAME]
        raw = request.query.get("$deltatoken") or request.query.get("$skiptoken")
        if raw is None:
            props = _select(request)
            if isinstance(props, web.Response):
                return props
            token: dict[str, Any] = {"e": state.epoch, "k": "delta", "s": -1, "t": state.seq, "o": 0,
                                     "p": list(props) if "$select" in request.query else None,
                                     "at": sandbox.clock()}  # fmt: skip
        else:
            decoded = decode_token(raw)
            if decoded is None or decoded.get("e") != state.epoch or decoded.get("k") != "delta":
                location = f"{graph_base(request)}/users/delta"
                return graph_error(
                    request, 410, "resyncRequired",
                    "The delta token is no longer valid. Restart with a full synchronization.",
                    headers={"Location": location},
                )  # fmt: skip
            if sandbox.clock() - float(decoded.get("at", 0)) > DELTA_TOKEN_LIFETIME or float(decoded.get("at", 0)) < state.delta_floor:
                return graph_error(
                    request, 400, "syncStateNotFound",
                    "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
                )  # fmt: skip
            token = decoded
            if "$deltatoken" in request.query:
                token = {**decoded, "s": decoded["t"], "t": state.seq, "o": 0, "at": sandbox.clock()}
        token["n"] = _page_size(request, token.get("n"))
        return _delta_page(request, caller, state, token, token["n"])

    return delta


def _delta_page(request: web.Request, caller: Caller, state: State, token: dict[str, Any], size: int) -> web.Response:
    explicit = token.get("p") is not None
    props: tuple[str, ...] = tuple(token["p"]) if explicit else DEFAULT_USER_PROPS
    full = bool(caller.grant.scopes & USERS_FULL)
    offset = int(token["o"])
    if token["s"] < 0:
        users = caller.tenant.users
        rows = [project(u, props, full) for u in users[offset : offset + size]]
        total = len(users)
    else:
        changed = _changed_users(state, caller.tenant.id, token["s"], token["t"], set(props) if explicit else None)
        total = len(changed)
        rows = []
        for user in changed[offset : offset + size]:
            if user.removed:
                rows.append({"id": user.id, "@removed": {"reason": user.removed}})
            else:
                rows.append(project(user, props, full))
    doc: dict[str, Any] = {"@odata.context": _context("users", props, explicit)}
    if offset + size < total:
        doc["@odata.nextLink"] = f"{graph_base(request)}/users/delta?$skiptoken={encode_token({**token, 'o': offset + size})}"
    else:
        final = {**token, "s": token["t"], "o": 0}
        doc["@odata.deltaLink"] = f"{graph_base(request)}/users/delta?$deltatoken={encode_token(final)}"
    doc["value"] = rows
    return json_response(doc)


def _changed_users(state: State, tenant: str, after: int, upto: int, select: set[str] | None) -> list[MsUser]:
    """Users of ``tenant`` changed in ``(after, upto]`` (in order of their last change)."""
    start = bisect_right(state.changes, after, key=lambda c: c[0])
    seen: dict[str, None] = {}
    for seq, ten, user_id, props in state.changes[start:]:
        if seq > upto:
            break
        if ten != tenant:
            continue
        if select is not None and props is not None and not (props & select):
            continue
        seen.pop(user_id, None)
        seen[user_id] = None
    return [state.users[u] for u in seen if u in state.users]


# ------------------------------------------------------------------------------- organization/places
def make_organization(sandbox: Sandbox) -> Any:
    """``GET /organization`` (the caller's tenant only)."""

    @route("microsoft.organization", NAME)
    async def organization(request: web.Request) -> web.StreamResponse:
        caller = _directory_caller(request, sandbox, ORGANIZATION)
        if isinstance(caller, web.Response):
            return caller
        tenant = caller.tenant
        org = {
            "id": tenant.id,
            "displayName": tenant.display_name,
            "tenantType": "AAD",
            "countryLetterCode": tenant.extra.get("countryLetterCode", "US"),
            "preferredLanguage": tenant.extra.get("preferredLanguage", "en"),
            "createdDateTime": tenant.extra.get("createdDateTime", "2020-01-01T00:00:00Z"),
            "businessPhones": [],
            "verifiedDomains": [
                {"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": False, "isInitial": False,
                 "type": "Managed", **d}  # fmt: skip
                for d in tenant.domains
            ],
        }
        return json_response({"@odata.context": f"{CONTEXT}#organization", "value": [org]})

    return organization


def make_rooms(sandbox: Sandbox) -> Any:
    """``GET /places/microsoft.graph.room`` with ``$top`` (default 100) and ``$skip``."""

    @route("microsoft.places.rooms", NAME)
    async def rooms(request: web.Request) -> web.StreamResponse:
        caller = _directory_caller(request, sandbox, PLACES)
        if isinstance(caller, web.Response):
            return caller
        top = _top(request, DEFAULT_TOP)
        if isinstance(top, web.Response):
            return top
        try:
            skip = max(0, int(request.query.get("$skip", "0")))
        except ValueError:
            return graph_error(request, 400, "BadRequest", "Invalid $skip value.")
        all_rooms = caller.tenant.rooms
        page = [{k: v for k, v in r.items() if not k.startswith("_")} for r in all_rooms[skip : skip + top]]
        doc: dict[str, Any] = {"@odata.context": f"{CONTEXT}#places/microsoft.graph.room"}
        if skip + top < len(all_rooms):
            doc["@odata.nextLink"] = f"{graph_base(request)}/places/microsoft.graph.room?$top={top}&$skip={skip + top}"
        doc["value"] = page
        return json_response(doc)

    return rooms


def add_routes(app: web.Application, sandbox: Sandbox) -> None:
    """Register the directory routes (delta before ``/users/{user}``)."""
    users = make_users(sandbox)
    delta = make_delta(sandbox)
    for path in ("delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()"):
        app.router.add_get(f"{GRAPH_PREFIX}/users/{path}", delta)
    app.router.add_get(f"{GRAPH_PREFIX}/users", users["list"])
    app.router.add_get(f"{GRAPH_PREFIX}/users/{{user}}", users["get"])
    app.router.add_get(f"{GRAPH_PREFIX}/me", users["me"])
    app.router.add_get(f"{GRAPH_PREFIX}/organization", make_organization(sandbox))
    app.router.add_get(f"{GRAPH_PREFIX}/places/microsoft.graph.room", make_rooms(sandbox))
