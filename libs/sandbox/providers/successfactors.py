"""SAP SuccessFactors emulator: OAuth 2.0 SAML bearer token and the OData v2 ``User`` entity.

Paths (the api-server stands in as ``successfactors``): ``POST /successfactors/oauth/token``,
``POST /successfactors/oauth/idp`` (mints a test assertion), ``GET /successfactors/odata/v2/User``,
``GET /successfactors/odata/v2/User('id')`` and ``GET /successfactors/odata/v2/User/$count``.

Assertion check (no XML signature verification): the assertion must be base64 of a SAML 2.0
``Assertion`` whose ``api_key`` attribute (or ``Issuer``) is the ``client_id`` registered for
``company_id``, whose ``NameID`` is an active user of that company (``userId``; ``use_username`` /
``use_email`` attributes switch the lookup) and whose ``NotOnOrAfter`` (when present) is in the future
on the sandbox clock. A repeated request for the same client and user answers the same token with
the remaining lifetime unless ``new_token=true`` (as SuccessFactors does).

The token carries the API user's role permissions as scopes; reading ``User`` needs ``User``
(403 otherwise). Collections default to active users (``status in 't','T'``) unless the filter names
``status``; server paging is 1,000 rows (``customPageSize`` lowers it) with ``d.__next`` carrying
``$skiptoken``. Responses are always JSON (Atom is not emulated).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from sandbox.core import Sandbox, bearer_token, json_response, read_form, route
from sandbox.providers.successfactors_query import FilterError, odata_date, parse_datetime_ms, parse_filter

NAME = "successfactors"
PREFIX = "/successfactors"
TOKEN_TTL = 86400.0
PAGE = 1000
SAML_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer"
USER_FIELDS = (
    "userId", "username", "email", "status", "firstName", "lastName", "displayName", "defaultFullName",
    "title", "department", "division", "location", "timeZone", "empId", "hireDate", "lastModifiedDateTime",
)  # fmt: skip
KNOWN = frozenset(USER_FIELDS)
NAVIGATION = ("manager", "hr", "empInfo", "userPermissionsNav")
ACTIVE = frozenset({"t", "T"})
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
#: Clock for changes made outside a request (admin ``update_user``); setup() points it at the sandbox clock.
CLOCK: list[Callable[[], float]] = [time.time]


@dataclass
class State:
    """Companies, their OAuth clients and users."""

    companies: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_id: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    issued: dict[tuple[str, str], str] = field(default_factory=dict)
    version: int = 0
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    cache: dict[tuple[str, str, int], list[dict[str, Any]]] = field(default_factory=dict)


def _ms(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return parse_datetime_ms(str(value))


def load(fixture: dict[str, Any]) -> State:
    """A fresh state from ``successfactors.json``."""
    state = State()
    seed(state, fixture)
    return state


def seed(state: State, data: dict[str, Any]) -> None:
    """Merge ``companies``, ``clients`` and ``users`` (users name their ``company``)."""
    for raw in data.get("companies") or []:
        state.companies[str(raw["company_id"])] = dict(raw)
        state.users.setdefault(str(raw["company_id"]), [])
    default = next(iter(state.companies), "")
    for raw in data.get("clients") or []:
        state.clients[str(raw["client_id"])] = dict(raw)
    for raw in data.get("users") or []:
        _put_user(state, str(raw.get("company") or default), raw)
    state.version += 1


def _put_user(state: State, company: str, raw: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(USER_FIELDS)
    row.update({k: v for k, v in raw.items() if k in KNOWN})
    row["username"] = row["username"] or row["userId"]
    row["status"] = row["status"] or "t"
    row["displayName"] = row["displayName"] or " ".join(x for x in (row["firstName"], row["lastName"]) if x)
    row["defaultFullName"] = row["defaultFullName"] or row["displayName"]
    row["hireDate"] = _ms(row["hireDate"])
    row["lastModifiedDateTime"] = _ms(row["lastModifiedDateTime"]) or int(CLOCK[0]() * 1000)
    row["_permissions"] = list(raw.get("permissions") or [])
    key = (company, str(row["userId"]))
    existing = state.by_id.get(key)
    if existing is not None:
        existing.update(row)
        return existing
    state.users.setdefault(company, []).append(row)
    state.by_id[key] = row
    return row


def bulk_users(
    state: State, tenant: str | None = None, domain: str | None = None, count: int = 1000, prefix: str = "user",
    start: int = 0, inactive_every: int = 0, **_ignored: Any,
) -> int:  # fmt: skip
    """Add ``count`` users ``{prefix}{n}`` (email ``{prefix}{n}@{domain}``) to company ``tenant``."""
    company = tenant or next(iter(state.companies), "")
    if company not in state.companies:
        raise ValueError(f"unknown company {company!r}")
    domain = domain or state.companies[company].get("domain", "example.com")
    rows = state.users.setdefault(company, [])
    stamp = int(CLOCK[0]() * 1000)
    for n in range(start, start + count):
        uid = f"{prefix}{n}"
        row = dict.fromkeys(USER_FIELDS)
        inactive = inactive_every and n % inactive_every == 0
        row.update(userId=uid, username=uid, email=f"{uid}@{domain}", status="f" if inactive else "t",
                   firstName=prefix.title(), lastName=str(n), displayName=f"{prefix.title()} {n}",
                   defaultFullName=f"{prefix.title()} {n}", lastModifiedDateTime=stamp, _permissions=[])  # fmt: skip
        rows.append(row)
        state.by_id[(company, uid)] = row
    state.version += 1
    return count


def update_user(state: State, user_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Admin change (``status``, ``email``, ``username``, names, ``deleted`` = purge); bumps ``lastModifiedDateTime``."""
    for (company, uid), row in list(state.by_id.items()):
        if uid != user_id:
            continue
        if fields.get("deleted"):
            state.users[company].remove(row)
            del state.by_id[(company, uid)]
        else:
            for key, value in fields.items():
                if key in KNOWN and key != "userId":
                    row[key] = _ms(value) if key in ("hireDate", "lastModifiedDateTime") else value
                elif key == "permissions":
                    row["_permissions"] = list(value)
            if "lastModifiedDateTime" not in fields:
                row["lastModifiedDateTime"] = int(CLOCK[0]() * 1000)
        state.version += 1
        return {k: v for k, v in row.items() if not k.startswith("_")}
    return None


