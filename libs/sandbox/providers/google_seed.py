"""Loading and seeding Google state from fixture JSON, bulk users and admin user updates."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.core import OAuthClient
from sandbox.providers.google_common import SHORTHAND, scope
from sandbox.providers.google_events import complete_event, index_invites
from sandbox.providers.google_state import (
    FIXTURE_EPOCH,
    Calendar,
    Customer,
    ServiceAccount,
    State,
    User,
    load_public_key,
)


def load(fixture: dict[str, Any]) -> State:
    """A fresh state from a fixture's JSON."""
    state = State()
    seed(state, fixture)
    return state


def seed(state: State, data: dict[str, Any]) -> None:
    """Merge fixture-shaped ``data`` into ``state`` (same emails / ids replace)."""
    for customer in data.get("customers", []):
        _seed_customer(state, customer)
    for user in data.get("users", []):
        _seed_user(state, user)
    seeded = [_seed_calendar(state, calendar) for calendar in data.get("calendars", [])]
    for calendar, events in seeded:  # after every calendar exists, so invitations find each other
        for event in events:
            index_invites(state, calendar, event)
    for group in data.get("groups", []):
        state.groups[group["email"].lower()] = [m.lower() for m in group.get("members", [])]
    for email, entries in data.get("calendarList", {}).items():
        state.calendar_list.setdefault(email.lower(), []).extend(copy.deepcopy(entries))
        state.calendar_list_version += 1
    for account in data.get("service_accounts", []):
        _seed_service_account(state, account)
    for client in data.get("clients", []):
        state.clients[client["client_id"]] = OAuthClient.from_json(client)
    if data.get("default_login"):
        state.default_login = data["default_login"]


def _seed_customer(state: State, data: dict[str, Any]) -> None:
    customer = state.customers.setdefault(data["id"], Customer(data["id"]))
    known = {d["domainName"].lower(): d for d in customer.domains}
    for domain in data.get("domains", []):
        entry = {
            "kind": "admin#directory#domain",
            "domainName": domain["domainName"],
            "isPrimary": bool(domain.get("isPrimary", False)),
            "verified": bool(domain.get("verified", True)),
            "creationTime": str(domain.get("creationTime", int(FIXTURE_EPOCH * 1000))),
            "domainAliases": [
                {
                    "kind": "admin#directory#domainAlias",
                    "domainAliasName": a["domainAliasName"],
                    "parentDomainName": domain["domainName"],
                    "verified": bool(a.get("verified", True)),
                    "creationTime": str(a.get("creationTime", int(FIXTURE_EPOCH * 1000))),
                }
                for a in domain.get("domainAliases", [])
            ],
        }
        if domain["domainName"].lower() in known:
            known[domain["domainName"].lower()].update(entry)
        else:
            customer.domains.append(entry)


def _seed_user(state: State, data: dict[str, Any]) -> None:
    email = data["primaryEmail"]
    existing = state.users.get(email.lower())
    name = data.get("name", {})
    customer_id = data.get("customerId") or (existing.customer_id if existing else state.first_customer().id)
    state.add_user(
        User(
            id=str(data.get("id") or (existing.id if existing else state.new_user_id())),
            email=email,
            given_name=name.get("givenName", email.split("@")[0].title()),
            family_name=name.get("familyName", ""),
            customer_id=customer_id,
            is_admin=bool(data.get("isAdmin", False)),
            suspended=bool(data.get("suspended", False)),
            archived=bool(data.get("archived", False)),
            deleted=bool(data.get("deleted", False)),
            org_unit_path=data.get("orgUnitPath", "/"),
            time_zone=data.get("timeZone", "UTC"),
            aliases=tuple(data.get("aliases", ())),
        )
    )


