"""The sandbox core: tokens, faults, the request log and the :class:`Sandbox` that holds provider state.

Provider modules (``sandbox.providers.<name>``) plug in with four names::

    NAME = "google"
    class State: ...                                    # seeded + created data, owned by the module
    def load(fixture: dict) -> State                    # a fresh state from a fixture file's JSON
    def seed(state: State, data: dict) -> None          # merge more data in (admin ``seed``)
    def setup(app: web.Application, sandbox: Sandbox)   # add the module's routes

and optionally ``error_body(status, retry_after) -> (dict, headers)`` (the provider's error shape for
injected ``status`` faults), ``bulk_users(state, **kw) -> int``, ``update_user(state, user_id, fields)
-> dict | None`` and ``created(state) -> dict`` for the admin API.

Faults: route faults are applied by :func:`sandbox_middleware` before a named handler runs. Faults
with a ``calendar`` are taken by free/busy handlers (``faults.take_calendar_fault``) and reported the
provider's way — Google: a ``status`` fault becomes that calendar's ``errors[]`` inside the 200
(``404`` → notFound, ``403`` → forbidden, ``429`` → rateLimitExceeded, else internalError, or
``body={"reason": …}``); ``latency`` delays the call; ``timeout``/``revoke`` fail the whole call.
A whole-call status for a free/busy query is a route fault on ``google.freeBusy``.

Handlers look their state up on every request (``sandbox.state[NAME]``) because ``reset`` replaces
it, and are named with :func:`route` so the request log and the fault middleware know them.
Helpers shared by every OAuth emulation live here too: :class:`OAuthClient`, :class:`CodeStore`,
:func:`pkce_s256`, :func:`redirect_uri_allowed`, and the admin consent store
(``sandbox.consents.take(provider, email)`` at authorization time).
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import hashlib
import itertools
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

DEFAULT_FIXTURE_DIR = Path(__file__).parent / "fixtures" / "demo"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int, "int | None"], "tuple[dict[str, Any], dict[str, str]]"]

_TOKEN_PREFIX = {("google", "access"): "ya29.", ("google", "refresh"): "1//"}


# --------------------------------------------------------------------------------------------- tokens
@dataclass
class Grant:
    """An issued token (access or refresh) and what it stands for."""

    token: str
    provider: str
    kind: str
    client_id: str
    scopes: frozenset[str]
    subject: str | None
    email: str | None
    tenant: str | None
    expires_at: float
    revoked: bool = False
    family: str = ""

    def active(self, now: float) -> bool:
        """True while the token is neither revoked nor expired at ``now``."""
        return not self.revoked and now < self.expires_at

    def as_json(self) -> dict[str, Any]:
        """The grant as the admin API shows it."""
        data = asdict(self)
        data["scopes"] = sorted(self.scopes)
        return data


class TokenStore:
    """Every token the sandbox issued, by token string and by refresh-token family."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._grants: dict[str, Grant] = {}
        self._families: dict[str, list[str]] = {}

    def issue(
        self,
        *,
        provider: str,
        kind: str,
        client_id: str,
        scopes: Iterable[str],
        subject: str | None,
        email: str | None,
        tenant: str | None,
        ttl: float,
        family: str = "",
    ) -> Grant:
        """Mint a token. Without ``family`` the token starts its own family (named by itself)."""
        prefix = _TOKEN_PREFIX.get((provider, kind), f"sbx-{provider}-{kind}-")
        token = prefix + secrets.token_urlsafe(32)
        grant = Grant(
            token=token,
            provider=provider,
            kind=kind,
            client_id=client_id,
            scopes=frozenset(scopes),
            subject=subject,
            email=email,
            tenant=tenant,
            expires_at=self._clock() + ttl,
            family=family or token,
        )
        self._grants[token] = grant
        self._families.setdefault(grant.family, []).append(token)
        return grant

    def get(self, token: str) -> Grant | None:
        """The grant for ``token`` or None; expiry and revocation are checked with ``grant.active(now)``."""
        return self._grants.get(token)

    def revoke(self, token: str) -> bool:
        """Revoke ``token`` and every token of its family. False when unknown or already revoked."""
        grant = self._grants.get(token)
        if grant is None or grant.revoked:
            return False
        for other in self._families.get(grant.family, [token]):
            self._grants[other].revoked = True
        return True

    def revoke_subject(self, provider: str, subject: str) -> int:
        """Revoke every live token of ``subject`` at ``provider``; the number revoked."""
        count = 0
        for grant in self._grants.values():
            if grant.provider == provider and grant.subject == subject and not grant.revoked:
                grant.revoked = True
                count += 1
        return count

    def expire(self, token: str) -> None:
        """Make ``token`` expired now (for refresh-ahead tests)."""
        grant = self._grants.get(token)
        if grant is not None:
            grant.expires_at = self._clock() - 1

    def all(self, provider: str | None = None) -> list[Grant]:
        """Every grant, optionally of one provider, oldest first."""
        return [g for g in self._grants.values() if provider is None or g.provider == provider]

    def clear(self) -> None:
        """Forget every token."""
        self._grants.clear()
        self._families.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        """Every grant as JSON-able data, oldest first (see :meth:`restore`)."""
        return [g.as_json() for g in self._grants.values()]

    def restore(self, rows: Iterable[dict[str, Any]]) -> None:
        """Add the grants of a :meth:`snapshot` (a restarted sandbox honours what it issued before)."""
        for row in rows:
            grant = Grant(**{**row, "scopes": frozenset(row.get("scopes", ()))})
            self._grants[grant.token] = grant
            self._families.setdefault(grant.family or grant.token, []).append(grant.token)