def created(state: State) -> dict[str, Any]:
    """Nothing is created through this read-only API."""
    return {}


# -------------------------------------------------------------------------------------------- errors
def odata_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The SuccessFactors OData error ``{"error":{"code","message":{"lang","value"}}}``."""
    return json_response(_error_doc(code, message), status=status, headers=headers)


def _error_doc(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": {"lang": "en-US", "value": message}}}


_FAULTS = {
    400: ("COE_GENERAL_BAD_REQUEST", "[COE0019]Bad request."),
    401: ("LGN0022", "[LGN0022]The access token is either rejected or expired."),
    403: ("COE_PERMISSION_DENIED", "[COE0022]Permission denied."),
    429: ("COE_TOO_MANY_REQUESTS", "Too many requests. Retry later."),
    500: ("COE_GENERAL_SERVER_FAILURE", "[COE0019]General server failure."),
    503: ("COE_SERVICE_UNAVAILABLE", "Service unavailable. Retry later."),
}


def error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """OData error body for injected status faults."""
    code, message = _FAULTS.get(status, ("COE_GENERAL_SERVER_FAILURE", f"Error {status}."))
    return _error_doc(code, message), {}


def token_error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Token endpoint error body for injected faults."""
    return {"errorHttpCode": str(status), "errorMessage": f"Injected fault {status}"}, {}


def _token_error(message: str, status: int = 401) -> web.Response:
    return json_response({"errorHttpCode": str(status), "errorMessage": message}, status=status)


