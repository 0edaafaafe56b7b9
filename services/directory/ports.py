"""Ports of the directory service: what the use cases need from the outside world.

Repositories (one transaction through ``UnitOfWork``), the identity service, the directories and
conferencing services read through the provider clients, and background task spawning.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from services.directory.domain.model import (
    AccessMode,
    Account,
    AccountState,
    CalendarConnection,
    ConferencingConnection,
    ConnectionState,
    DirectoryConnection,
    Grant,
    OrganizationalUnit,
    Provider,
    Purpose,
    Room,
)
from services.directory.domain.sync import DirectoryRoom, DirectoryUser, SyncRun

# ------------------------------------------------------------------------------------ repositories


class OrganizationalUnits(Protocol):
    """Stores organizational units; ``list`` pages by id."""

    async def add(self, unit: OrganizationalUnit) -> None: ...
    async def get(self, unit_id: str) -> OrganizationalUnit | None: ...
    async def by_request_id(self, request_id: str) -> OrganizationalUnit | None: ...
    async def list(self, after: str | None, limit: int) -> list[OrganizationalUnit]: ...
    async def update(self, unit: OrganizationalUnit) -> None: ...


C = TypeVar("C")


class ConnectionStore(Protocol[C]):
    """Stores one kind of connection. ``update`` writes only when the stored state is still
    ``expected`` (when given) and says whether it wrote."""

    async def add(self, connection: C) -> None: ...
    async def get(self, unit_id: str, connection_id: str) -> C | None: ...
    async def by_request_id(self, unit_id: str, request_id: str) -> C | None: ...
    async def list(self, unit_id: str, after: str | None, limit: int, show_disconnected: bool) -> list[C]: ...
    async def update(self, connection: C, expected: ConnectionState | None = None) -> bool: ...
    async def pending_authorization(self, limit: int) -> builtins.list[C]: ...
    async def revoke_pending(self, limit: int) -> builtins.list[C]: ...


class CalendarConnections(ConnectionStore[CalendarConnection], Protocol):
    """Calendar connections and the served-domains table that makes a domain served at most once
    per unit (a unique constraint on (unit, domain); ``add`` claims, ``release_domains`` frees)."""

    async def domain_holders(self, unit_id: str, domains: Sequence[str]) -> dict[str, str]: ...
    async def release_domains(self, connection_id: str) -> None: ...
    async def serving(self, unit_id: str, domain: str) -> CalendarConnection | None: ...


class DirectoryConnections(ConnectionStore[DirectoryConnection], Protocol):
    """Directory connections, their onboarded domains (unique per unit like calendar domains) and
    the sync lease row each one has."""

    async def domain_holders(self, unit_id: str, domains: Sequence[str]) -> dict[str, str]: ...
    async def release_domains(self, connection_id: str) -> None: ...
    async def due(self, now: datetime, limit: int) -> list[DirectoryConnection]: ...


class ConferencingConnections(ConnectionStore[ConferencingConnection], Protocol):
    async def active(self, unit_id: str) -> list[ConferencingConnection]: ...


class SyncLeases(Protocol):
    """One lease row per directory connection, taken by a conditional update (never two holders)."""

    async def acquire(self, connection_id: str, run_id: str, holder: str, now: datetime, until: datetime) -> bool: ...
    async def renew(self, connection_id: str, run_id: str, until: datetime) -> bool: ...
    async def release(self, connection_id: str, run_id: str) -> None: ...
    async def current_run(self, connection_id: str, now: datetime) -> str | None: ...


@dataclass(frozen=True, slots=True)
class AccountKey:
    """What offboarding needs of an account: its id, directory id and state."""

    id: str
    external_id: str
    state: AccountState


@dataclass(frozen=True, slots=True)
class StateChange:
    account_id: str
    state: AccountState
    at: datetime


class Accounts(Protocol):
    """Accounts, unique per (unit, email) and per (directory connection, external id). The bulk
    methods serve sync: one query per page, never one per user."""

    async def add(self, account: Account) -> None: ...
    async def get(self, unit_id: str, account_id: str) -> Account | None: ...
    async def by_request_id(self, unit_id: str, request_id: str) -> Account | None: ...
    async def with_email(self, unit_id: str, email: str) -> Account | None: ...
    async def list(self, unit_id: str, state: AccountState | None, connection_id: str,
                   after_email: str | None, limit: int) -> list[Account]: ...  # fmt: skip
    async def by_external_ids(self, unit_id: str, connection_id: str, external_ids: Sequence[str]) -> dict[str, Account]:
        """The connection's accounts with these directory ids, as sync views: everything sync compares
        and writes is loaded; time_zone, create_time and update_time may not be (sync never writes them)."""
        ...

    async def by_emails(self, unit_id: str, emails: Sequence[str]) -> dict[str, Account]:
        """The unit's accounts with these emails, as sync views (see ``by_external_ids``)."""
        ...

    async def insert_many(self, accounts: Sequence[Account]) -> None: ...
    async def update_many(self, accounts: Sequence[Account]) -> None: ...
    async def change_states(self, changes: Sequence[StateChange]) -> None: ...
    async def count_active(self, connection_id: str) -> int: ...
    async def count_live(self, connection_id: str) -> int: ...
    async def refresh_statistics(self) -> None:
        """Let the database re-estimate the table after a bulk load (a no-op where not needed)."""
        ...

    async def keys(self, connection_id: str, after_id: str | None, limit: int) -> builtins.list[AccountKey]:
        """Not-deactivated accounts of a connection ordered by id, ``limit`` after ``after_id``."""
        ...