# --------------------------------------------------------------------------------------------- faults
FAULT_KINDS = ("latency", "status", "timeout", "revoke")


@dataclass
class Fault:
    """One injected fault. ``times=None`` means every matching request until cleared."""

    id: str
    kind: str
    route: str | None = None
    provider: str | None = None
    calendar: str | None = None
    status: int = 500
    retry_after: int | None = None
    latency_ms: int = 0
    times: int | None = 1
    body: dict[str, Any] | None = None


class FaultStore:
    """Injected faults, consumed in the order they were added.

    A route fault matches when its ``route`` (an exact name such as ``google.freeBusy`` or a glob such
    as ``google.*``) and ``provider`` match, each when given. Faults with a ``calendar`` are only taken
    by free/busy handlers, for that calendar.
    """

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(
        self,
        *,
        route: str | None = None,
        provider: str | None = None,
        calendar: str | None = None,
        kind: str,
        status: int = 500,
        retry_after: int | None = None,
        latency_ms: int = 0,
        times: int | None = 1,
        body: dict[str, Any] | None = None,
    ) -> str:
        """Add a fault; its id."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or null for always)")
        fault = Fault(
            id=f"fault-{next(self._ids)}",
            kind=kind,
            route=route,
            provider=provider,
            calendar=calendar,
            status=status,
            retry_after=retry_after,
            latency_ms=latency_ms,
            times=times,
            body=body,
        )
        self._faults.append(fault)
        return fault.id

    def take_route_fault(self, route: str, provider: str) -> Fault | None:
        """Consume the first route fault matching this named route, or None."""
        return self._take(
            lambda f: (
                f.calendar is None
                and (f.provider is None or f.provider == provider)
                and (f.route is None or f.route == route or fnmatch.fnmatchcase(route, f.route))
            )
        )

    def take_calendar_fault(self, provider: str, calendar: str) -> Fault | None:
        """Consume the first fault for ``calendar`` (at ``provider`` when the fault names one), or None."""
        if not self._faults:
            return None
        wanted = calendar.lower()
        return self._take(
            lambda f: (
                f.calendar is not None
                and f.calendar.lower() == wanted
                and (f.provider is None or f.provider == provider)
            )
        )

    def _take(self, match: Callable[[Fault], bool]) -> Fault | None:
        for fault in self._faults:
            if match(fault):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def all(self) -> list[Fault]:
        """Faults still pending."""
        return list(self._faults)

    def clear(self) -> None:
        """Remove every fault."""
        self._faults.clear()


# ---------------------------------------------------------------------------------------- request log
LOGGED_HEADERS = ("authorization", "content-type", "prefer", "if-match", "accept")


class RequestLog:
    """Every provider request the sandbox answered (bounded; the oldest entries drop off)."""

    def __init__(self, clock: Callable[[], float], maxlen: int = 50_000) -> None:
        self._clock = clock
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append ``entry`` with a ``seq`` number and ``ts``; the stored entry."""
        entry = {"seq": next(self._seq), "ts": self._clock(), **entry}
        self._entries.append(entry)
        return entry

    def query(
        self, route: str | None = None, provider: str | None = None, since: float | None = None
    ) -> list[dict[str, Any]]:
        """Entries matching ``route`` (exact or glob), ``provider`` and ``seq > since``."""
        out = []
        for entry in self._entries:
            if since is not None and entry["seq"] <= since:
                continue
            if provider is not None and entry["provider"] != provider:
                continue
            name = entry["route"] or ""
            if route is not None and name != route and not fnmatch.fnmatchcase(name, route):
                continue
            out.append(entry)
        return out

    def clear(self) -> None:
        """Forget every entry (sequence numbers keep growing)."""
        self._entries.clear()


