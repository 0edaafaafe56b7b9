"""Google Workspace state: customers and domains, users, calendars with events, groups, OAuth clients,
service accounts, Meet spaces — loaded from ``fixtures/<dir>/google.json`` and grown by clients.

Fixture shape (every key optional)::

    {"customers": [{"id": "C01…", "domains": [{"domainName", "isPrimary", "verified", "domainAliases"}]}],
     "users": [{"id", "primaryEmail", "name": {"givenName", "familyName"}, "isAdmin", "suspended",
                "orgUnitPath", "timeZone", "customerId"}],
     "calendars": [{"id", "summary", "timeZone", "owner", "resource", "acl": {email: role},
                    "events": [<Calendar API Event JSON>]}],
     "groups": [{"email", "members": [emails]}],
     "calendarList": {user email: [{"id", "accessRole"}]},
     "service_accounts": [{"client_email", "client_id", "private_key" | "public_key", "private_key_id",
                           "customer", "delegated_scopes": [...]}],
     "clients": [{"client_id", "client_secret", "redirect_uris"}]}
"""

from __future__ import annotations

import base64
import functools
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization

from sandbox.core import OAuthClient
from sandbox.providers.google_common import format_millis

ROLES = ("freeBusyReader", "reader", "writer", "owner")
FIXTURE_EPOCH = 1_700_000_000.0  # creationTime of seeded users and domains


@dataclass(slots=True)
class User:
    """A Workspace user (Admin Directory ``User``)."""

    id: str
    email: str
    given_name: str
    family_name: str
    customer_id: str
    is_admin: bool = False
    suspended: bool = False
    archived: bool = False
    deleted: bool = False
    org_unit_path: str = "/"
    time_zone: str = "UTC"
    aliases: tuple[str, ...] = ()
    created: float = FIXTURE_EPOCH

    def resource(self) -> dict[str, Any]:
        """The Directory API ``User`` JSON."""
        data: dict[str, Any] = {
            "kind": "admin#directory#user",
            "id": self.id,
            "etag": f'"{self.id}-{int(self.suspended)}{int(self.deleted)}"',
            "primaryEmail": self.email,
            "name": {
                "givenName": self.given_name,
                "familyName": self.family_name,
                "fullName": f"{self.given_name} {self.family_name}".strip(),
            },
            "isAdmin": self.is_admin,
            "isDelegatedAdmin": False,
            "lastLoginTime": "1970-01-01T00:00:00.000Z",
            "creationTime": format_millis(self.created),
            "agreedToTerms": True,
            "suspended": self.suspended,
            "archived": self.archived,
            "changePasswordAtNextLogin": False,
            "ipWhitelisted": False,
            "emails": [{"address": self.email, "primary": True}] + [{"address": a} for a in self.aliases],
            "customerId": self.customer_id,
            "orgUnitPath": self.org_unit_path,
            "isMailboxSetup": True,
            "isEnrolledIn2Sv": False,
            "isEnforcedIn2Sv": False,
            "includeInGlobalAddressList": True,
        }
        if self.aliases:
            data["aliases"] = list(self.aliases)
        if self.suspended:
            data["suspensionReason"] = "ADMIN"
        if self.deleted:
            data["deletionTime"] = format_millis(FIXTURE_EPOCH)
        return data

    @property
    def domain(self) -> str:
        """The primary email's domain."""
        return self.email.rsplit("@", 1)[-1]


@dataclass
class Calendar:
    """A calendar and the events it owns (Calendar API JSON, keyed by event id)."""

    id: str
    summary: str
    time_zone: str = "UTC"
    owner: str | None = None
    resource: bool = False
    acl: dict[str, str] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    busy_cache: Any = None

    def role_of(self, email: str | None) -> str | None:
        """The access role ``email`` has on this calendar, or None."""
        if not email:
            return None
        email = email.lower()
        if email == self.id.lower() or (self.owner or "").lower() == email:
            return "owner"
        return self.acl.get(email)


@dataclass
class ServiceAccount:
    """A service account with domain-wide delegation in one customer."""

    client_email: str
    client_id: str
    public_key: Any
    key_id: str
    customer: str
    delegated_scopes: frozenset[str]


@dataclass
class Customer:
    """A Workspace customer and its domains (Directory ``Domains`` JSON)."""

    id: str
    domains: list[dict[str, Any]] = field(default_factory=list)

    def domain_names(self) -> set[str]:
        """Every domain and domain alias name, lower-case."""
        names = set()
        for domain in self.domains:
            names.add(domain["domainName"].lower())
            names.update(a["domainAliasName"].lower() for a in domain.get("domainAliases", []))
        return names


