"""Admin SDK Directory API: ``users.list``, ``users.get`` and ``domains.list``.

``users.list`` pages by an opaque index token over users kept sorted by email (sorted once, again only
after a change), so paging through 100,000 users is linear. ``query`` supports ``isSuspended``,
``isAdmin``, ``isArchived``, ``email``, ``givenName``, ``familyName``, ``name`` and ``orgUnitPath``
clauses (``=``/``:``; a trailing ``*`` is a prefix match), joined by spaces. ``projection`` and
``fields`` are accepted and ignored (full resources are returned).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox.core import Grant, Sandbox, json_response, route
from sandbox.providers.google_common import DIRECTORY_DOMAINS, DIRECTORY_USERS, NAME, authorize, error
from sandbox.providers.google_state import State, User

BASE = "/admin.googleapis.com/admin/directory/v1"
SERVICE = "admin.googleapis.com"
MAX_USERS_PAGE = 500
NOT_AUTHORIZED = "Not Authorized to access this resource/api"
_CLAUSE = re.compile(r"""(\w+)\s*([=:])\s*('(?:[^']*)'|"(?:[^"]*)"|\S+)""")
PUBLIC_FIELDS = ("kind", "id", "etag", "primaryEmail", "name", "emails")

Predicate = Callable[[User], bool]


def _forbidden() -> web.Response:
    return error(403, "forbidden", NOT_AUTHORIZED)


def _caller(state: State, grant: Grant) -> User | None:
    return state.users_by_id.get(grant.subject or "") or state.user(grant.email)


def _text_match(value: str, wanted: str) -> bool:
    value, wanted = value.lower(), wanted.lower()
    if wanted.endswith("*"):
        return value.startswith(wanted[:-1])
    return value == wanted


def parse_query(query: str) -> list[Predicate]:
    """Predicates of a Directory ``query``; ValueError when a clause is not understood."""
    predicates: list[Predicate] = []
    rest = query.strip()
    for match in _CLAUSE.finditer(rest):
        field, value = match.group(1), match.group(3).strip("'\"")
        predicates.append(_predicate(field, value))
    if _CLAUSE.sub("", rest).strip():
        raise ValueError(query)
    return predicates


def _predicate(field: str, value: str) -> Predicate:
    flags = {"isSuspended": "suspended", "isAdmin": "is_admin", "isArchived": "archived"}
    if field in flags:
        if value.lower() not in ("true", "false"):
            raise ValueError(value)
        wanted, attr = value.lower() == "true", flags[field]
        return lambda u: bool(getattr(u, attr)) == wanted
    texts: dict[str, Callable[[User], str]] = {
        "email": lambda u: u.email,
        "givenName": lambda u: u.given_name,
        "familyName": lambda u: u.family_name,
        "name": lambda u: f"{u.given_name} {u.family_name}",
        "orgUnitPath": lambda u: u.org_unit_path,
    }
    if field not in texts:
        raise ValueError(field)
    getter = texts[field]
    if field == "orgUnitPath":
        return lambda u: (
            getter(u).lower() == value.lower()
            or getter(u).lower().startswith(value.lower().rstrip("/") + "/")
        )
    return lambda u: _text_match(getter(u), value)


def _encode_token(order: str, descending: bool, index: int) -> str:
    return base64.urlsafe_b64encode(f"{order}|{int(descending)}|{index}".encode()).decode().rstrip("=")