# -------------------------------------------------------------------------------------------- consent
@dataclass
class Consent:
    """What the next authorization by ``user`` does: deny, or grant only some scopes."""

    user: str
    grant_only: frozenset[str] | None = None
    deny: bool = False


class ConsentStore:
    """Consent decisions set through the admin API, each consumed by the next authorization."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], Consent] = {}

    def set(self, provider: str, user: str, grant_only: Iterable[str] | None, deny: bool) -> Consent:
        """Record the decision for ``user`` (an email, matched case-insensitively)."""
        consent = Consent(user, None if grant_only is None else frozenset(grant_only), deny)
        self._pending[(provider, user.lower())] = consent
        return consent

    def take(self, provider: str, user: str | None) -> Consent | None:
        """Consume the decision for ``user``, or None (normal full consent)."""
        if not user:
            return None
        return self._pending.pop((provider, user.lower()), None)

    def clear(self) -> None:
        """Forget every pending decision."""
        self._pending.clear()


# ---------------------------------------------------------------------------------------------- OAuth
@dataclass
class OAuthClient:
    """A registered OAuth client of one provider (seeded from the fixture's ``clients``)."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OAuthClient:
        """Build from ``{"client_id", "client_secret", "redirect_uris", ...}``; the rest goes to ``extra``."""
        known = {"client_id", "client_secret", "redirect_uris"}
        return cls(
            client_id=str(data["client_id"]),
            client_secret=str(data.get("client_secret", "")),
            redirect_uris=tuple(data.get("redirect_uris", ())),
            extra={k: v for k, v in data.items() if k not in known},
        )


_LOOPBACK_CALLBACK = re.compile(r"^http://(127\.0\.0\.1|localhost):\d{1,5}/oauth/callback$")


def redirect_uri_allowed(client: OAuthClient, redirect_uri: str | None) -> bool:
    """Registered for ``client``, or any ``http://127.0.0.1:<port>/oauth/callback`` (tests on random ports)."""
    if not redirect_uri:
        return False
    return redirect_uri in client.redirect_uris or bool(_LOOPBACK_CALLBACK.match(redirect_uri))


def pkce_s256(verifier: str) -> str:
    """The S256 code challenge of ``verifier`` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class AuthCode:
    """An authorization code waiting to be exchanged."""

    code: str
    provider: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    subject: str | None
    email: str | None
    tenant: str | None
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def verifier_ok(self, verifier: str | None) -> bool:
        """True when no challenge was sent, or ``verifier`` hashes (S256) to it."""
        if not self.code_challenge:
            return True
        return bool(verifier) and pkce_s256(verifier or "") == self.code_challenge


class CodeStore:
    """Single-use authorization codes; they expire 10 minutes after issue."""

    TTL = 600.0

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._codes: dict[str, AuthCode] = {}

    def new(self, provider: str, prefix: str = "", **fields: Any) -> AuthCode:
        """Store a fresh code for ``provider`` (fields as :class:`AuthCode`); the code."""
        code = AuthCode(
            code=prefix + secrets.token_urlsafe(24),
            provider=provider,
            expires_at=self._clock() + self.TTL,
            **fields,
        )
        self._codes[code.code] = code
        return code

    def take(self, provider: str, code: str | None) -> AuthCode | None:
        """Consume ``code``: None when unknown, already used, of another provider or expired."""
        if not code:
            return None
        found = self._codes.pop(code, None)
        if found is None or found.provider != provider or self._clock() >= found.expires_at:
            return None
        return found

    def clear(self) -> None:
        """Forget every code."""
        self._codes.clear()


# -------------------------------------------------------------------------------------------- sandbox
class Sandbox:
    """All emulated providers' state plus the shared stores the admin API drives."""

    def __init__(self, fixture_dir: Path | str | None = None) -> None:
        self.fixture_dir = Path(fixture_dir) if fixture_dir else DEFAULT_FIXTURE_DIR
        self.clock_offset = 0.0
        self.modules: dict[str, ModuleType] = {}
        self.state: dict[str, Any] = {}
        self.tokens = TokenStore(self.clock)
        self.faults = FaultStore()
        self.log = RequestLog(self.clock)
        self.consents = ConsentStore()
        self.codes = CodeStore(self.clock)
        self.stopping = asyncio.Event()

    def clock(self) -> float:
        """The sandbox clock: wall time plus the offset set through ``POST /_admin/clock``."""
        return time.time() + self.clock_offset

    def register(self, module: ModuleType) -> None:
        """Add a provider module and load its state from the fixture directory."""
        self.modules[module.NAME] = module
        self.state[module.NAME] = module.load(self.fixture(module.NAME))

    def fixture(self, provider: str) -> dict[str, Any]:
        """``<fixture_dir>/<provider>.json``, or ``{}`` when there is none."""
        path = self.fixture_dir / f"{provider}.json"
        if not path.exists():
            return {}
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def seed(self, provider: str, data: dict[str, Any]) -> None:
        """Merge ``data`` into ``provider``'s state through the module's ``seed``."""
        self.module(provider).seed(self.state[provider], data)

    def reset(self) -> None:
        """Reload every provider from the fixture directory; forget tokens, codes, faults, log, consents, clock offset."""
        for name, module in self.modules.items():
            self.state[name] = module.load(self.fixture(name))
        self.tokens.clear()
        self.codes.clear()
        self.faults.clear()
        self.log.clear()
        self.consents.clear()
        self.clock_offset = 0.0

    def module(self, provider: str) -> ModuleType:
        """The provider module, or KeyError."""
        return self.modules[provider]


# ------------------------------------------------------------------------------------ request helpers
def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic …`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def origin(request: web.Request) -> str:
    """``scheme://host:port`` of the request, to build absolute URLs clients replay verbatim."""
    return f"{request.scheme}://{request.host}"


_JSON_BODY: web.RequestKey[tuple[Any]] = web.RequestKey("sandbox.json", tuple)


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (parsed once per request), None when empty; ValueError when malformed."""
    if _JSON_BODY not in request:
        raw = await request.read()
        request[_JSON_BODY] = (json.loads(raw) if raw.strip() else None,)
    return request[_JSON_BODY][0]


async def read_form(request: web.Request) -> dict[str, str]:
    """The request's form body merged over its query string (last value wins)."""
    raw = await request.read()
    form = dict(request.query)
    form.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return form


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response with ``application/json; charset=UTF-8``."""
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode("utf-8"),
        status=status,
        headers=dict(headers or {}),
        content_type="application/json",
        charset="UTF-8",
    )


def route(name: str, provider: str, *, error_body: ErrorBody | None = None) -> Callable[[Handler], Handler]:
    """Name a handler (``"google.freeBusy"``) for the request log and route faults.

    ``error_body`` overrides the module's ``error_body`` for injected status faults on this route
    (e.g. an OAuth token endpoint whose errors differ from the API's).
    """

    def decorate(handler: Handler) -> Handler:
        handler.__sandbox_route__ = (name, provider)  # type: ignore[attr-defined]
        handler.__sandbox_error_body__ = error_body  # type: ignore[attr-defined]
        return handler

    return decorate


def route_of(request: web.Request) -> tuple[str | None, str | None, ErrorBody | None]:
    """``(route name, provider, error_body override)`` of the handler matched for ``request``."""
    handler = getattr(request.match_info.route, "handler", None)
    named = getattr(handler, "__sandbox_route__", None)
    if named is None:
        return None, _provider_from_path(request.path), None
    return named[0], named[1], getattr(handler, "__sandbox_error_body__", None)


_HOST_PROVIDER = (
    ("google", ("accounts.google.com", "googleapis.com")),
    ("microsoft", ("microsoftonline.com", "graph.microsoft.com")),
    ("zoom", ("zoom.us",)),
    ("webex", ("webexapis.com",)),
    ("successfactors", ("successfactors",)),
)


def _provider_from_path(path: str) -> str | None:
    host = path.lstrip("/").split("/", 1)[0]
    for provider, hosts in _HOST_PROVIDER:
        if any(host == h or host.endswith("." + h) for h in hosts):
            return provider
    return None


async def _logged_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    raw = await request.read()
    ctype = request.content_type
    if ctype == "application/json":
        try:
            return {"json": await read_json(request)}
        except ValueError:
            return {"raw": raw[:4096].decode("utf-8", "replace")}
    if ctype == "application/x-www-form-urlencoded":
        return {"form": dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))}
    return {"raw": raw[:4096].decode("utf-8", "replace")}


SANDBOX_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox", Sandbox)
TIMEOUT_FAULT_SECONDS = 60.0


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log every provider request and apply route faults before named handlers run.

    Faults: ``latency`` sleeps then continues; ``status`` answers with the provider's error body
    (plus ``Retry-After`` when given); ``timeout`` sleeps 60 s (the client's timeout fires first),
    then answers 504; ``revoke`` revokes the request's bearer token, then the handler answers 401.
    """
    if request.path.startswith("/_admin"):
        return await handler(request)
    sandbox = request.app[SANDBOX_KEY]
    name, provider, override = route_of(request)
    entry: dict[str, Any] = {
        "route": name,
        "provider": provider,
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "headers": {h: request.headers[h] for h in LOGGED_HEADERS if h in request.headers},
        **(await _logged_body(request)),
        "status": None,
    }
    record = sandbox.log.record(entry)
    try:
        response = await _apply_faults(request, handler, sandbox, name, provider, override, record)
    except web.HTTPException as exc:
        record["status"] = exc.status
        raise
    record["status"] = response.status
    return response


async def _apply_faults(
    request: web.Request,
    handler: Handler,
    sandbox: Sandbox,
    name: str | None,
    provider: str | None,
    override: ErrorBody | None,
    record: dict[str, Any],
) -> web.StreamResponse:
    fault = sandbox.faults.take_route_fault(name, provider or "") if name else None
    if fault is None:
        return await handler(request)
    record["fault"] = fault.id
    if fault.kind == "latency":
        await asyncio.sleep(fault.latency_ms / 1000)
        return await handler(request)
    if fault.kind == "revoke":
        token = bearer_token(request)
        if token:
            sandbox.tokens.revoke(token)
        return await handler(request)
    if fault.kind == "timeout":
        await sleep_unless_stopping(sandbox, TIMEOUT_FAULT_SECONDS)
        return fault_response(sandbox, provider, override, fault, status=504)
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    return fault_response(sandbox, provider, override, fault)


async def sleep_unless_stopping(sandbox: Sandbox, seconds: float) -> None:
    """Sleep ``seconds``, waking early when the server stops (so shutdown never waits on a fault)."""
    try:
        await asyncio.wait_for(sandbox.stopping.wait(), seconds)
    except TimeoutError:
        pass


def fault_response(
    sandbox: Sandbox,
    provider: str | None,
    override: ErrorBody | None,
    fault: Fault,
    status: int | None = None,
) -> web.Response:
    """The provider-shaped error response for an injected ``status`` fault."""
    status = status or fault.status
    body: dict[str, Any]
    headers: dict[str, str] = {}
    module = sandbox.modules.get(provider or "")
    make = override or getattr(module, "error_body", None)
    if fault.body is not None:
        body = fault.body
    elif make is not None:
        body, headers = make(status, fault.retry_after)
        headers = dict(headers)
    else:
        body = {"error": {"code": status, "message": "Injected fault"}}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    return json_response(body, status=status, headers=headers)