# ----------------------------------------------------------------------------------------- assertions
def _saml_fields(assertion: str) -> dict[str, str] | None:
    try:
        xml = base64.b64decode(assertion, validate=False).decode("utf-8")
        root = ET.fromstring(xml)
    except (binascii.Error, ValueError, ET.ParseError):
        return None
    if not root.tag.endswith("Assertion"):
        return None
    out: dict[str, str] = {}
    for node in root.iter():
        tag = node.tag.rsplit("}", 1)[-1]
        if tag in ("Issuer", "NameID") and node.text:
            out[tag] = node.text.strip()
        elif tag in ("Conditions", "SubjectConfirmationData") and node.get("NotOnOrAfter"):
            out["NotOnOrAfter"] = node.get("NotOnOrAfter", "")
        elif tag == "Attribute":
            value = next((v.text for v in node if v.tag.endswith("AttributeValue")), None)
            if value:
                out["attr:" + node.get("Name", "")] = value.strip()
    return out


def make_assertion(client_id: str, user_id: str, token_url: str, now: float, lifetime: float = 600.0) -> str:
    """A base64 (unsigned) SAML 2.0 assertion the token endpoint accepts."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + lifetime))
    ET.register_namespace("saml2", SAML_NS)
    xml = (
        f'<saml2:Assertion xmlns:saml2="{SAML_NS}" ID="_{secrets.token_hex(16)}" IssueInstant="{stamp}" Version="2.0">'
        f"<saml2:Issuer>www.successfactors.com</saml2:Issuer>"
        f"<saml2:Subject><saml2:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">{user_id}"
        f"</saml2:NameID><saml2:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">"
        f'<saml2:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{token_url}"/></saml2:SubjectConfirmation>'
        f"</saml2:Subject>"
        f'<saml2:Conditions NotBefore="{stamp}" NotOnOrAfter="{until}"><saml2:AudienceRestriction>'
        f"<saml2:Audience>www.successfactors.com</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>"
        f'<saml2:AttributeStatement><saml2:Attribute Name="api_key"><saml2:AttributeValue>{client_id}'
        f"</saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement></saml2:Assertion>"
    )
    return base64.b64encode(xml.encode()).decode()


def _assertion_user(state: State, company: str, fields: dict[str, str]) -> dict[str, Any] | None:
    name = fields.get("NameID", "")
    if fields.get("attr:use_email", "").lower() == "true":
        return next((u for u in state.users.get(company, []) if (u["email"] or "").lower() == name.lower()), None)
    if fields.get("attr:use_username", "").lower() == "true":
        return next((u for u in state.users.get(company, []) if u["username"] == name), None)
    return state.by_id.get((company, name))


def make_oauth(sandbox: Sandbox) -> tuple[Any, Any]:
    """``POST /oauth/token`` (SAML bearer) and ``POST /oauth/idp`` (assertion minting)."""

    @route("successfactors.token", NAME, error_body=token_error_body)
    async def token(request: web.Request) -> web.StreamResponse:
        state: State = sandbox.state[NAME]
        form = await read_form(request)
        if form.get("grant_type") != SAML_BEARER:
            return _token_error(f"Unsupported grant_type: {form.get('grant_type')}", 400)
        client = state.clients.get(form.get("client_id", ""))
        company = form.get("company_id", "")
        if client is None or client.get("company_id") != company or company not in state.companies:
            return _token_error("Unable to authenticate the client (Login failed - invalid client or company)")
        fields = _saml_fields(form.get("assertion", ""))
        if fields is None:
            return _token_error("Unable to validate SAML assertion: the assertion is not base64-encoded SAML 2.0 XML.")
        if fields.get("attr:api_key", fields.get("Issuer")) != client["client_id"]:
            return _token_error("Unable to verify the SAML assertion: the assertion was not issued for this client ID.")
        until = fields.get("NotOnOrAfter")
        if until and parse_datetime_ms(until) <= sandbox.clock() * 1000:
            return _token_error("Unable to validate SAML assertion: the assertion has expired.")
        user = _assertion_user(state, company, fields)
        if user is None or user["status"] not in ACTIVE:
            return _token_error("Unable to authenticate the client (Login failed - invalid user)")
        key = (client["client_id"], str(user["userId"]))
        previous = sandbox.tokens.get(state.issued.get(key, ""))
        if previous is not None and previous.active(sandbox.clock()) and form.get("new_token") != "true":
            grant = previous
        else:
            grant = sandbox.tokens.issue(
                provider=NAME, kind="access", client_id=client["client_id"], scopes=user["_permissions"],
                subject=str(user["userId"]), email=user["email"], tenant=company, ttl=TOKEN_TTL,
            )  # fmt: skip
            state.issued[key] = grant.token
        remaining = int(grant.expires_at - sandbox.clock())
        return json_response({"access_token": grant.token, "token_type": "Bearer", "expires_in": remaining})

    @route("successfactors.idp", NAME, error_body=token_error_body)
    async def idp(request: web.Request) -> web.StreamResponse:
        state: State = sandbox.state[NAME]
        form = await read_form(request)
        client = state.clients.get(form.get("client_id", ""))
        if client is None or form.get("private_key") != client.get("private_key"):
            return _token_error("Unable to generate the SAML assertion: invalid client_id or private_key.")
        assertion = make_assertion(client["client_id"], form.get("user_id", ""), form.get("token_url", ""), sandbox.clock())
        return web.Response(text=assertion, content_type="text/plain")

    return token, idp


# --------------------------------------------------------------------------------------------- OData
def _caller(request: web.Request, sandbox: Sandbox) -> tuple[str, frozenset[str]] | web.Response:
    token = bearer_token(request)
    grant = sandbox.tokens.get(token) if token else None
    if grant is None or grant.provider != NAME or not grant.active(sandbox.clock()):
        return odata_error(401, "LGN0022", "[LGN0022]The access token is either rejected or expired.")
    if "User" not in grant.scopes:
        return odata_error(403, "COE_PERMISSION_DENIED",
                           "[COE0022]Permission denied: the API user has no permission to read User.")  # fmt: skip
    return str(grant.tenant), grant.scopes


def _entity(request: web.Request, row: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
    uri = f"{request.scheme}://{request.host}{PREFIX}/odata/v2/User('{quote(str(row['userId']))}')"
    out: dict[str, Any] = {"__metadata": {"uri": uri, "type": "SFOData.User"}}
    for prop in select or USER_FIELDS:
        value = row.get(prop)
        if prop in ("hireDate", "lastModifiedDateTime") and value is not None:
            value = odata_date(value)
        out[prop] = value
    if select is None:
        for nav in NAVIGATION:
            out[nav] = {"__deferred": {"uri": f"{uri}/{nav}"}}
    return out


def _select(raw: str | None) -> tuple[str, ...] | None | web.Response:
    if not raw:
        return None
    props = tuple(p.strip() for p in raw.split(",") if p.strip())
    bad = [p for p in props if p not in KNOWN]
    if bad:
        return odata_error(400, "COE_PROPERTY_NOT_FOUND",
                           f"[COE0021]Invalid property names: {', '.join('User/' + p for p in bad)}. "
                           "Please check the property names in your query.")  # fmt: skip
    return props


def _rows(state: State, company: str, raw_filter: str | None) -> list[dict[str, Any]]:
    key = (company, raw_filter or "", state.version)
    cached = state.cache.get(key)
    if cached is None:
        predicates, has_status = parse_filter(raw_filter, KNOWN)
        cached = [
            row for row in state.users.get(company, [])
            if (has_status or row["status"] in ACTIVE) and all(p(row) for p in predicates)
        ]  # fmt: skip
        if len(state.cache) > 16:
            state.cache.clear()
        state.cache[key] = cached
    return cached


def make_odata(sandbox: Sandbox) -> tuple[Any, Any, Any]:
    """``GET /odata/v2/User``, ``GET /odata/v2/User('id')`` and ``GET /odata/v2/User/$count``."""

    @route("successfactors.User.list", NAME)
    async def users(request: web.Request) -> web.StreamResponse:
        found = _caller(request, sandbox)
        if isinstance(found, web.Response):
            return found
        company, _scopes = found
        state: State = sandbox.state[NAME]
        q = request.query
        select = _select(q.get("$select"))
        if isinstance(select, web.Response):
            return select
        try:
            rows = _rows(state, company, q.get("$filter"))
            skip = int(q.get("$skip", "0"))
            top = int(q["$top"]) if "$top" in q else None
            page = min(PAGE, int(q.get("customPageSize", PAGE)))
        except FilterError as exc:
            return odata_error(400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]Invalid $filter: {exc}")
        except ValueError:
            return odata_error(400, "COE_GENERAL_BAD_REQUEST", "[COE0019]Invalid $top, $skip or customPageSize.")
        rows = rows[skip : skip + top] if top is not None else rows[skip:]
        start = 0
        if "$skiptoken" in q:
            token = _decode_skiptoken(q["$skiptoken"])
            if token is None or token.get("e") != state.epoch:
                return odata_error(400, "COE_INVALID_SKIPTOKEN", "[COE0040]The $skiptoken is invalid or expired.")
            start = int(token["startRow"])
        chunk = rows[start : start + page]
        data: dict[str, Any] = {"results": [_entity(request, r, select) for r in chunk]}
        if start + page < len(rows):
            params = [(k, v) for k, v in q.items() if k != "$skiptoken"]
            skiptoken = base64.b64encode(json.dumps({"startRow": start + page, "endRow": start + 2 * page,
                                                     "e": state.epoch}).encode()).decode()  # fmt: skip
            params.append(("$skiptoken", skiptoken))
            query = urlencode(params, quote_via=quote, safe="$,'")
            data["__next"] = f"{request.scheme}://{request.host}{PREFIX}/odata/v2/User?{query}"
        return json_response({"d": data})

    @route("successfactors.User.get", NAME)
    async def user(request: web.Request) -> web.StreamResponse:
        found = _caller(request, sandbox)
        if isinstance(found, web.Response):
            return found
        company, _scopes = found
        state: State = sandbox.state[NAME]
        raw_key = request.match_info["key"].strip()
        key = raw_key.split("=", 1)[-1].strip().strip("'")
        select = _select(request.query.get("$select"))
        if isinstance(select, web.Response):
            return select
        row = state.by_id.get((company, key))
        if row is None:
            return odata_error(404, "COE_RESOURCE_NOT_FOUND", f"[COE0018]Entity User with key userId={key} not found.")
        return json_response({"d": _entity(request, row, select)})

    @route("successfactors.User.count", NAME)
    async def count(request: web.Request) -> web.StreamResponse:
        found = _caller(request, sandbox)
        if isinstance(found, web.Response):
            return found
        state: State = sandbox.state[NAME]
        try:
            rows = _rows(state, found[0], request.query.get("$filter"))
        except FilterError as exc:
            return odata_error(400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]Invalid $filter: {exc}")
        return web.Response(text=str(len(rows)), content_type="text/plain")

    return users, user, count


def _decode_skiptoken(raw: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) and "startRow" in data else None


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Register the SuccessFactors routes; point the module clock at the sandbox clock."""
    CLOCK[0] = sandbox.clock
    token, idp = make_oauth(sandbox)
    app.router.add_post(f"{PREFIX}/oauth/token", token)
    app.router.add_post(f"{PREFIX}/oauth/idp", idp)
    users, user, count = make_odata(sandbox)
    app.router.add_get(f"{PREFIX}/odata/v2/User", users)
    app.router.add_get(f"{PREFIX}/odata/v2/User/$count", count)
    app.router.add_get(PREFIX + r"/odata/v2/User({key:[^)]*})", user)