def _decode_token(token: str, order: str, descending: bool) -> int:
    raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
    t_order, t_desc, index = raw.split("|")
    if t_order != order or t_desc != str(int(descending)):
        raise ValueError(token)
    return int(index)


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add the Directory routes."""

    @route("google.directory.users.list", NAME)
    async def users_list(request: web.Request) -> web.Response:
        grant = authorize(
            request,
            sandbox,
            DIRECTORY_USERS,
            service=SERVICE,
            method="ccc.hosted.frontend.directory.v1.DirectoryUsers.List",
        )
        if isinstance(grant, web.Response):
            return grant
        return _users_page(sandbox.state[NAME], grant, request)

    @route("google.directory.users.get", NAME)
    async def users_get(request: web.Request) -> web.Response:
        grant = authorize(
            request,
            sandbox,
            DIRECTORY_USERS,
            service=SERVICE,
            method="ccc.hosted.frontend.directory.v1.DirectoryUsers.Get",
        )
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        caller = _caller(state, grant)
        key = request.match_info["userKey"]
        user = state.user(key)
        public = request.query.get("viewType") == "domain_public"
        if caller is None or not (caller.is_admin or public or user is caller):
            return _forbidden()
        if user is None or user.customer_id != caller.customer_id or user.deleted:
            return error(404, "notFound", f"Resource Not Found: {key}")
        data = user.resource()
        return json_response({k: data[k] for k in PUBLIC_FIELDS} if public and not caller.is_admin else data)

    @route("google.directory.domains.list", NAME)
    async def domains_list(request: web.Request) -> web.Response:
        grant = authorize(
            request,
            sandbox,
            DIRECTORY_DOMAINS,
            service=SERVICE,
            method="ccc.hosted.frontend.directory.v1.DirectoryDomains.List",
        )
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        caller = _caller(state, grant)
        customer = request.match_info["customer"]
        if caller is None or not caller.is_admin or customer not in ("my_customer", caller.customer_id):
            return _forbidden()
        domains = state.customers[caller.customer_id].domains if caller.customer_id in state.customers else []
        return json_response({"kind": "admin#directory#domains", "etag": '"domains"', "domains": domains})

    app.router.add_get(f"{BASE}/users", users_list)
    app.router.add_get(f"{BASE}/users/{{userKey}}", users_get)
    app.router.add_get(f"{BASE}/customer/{{customer}}/domains", domains_list)


def _users_page(state: State, grant: Grant, request: web.Request) -> web.Response:
    query = request.query
    customer, domain = query.get("customer"), query.get("domain")
    if not customer and not domain:
        return error(400, "badRequest", "Bad Request")
    public = query.get("viewType") == "domain_public"
    caller = _caller(state, grant)
    if caller is None or not (caller.is_admin or public):
        return _forbidden()
    if customer and customer not in ("my_customer", caller.customer_id):
        return _forbidden()
    if domain and domain.lower() not in state.customers.get(caller.customer_id, _NO_CUSTOMER).domain_names():
        return _forbidden()
    raw_size = query.get("maxResults", "100")
    try:
        size = int(raw_size)
        if not 1 <= size <= MAX_USERS_PAGE:
            raise ValueError
    except ValueError:
        message = f"Invalid value '{raw_size}'. Values must be within the range: [1, {MAX_USERS_PAGE}]"
        return error(400, "invalidParameter", message, location="maxResults")
    order = query.get("orderBy", "email")
    sort_order = query.get("sortOrder", "ASCENDING").upper()
    if order not in ("email", "givenName", "familyName") or sort_order not in ("ASCENDING", "DESCENDING"):
        return error(400, "invalid", "Invalid Input: orderBy/sortOrder")
    try:
        predicates = parse_query(query.get("query", ""))
    except ValueError:
        return error(400, "invalid", f"Invalid Input: {query.get('query', '')}")
    descending = sort_order == "DESCENDING"
    try:
        start = _decode_token(query["pageToken"], order, descending) if query.get("pageToken") else 0
    except (ValueError, UnicodeDecodeError):
        return error(400, "invalid", "Invalid Input: pageToken")

    ordered = state.ordered_users()
    if order != "email":
        attr = "given_name" if order == "givenName" else "family_name"
        ordered = sorted(ordered, key=lambda u: (getattr(u, attr).lower(), u.email.lower()))
    show_deleted = query.get("showDeleted", "false").lower() == "true"
    customer_id, wanted_domain = caller.customer_id, (domain or "").lower()

    def matches(user: User) -> bool:
        if user.customer_id != customer_id or user.deleted != show_deleted:
            return False
        if wanted_domain and user.domain.lower() != wanted_domain:
            return False
        return all(p(user) for p in predicates)

    total = len(ordered)
    page: list[dict[str, Any]] = []
    i = start
    next_index = None
    while i < total:
        user = ordered[total - 1 - i] if descending else ordered[i]
        if matches(user):
            if len(page) == size:
                next_index = i
                break
            data = user.resource()
            page.append({k: data[k] for k in PUBLIC_FIELDS} if public and not caller.is_admin else data)
        i += 1
    result: dict[str, Any] = {"kind": "admin#directory#users", "etag": f'"users-{total}"'}
    if page:
        result["users"] = page
    if next_index is not None:
        result["nextPageToken"] = _encode_token(order, descending, next_index)
    return json_response(result)


class _NoCustomer:
    def domain_names(self) -> set[str]:
        return set()


_NO_CUSTOMER: Any = _NoCustomer()
