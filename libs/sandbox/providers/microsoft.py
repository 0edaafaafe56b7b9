"""Microsoft emulator: Entra ID v2 (``login.microsoftonline.com``) and Graph v1.0 (``graph.microsoft.com``).

The fixture (``microsoft.json``) holds ``clients``, ``tenants`` (verified domains, admin consents, the
Teams application access policy), ``users`` (Graph properties plus ``isAdmin`` and
``mailboxSettings``), ``rooms`` and ``events`` (each naming its ``mailbox`` by address). Seeding merges
the same shapes; ``{"settings": {...}}``, ``{"delta_reset": true}`` and ``{"expire_delta_tokens": true}``
tune behaviour. Handlers live in ``microsoft_identity`` (authorize, admin consent, metadata),
``microsoft_token``, ``microsoft_calendar`` (getSchedule, events), ``microsoft_meetings`` and
``microsoft_directory``; ``microsoft_entra``/``microsoft_graph`` hold the shared plumbing.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from aiohttp import web

from sandbox.core import OAuthClient, Sandbox
from sandbox.providers import microsoft_calendar, microsoft_directory, microsoft_identity, microsoft_state
from sandbox.providers.microsoft_graph import error_body
from sandbox.providers.microsoft_state import USER_PROPS, MsUser, State, Tenant, event_from_data, iso_utc

NAME = "microsoft"
__all__ = ["NAME", "State", "bulk_users", "created", "error_body", "load", "seed", "setup", "update_user"]


def load(fixture: dict[str, Any]) -> State:
    """A fresh state from the fixture's JSON."""
    state = State()
    seed(state, fixture)
    return state


def seed(state: State, data: dict[str, Any]) -> None:
    """Merge fixture-shaped ``data`` into ``state`` (existing ids are updated)."""
    state.settings.update(data.get("settings") or {})
    for raw in data.get("clients") or []:
        state.clients[str(raw["client_id"])] = OAuthClient.from_json(raw)
    for raw in data.get("tenants") or []:
        _seed_tenant(state, raw)
    default_tenant = next(iter(state.tenants), None)
    for raw in data.get("users") or []:
        tenant = str(raw.get("tenant") or default_tenant)
        existing = state.users.get(str(raw.get("id", "")))
        if existing is not None and not existing.removed:
            state.update_user(existing, {k: v for k, v in raw.items() if k not in ("id", "tenant")})
        else:
            state.add_user(raw, tenant)
    for raw in data.get("rooms") or []:
        state.add_room(raw, str(raw.get("tenant") or default_tenant))
    for raw in data.get("events") or []:
        _seed_event(state, raw)
    if data.get("delta_reset"):
        state.epoch = secrets.token_hex(4)
    if data.get("expire_delta_tokens"):
        state.delta_floor = microsoft_state.now()


def _seed_tenant(state: State, raw: dict[str, Any]) -> None:
    tid = str(raw["id"]).lower()
    tenant = state.tenants.get(tid)
    if tenant is None:
        tenant = state.tenants[tid] = Tenant(id=tid, display_name=str(raw.get("displayName", tid)), domains=[])
    tenant.display_name = str(raw.get("displayName", tenant.display_name))
    if "verifiedDomains" in raw:
        tenant.domains = [dict(d) for d in raw["verifiedDomains"]]
    for client_id, consent in (raw.get("admin_consents") or {}).items():
        tenant.app_consents[client_id] = set(consent.get("roles") or [])
        tenant.delegated_consents[client_id] = set(consent.get("delegated") or [])
    if "application_access_policy" in raw:
        tenant.access_policy = set(raw["application_access_policy"] or [])
    tenant.extra.update({k: v for k, v in raw.items() if k in ("countryLetterCode", "preferredLanguage", "createdDateTime")})


def _seed_event(state: State, raw: dict[str, Any]) -> None:
    address = str(raw.get("mailbox", ""))
    found = state.mailbox(address, None)
    if found is None:
        raise ValueError(f"event for unknown mailbox {address!r}")
    _kind, owner, _settings = found
    tenant = state.users[owner].tenant if owner in state.users else state.rooms[owner]["_tenant"]
    data = {k: v for k, v in raw.items() if k != "mailbox"}
    state.put_event(event_from_data(state, owner, tenant, data, via_api=False))


def bulk_users(
    state: State, tenant: str | None = None, domain: str | None = None, count: int = 1000, prefix: str = "user",
    start: int = 0, **_ignored: Any,
) -> int:  # fmt: skip
    """Add ``count`` users ``{prefix}{n}@{domain}`` to ``tenant`` fast (prebuilt docs, one change each)."""
    ten = state.tenant_of(tenant) if tenant else next(iter(state.tenants.values()), None)
    if ten is None:
        raise ValueError(f"unknown tenant {tenant!r}")
    domain = domain or next((d["name"] for d in ten.domains if d.get("isDefault")), None) or ten.domains[0]["name"]
    base = uuid.uuid4().int & ~0xFFFFFFFF
    created = iso_utc(microsoft_state.now()).replace(".0000000", "")
    users, addresses, changes = state.users, state.addresses, state.changes
    seq = state.seq
    for n in range(start, start + count):
        uid = str(uuid.UUID(int=base + n))
        address = f"{prefix}{n}@{domain}"
        doc = dict.fromkeys(USER_PROPS)
        doc.update(id=uid, businessPhones=[], displayName=f"{prefix.title()} {n}", givenName=prefix.title(),
                   surname=str(n), mail=address, userPrincipalName=address, accountEnabled=True,
                   userType="Member", createdDateTime=created, proxyAddresses=[f"SMTP:{address}"])  # fmt: skip
        seq += 1
        user = MsUser(doc=doc, tenant=ten.id, version=seq)
        users[uid] = user
        ten.users.append(user)
        addresses[address.lower()] = ("user", uid)
        changes.append((seq, ten.id, uid, None))
    state.seq = seq
    return count


def update_user(state: State, user_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Admin change (rename ``mail``/``userPrincipalName``, ``accountEnabled``, ``deleted``…); feeds ``/users/delta``."""
    user = state.user(user_id)
    if user is None:
        return None
    state.update_user(user, fields)
    return {**user.doc, "removed": user.removed or None, "isAdmin": user.is_admin}


def created(state: State) -> dict[str, Any]:
    """Events and online meetings that clients created through the API."""
    tz = microsoft_calendar.UTC
    return {
        "events": [
            {**microsoft_calendar.render_event(state, e, tz, "UTC"), "mailbox": e.owner,
             "mailboxAddress": state.users[e.owner].address if e.owner in state.users else None}
            for e in state.events.values()
            if e.via_api
        ],
        "onlineMeetings": list(state.online_meetings),
    }


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Register every Microsoft route; point the module clock at the sandbox clock."""
    microsoft_state.CLOCK[0] = sandbox.clock
    microsoft_identity.add_routes(app, sandbox)
    microsoft_directory.add_routes(app, sandbox)
    microsoft_calendar.add_routes(app, sandbox)