def _seed_calendar(state: State, data: dict[str, Any]) -> tuple[Calendar, list[dict[str, Any]]]:
    calendar = state.calendars.get(data["id"].lower())
    if calendar is None:
        user = state.user(data["id"])
        calendar = Calendar(
            id=data["id"],
            summary=data.get("summary", data["id"]),
            time_zone=data.get("timeZone", user.time_zone if user else "UTC"),
            owner=data.get("owner", user.email if user else None),
            resource=bool(data.get("resource", data["id"].endswith("@resource.calendar.google.com"))),
        )
        state.calendars[calendar.id.lower()] = calendar
    else:
        calendar.summary = data.get("summary", calendar.summary)
        calendar.time_zone = data.get("timeZone", calendar.time_zone)
    calendar.acl.update({k.lower(): v for k, v in data.get("acl", {}).items()})
    events = []
    for raw in data.get("events", []):
        event = complete_event(copy.deepcopy(raw), calendar, FIXTURE_EPOCH)
        calendar.events[event["id"]] = event
        events.append(event)
    state.touch_events()
    return calendar, events


def _seed_service_account(state: State, data: dict[str, Any]) -> None:
    scopes = {SHORTHAND.get(s, s if s.startswith("https://") else scope(s)) for s in data["delegated_scopes"]}
    state.service_accounts[data["client_email"].lower()] = ServiceAccount(
        client_email=data["client_email"],
        client_id=str(data["client_id"]),
        public_key=load_public_key(data),
        key_id=data.get("private_key_id", ""),
        customer=data.get("customer") or state.first_customer().id,
        delegated_scopes=frozenset(scopes),
    )


def bulk_users(
    state: State,
    tenant: str | None = None,
    domain: str | None = None,
    count: int = 1000,
    prefix: str = "user",
    **_: Any,
) -> int:
    """Generate ``count`` users ``<prefix><n>@<domain>`` in customer ``tenant``; how many were made."""
    customer = state.customers.get(tenant) if tenant else state.first_customer()
    if customer is None:
        customer = state.customers[str(tenant)] = Customer(str(tenant))
    if domain is None:
        primary = [d for d in customer.domains if d.get("isPrimary")] or customer.domains
        domain = primary[0]["domainName"] if primary else "bulk.example"
    if domain.lower() not in customer.domain_names():
        _seed_customer(state, {"id": customer.id, "domains": [{"domainName": domain, "verified": True}]})
    width = max(6, len(str(count)))
    base = state.next_user_id
    for n in range(count):
        email = f"{prefix}{n:0{width}d}@{domain}"
        user = User(
            id=str(base + n + 1),
            email=email,
            given_name=f"{prefix.title()}{n}",
            family_name="Bulk",
            customer_id=customer.id,
        )
        state.users[email.lower()] = user
        state.users_by_id[user.id] = user
    state.next_user_id = base + count + 1
    state.sorted_users = None
    return count


def update_user(state: State, user_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Suspend, archive, rename, delete or promote a user; its Directory JSON, None when unknown."""
    user = state.user(user_id)
    if user is None:
        return None
    name = fields.get("name", {})
    user.given_name = fields.get("givenName", name.get("givenName", user.given_name))
    user.family_name = fields.get("familyName", name.get("familyName", user.family_name))
    for key, attr in (
        ("suspended", "suspended"),
        ("archived", "archived"),
        ("deleted", "deleted"),
        ("isAdmin", "is_admin"),
    ):
        if key in fields:
            setattr(user, attr, bool(fields[key]))
    user.org_unit_path = fields.get("orgUnitPath", user.org_unit_path)
    new_email = fields.get("primaryEmail")
    if new_email and new_email.lower() != user.email.lower():
        state.users.pop(user.email.lower(), None)
        calendar = state.calendars.pop(user.email.lower(), None)
        user.aliases = (*user.aliases, user.email)
        user.email = new_email
        state.users[new_email.lower()] = user
        if calendar is not None:
            calendar.id = calendar.owner = new_email
            state.calendars[new_email.lower()] = calendar
    state.sorted_users = None
    return user.resource()


def created(state: State) -> dict[str, Any]:
    """What clients created: events (with sendUpdates history) and Meet spaces."""
    events = [
        {**r, "event": {k: v for k, v in r["event"].items() if not k.startswith("_")}}
        for r in state.created_events
    ]
    return {"events": events, "spaces": state.created_spaces}
