"""Zoom state: accounts, users, OAuth apps and the meetings clients created.

Fixture shape (``fixtures/<dir>/zoom.json``, every key optional)::

    {"accounts": [{"id": "zoom-acct-1", "owner": "ops@contoso.example"}],
     "users": [{"id", "email", "first_name", "last_name", "type", "role_name", "status", "timezone",
                "dept", "account_id", "pmi"}],
     "clients": [{"client_id", "client_secret", "redirect_uris", "scopes": [...],
                  "type": "user" | "server_to_server", "account_id"}]}
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from sandbox.core import OAuthClient

FIXTURE_CREATED = "2024-01-15T09:00:00Z"


@dataclass(slots=True)
class User:
    """A Zoom user (``GET /users/{userId}`` JSON via :meth:`resource`)."""

    id: str
    email: str
    first_name: str
    last_name: str
    account_id: str
    type: int = 2
    role_name: str = "Member"
    status: str = "active"
    timezone: str = "UTC"
    dept: str = ""
    pmi: int = 0

    def resource(self) -> dict[str, Any]:
        """The full user JSON."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "display_name": f"{self.first_name} {self.last_name}".strip(),
            "email": self.email,
            "type": self.type,
            "role_name": self.role_name,
            "pmi": self.pmi,
            "use_pmi": False,
            "personal_meeting_url": f"https://zoom.us/j/{self.pmi}",
            "timezone": self.timezone,
            "verified": 1,
            "dept": self.dept,
            "created_at": FIXTURE_CREATED,
            "last_login_time": FIXTURE_CREATED,
            "pic_url": "",
            "language": "en-US",
            "phone_number": "",
            "status": self.status,
            "role_id": "0" if self.role_name == "Owner" else "2",
            "account_id": self.account_id,
            "account_number": 10000001,
            "cluster": "us06",
            "user_created_at": FIXTURE_CREATED,
        }

    def summary(self) -> dict[str, Any]:
        """The user as ``GET /users`` lists it."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "display_name": f"{self.first_name} {self.last_name}".strip(),
            "email": self.email,
            "type": self.type,
            "pmi": self.pmi,
            "timezone": self.timezone,
            "verified": 1,
            "dept": self.dept,
            "created_at": FIXTURE_CREATED,
            "last_login_time": FIXTURE_CREATED,
            "language": "en-US",
            "status": self.status,
            "role_id": "0" if self.role_name == "Owner" else "2",
            "user_created_at": FIXTURE_CREATED,
        }


@dataclass
class State:
    """Everything the Zoom emulation knows."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)  # by id
    by_email: dict[str, User] = field(default_factory=dict)  # by lower-case email
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    meetings: dict[int, dict[str, Any]] = field(default_factory=dict)
    created_meetings: list[dict[str, Any]] = field(default_factory=list)
    daily_creates: dict[tuple[str, str], int] = field(default_factory=dict)
    ordered: list[User] | None = None
    meeting_ids: Any = field(default_factory=lambda: itertools.count(85_746_065_432, 7_919))

    def add_user(self, user: User) -> None:
        """Add or replace a user."""
        old = self.by_email.get(user.email.lower())
        if old is not None:
            self.users.pop(old.id, None)
        self.users[user.id] = user
        self.by_email[user.email.lower()] = user
        self.ordered = None

    def user(self, key: str) -> User | None:
        """A user by id or email."""
        return self.users.get(key) or self.by_email.get(key.lower())

    def account_users(self, account_id: str) -> list[User]:
        """The account's users in a stable order (by email)."""
        if self.ordered is None:
            self.ordered = sorted(self.users.values(), key=lambda u: u.email.lower())
        return [u for u in self.ordered if u.account_id == account_id]

    def owner(self, account_id: str) -> User | None:
        """The account owner (who ``me`` means for server-to-server tokens)."""
        owner = self.accounts.get(account_id, {}).get("owner")
        return self.user(owner) if owner else None


def user_id_for(email: str) -> str:
    """A stable 22-character Zoom-style user id for an email."""
    digest = hashlib.sha256(email.lower().encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=").replace("-", "A").replace("_", "B")


def load(fixture: dict[str, Any]) -> State:
    """A fresh state from a fixture's JSON."""
    state = State()
    seed(state, fixture)
    return state


def seed(state: State, data: dict[str, Any]) -> None:
    """Merge fixture-shaped ``data`` into ``state``."""
    for account in data.get("accounts", []):
        state.accounts.setdefault(account["id"], {}).update(account)
    default_account = next(iter(state.accounts), "zoom-acct-1")
    for n, raw in enumerate(data.get("users", [])):
        email = raw["email"]
        state.add_user(
            User(
                id=raw.get("id") or user_id_for(email),
                email=email,
                first_name=raw.get("first_name", email.split("@")[0].title()),
                last_name=raw.get("last_name", ""),
                account_id=raw.get("account_id", default_account),
                type=int(raw.get("type", 2)),
                role_name=raw.get("role_name", "Member"),
                status=raw.get("status", "active"),
                timezone=raw.get("timezone", "UTC"),
                dept=raw.get("dept", ""),
                pmi=int(raw.get("pmi", 5_550_000_000 + n + len(state.users))),
            )
        )
    for client in data.get("clients", []):
        state.clients[client["client_id"]] = OAuthClient.from_json(client)


def bulk_users(
    state: State,
    tenant: str | None = None,
    domain: str = "bulk.example",
    count: int = 1000,
    prefix: str = "user",
    **_: Any,
) -> int:
    """Generate ``count`` users ``<prefix><n>@<domain>`` in account ``tenant``."""
    account = tenant or next(iter(state.accounts), "zoom-acct-1")
    state.accounts.setdefault(account, {"id": account})
    width = max(6, len(str(count)))
    for n in range(count):
        email = f"{prefix}{n:0{width}d}@{domain}"
        state.add_user(
            User(
                id=user_id_for(email),
                email=email,
                first_name=f"{prefix.title()}{n}",
                last_name="Bulk",
                account_id=account,
                pmi=6_000_000_000 + n,
            )
        )
    return count


def update_user(state: State, user_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Deactivate (``status``), rename or delete (``deleted: true``) a user; its JSON, None when unknown."""
    user = state.user(user_id)
    if user is None:
        return None
    if fields.get("deleted"):
        state.users.pop(user.id, None)
        state.by_email.pop(user.email.lower(), None)
        state.ordered = None
        return user.resource()
    for key in ("first_name", "last_name", "status", "role_name", "timezone", "dept"):
        if key in fields:
            setattr(user, key, fields[key])
    if "type" in fields:
        user.type = int(fields["type"])
    if fields.get("email") and fields["email"].lower() != user.email.lower():
        state.by_email.pop(user.email.lower(), None)
        user.email = fields["email"]
        state.by_email[user.email.lower()] = user
        state.ordered = None
    return user.resource()


def created(state: State) -> dict[str, Any]:
    """Meetings clients created (with the request that created each)."""
    return {"meetings": state.created_meetings}