class Rooms(Protocol):
    async def list(self, unit_id: str, after_email: str | None, limit: int) -> list[Room]: ...
    async def of_connection(self, connection_id: str) -> dict[str, Room]: ...
    async def with_emails(self, unit_id: str, emails: Sequence[str]) -> dict[str, Room]: ...
    async def insert_many(self, rooms: Sequence[Room]) -> None: ...
    async def update_many(self, rooms: Sequence[Room]) -> None: ...
    async def delete_many(self, room_ids: Sequence[str]) -> None: ...


class SyncRuns(Protocol):
    async def add(self, run: SyncRun) -> None: ...
    async def get(self, unit_id: str, run_id: str) -> SyncRun | None: ...
    async def by_request_id(self, unit_id: str, request_id: str) -> SyncRun | None: ...
    async def list(self, connection_id: str, before: tuple[str, str] | None, limit: int) -> list[SyncRun]: ...
    async def update(self, run: SyncRun) -> None: ...
    async def abandon_running(self, connection_id: str, except_run_id: str, at: datetime) -> int: ...


@dataclass(frozen=True)
class ConferencingLink:
    """A conferencing connection's user for an email (``external_user_id`` empty: it has none)."""

    conferencing_connection_id: str
    email: str
    external_user_id: str
    resolve_time: datetime


class ConferencingLinks(Protocol):
    async def get(self, connection_ids: Sequence[str], email: str) -> dict[str, ConferencingLink]: ...
    async def put(self, link: ConferencingLink) -> None: ...


class UnitOfWork(Protocol):
    """One transaction over the directory's repositories; rolls back unless committed."""

    units: OrganizationalUnits
    calendars: CalendarConnections
    directories: DirectoryConnections
    conferencing: ConferencingConnections
    leases: SyncLeases
    accounts: Accounts
    rooms: Rooms
    runs: SyncRuns
    links: ConferencingLinks

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


@dataclass(frozen=True)
class Resolution:
    """Everything ResolveAccount answers, read in one or two indexed queries."""

    account: Account | None
    calendar: CalendarConnection | None
    room: Room | None
    conferencing: list[ConferencingConnection]
    links: dict[str, ConferencingLink]


class RoutingReads(Protocol):
    """The read-only fast path of ResolveAccount (no session, no unit of work)."""

    async def resolve(self, unit_id: str, email: str, domain: str) -> Resolution | None:
        """None when the unit does not exist."""
        ...


# ------------------------------------------------------------------------------------------ identity


class AuthorizationState(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class AuthorizationRequest:
    org_unit_id: str
    provider: Provider
    purpose: Purpose
    access_mode: AccessMode | None
    grant: Grant
    return_uri: str
    request_id: str


@dataclass(frozen=True)
class Authorization:
    id: str
    url: str
    state: AuthorizationState
    credential_id: str
    failure_reason: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class Credential:
    id: str
    provider: Provider
    purpose: Purpose | None
    access_mode: AccessMode | None
    organization_wide: bool
    active: bool


class Identity(Protocol):
    """The identity service. Errors: NotFound (unknown ids, with identity's reason),
    FailedPrecondition (e.g. CREDENTIAL_NEEDS_REAUTHORIZATION), Unavailable when it cannot answer."""

    async def start_authorization(self, request: AuthorizationRequest) -> Authorization: ...
    async def get_authorization(self, org_unit_id: str, authorization_id: str) -> Authorization: ...
    async def get_credential(self, org_unit_id: str, credential_id: str) -> Credential: ...
    async def revoke_credential(self, org_unit_id: str, credential_id: str) -> None: ...
    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        """A bearer token; ``rejected``: one the provider just refused (401), not to be handed out again."""
        ...


# --------------------------------------------------------------------------------------- directories

class TokenSource(Protocol):
    """An access token for the connection's credential: ``rejected`` names one the provider refused
    (401), so identity replaces it rather than handing it out again."""

    def __call__(self, rejected: str = "") -> Awaitable[str]: ...


class ListingFailed(Exception):
    """Reading the directory failed part-way; ``stopped_at`` says where (page and cursor)."""

    def __init__(self, reason: str, message: str, stopped_at: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.stopped_at = stopped_at


class CursorExpired(Exception):
    """The stored delta link / high-water mark is no longer accepted; read everything again."""


@dataclass(frozen=True)
class UserPage:
    number: int
    users: tuple[DirectoryUser, ...]


@dataclass(frozen=True)
class ReadRequest:
    provider: Provider
    org_unit_id: str
    credential_id: str
    api_server_url: str
    cursor: str  # empty: read everything
    page_size: int


class DirectoryRead(Protocol):
    """One read of a directory: its verified domains, then its users page by page, then (when the
    provider has them) its rooms. ``next_cursor`` is valid once ``pages`` is exhausted."""

    incremental: bool
    next_cursor: str

    async def verified_domains(self) -> frozenset[str] | None: ...
    def pages(self) -> AsyncIterator[UserPage]: ...
    async def rooms(self) -> list[DirectoryRoom] | None: ...


class DirectoryReader(Protocol):
    def open(self, request: ReadRequest, token: TokenSource) -> DirectoryRead: ...


class ConferencingDirectory(Protocol):
    """Finds a conferencing service's user by email: their id, or None when the service has none.
    Raises ``kit.errors.Unavailable`` when the service cannot be asked."""

    async def find_user(self, connection: ConferencingConnection, email: str, token: TokenSource) -> str | None: ...


class Background(Protocol):
    """Runs coroutines after the RPC that started them has answered."""

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None: ...