@dataclass
class State:
    """Everything the Google emulation knows."""

    customers: dict[str, Customer] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)  # by lower-case email
    users_by_id: dict[str, User] = field(default_factory=dict)
    calendars: dict[str, Calendar] = field(default_factory=dict)  # by lower-case id
    groups: dict[str, list[str]] = field(default_factory=dict)
    calendar_list: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    service_accounts: dict[str, ServiceAccount] = field(default_factory=dict)
    default_login: str | None = None
    # attendee calendar id -> {(organizer calendar id, event id)}
    invites: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    events_version: int = 0
    sorted_users: list[User] | None = None
    # OAuth bookkeeping: (client, user id) -> scopes granted so far / refresh family
    granted: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    refresh_family: dict[tuple[str, str], str] = field(default_factory=dict)
    conferences: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sync_tokens: dict[str, tuple[str, int]] = field(default_factory=dict)
    calendar_list_version: int = 0
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_events: list[dict[str, Any]] = field(default_factory=list)
    created_spaces: list[dict[str, Any]] = field(default_factory=list)
    next_user_id: int = 100_000_000_000_000_000_000

    # ------------------------------------------------------------------------------------- users
    def add_user(self, user: User) -> None:
        """Add or replace a user (by email)."""
        old = self.users.get(user.email.lower())
        if old is not None:
            self.users_by_id.pop(old.id, None)
        self.users[user.email.lower()] = user
        self.users_by_id[user.id] = user
        self.sorted_users = None

    def user(self, key: str | None) -> User | None:
        """A user by id, primary email or alias."""
        if not key:
            return None
        found = self.users_by_id.get(key) or self.users.get(key.lower())
        if found is None and "@" in key:
            local, _, domain = key.lower().partition("@")
            for customer in self.customers.values():
                for d in customer.domains:
                    if domain in {a["domainAliasName"].lower() for a in d.get("domainAliases", [])}:
                        found = self.users.get(f"{local}@{d['domainName'].lower()}")
        return found

    def ordered_users(self) -> list[User]:
        """Users sorted by primary email (sorted once, again only after a change)."""
        if self.sorted_users is None:
            self.sorted_users = sorted(self.users.values(), key=lambda u: u.email.lower())
        return self.sorted_users

    def new_user_id(self) -> str:
        """A fresh 21-digit numeric user id."""
        self.next_user_id += 1
        return str(self.next_user_id)

    # ---------------------------------------------------------------------------------- calendars
    def calendar(self, calendar_id: str) -> Calendar | None:
        """A calendar by id; a user's primary calendar is made on first use."""
        key = calendar_id.lower()
        found = self.calendars.get(key)
        if found is None:
            user = self.user(calendar_id)
            if user is not None and not user.deleted:
                found = self.calendars.get(user.email.lower())
                if found is None:
                    found = Calendar(
                        id=user.email, summary=user.email, time_zone=user.time_zone, owner=user.email
                    )
                    self.calendars[user.email.lower()] = found
        return found

    def touch_events(self) -> None:
        """Invalidate every free/busy cache after an event change."""
        self.events_version += 1

    def customer_of(self, user: User | None) -> Customer | None:
        """The customer a user belongs to."""
        return self.customers.get(user.customer_id) if user else None

    def first_customer(self) -> Customer:
        """The first customer (made on demand)."""
        if not self.customers:
            self.customers["C00sandbox"] = Customer("C00sandbox")
        return next(iter(self.customers.values()))


def random_id(length: int = 26) -> str:
    """A base32hex (a–v, 0–9) id like Google's event ids."""
    alphabet = "abcdefghijklmnopqrstuv0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def html_link(event_id: str, calendar_id: str) -> str:
    """``https://www.google.com/calendar/event?eid=…`` for an event."""
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def load_public_key(data: dict[str, Any]) -> Any:
    """The RSA public key of a service account entry (from ``private_key`` or ``public_key`` PEM)."""
    if data.get("private_key"):
        return _public_from_private(data["private_key"])
    return serialization.load_pem_public_key(data["public_key"].encode())


@functools.cache
def _public_from_private(pem: str) -> Any:
    # Loading a private key checks it (~40 ms); fixtures are reloaded on every reset, so remember it.
    return serialization.load_pem_private_key(pem.encode(), password=None).public_key()
