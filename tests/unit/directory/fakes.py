"""Hand-written fakes of the directory's ports (no patching, no I/O).

``FakeDatabase`` keeps every table as a dict of frozen dataclasses; a ``FakeUnitOfWork`` works on a
copy and writes it back only on ``commit`` (like the SQL one, which rolls back unless committed).
The unique rules the real database enforces are enforced here too.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kit.errors import AlreadyExists, NotFound, Unavailable
from services.directory.domain.model import (
    Account,
    AccountState,
    CalendarConnection,
    ConferencingConnection,
    Connection,
    ConnectionState,
    DirectoryConnection,
    OrganizationalUnit,
    Room,
)
from services.directory.domain.sync import DirectoryRoom, SyncRun, SyncState
from services.directory.ports import (
    AccountKey,
    Authorization,
    AuthorizationRequest,
    AuthorizationState,
    ConferencingLink,
    Credential,
    CursorExpired,
    ListingFailed,
    ReadRequest,
    Resolution,
    StateChange,
    TokenSource,
    UserPage,
)


@dataclass
class Tables:
    units: dict[str, OrganizationalUnit] = field(default_factory=dict)
    calendars: dict[str, CalendarConnection] = field(default_factory=dict)
    directories: dict[str, DirectoryConnection] = field(default_factory=dict)
    conferencing: dict[str, ConferencingConnection] = field(default_factory=dict)
    served: dict[tuple[str, str], str] = field(default_factory=dict)
    onboarded: dict[tuple[str, str], str] = field(default_factory=dict)
    leases: dict[str, tuple[str | None, datetime | None]] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    runs: dict[str, SyncRun] = field(default_factory=dict)
    links: dict[tuple[str, str], ConferencingLink] = field(default_factory=dict)


class FakeUnits:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def add(self, unit: OrganizationalUnit) -> None:
        assert unit.id not in self.t.units
        self.t.units[unit.id] = unit

    async def get(self, unit_id: str) -> OrganizationalUnit | None:
        return self.t.units.get(unit_id)

    async def by_request_id(self, request_id: str) -> OrganizationalUnit | None:
        return next((u for u in self.t.units.values() if u.request_id == request_id), None)

    async def list(self, after: str | None, limit: int) -> list[OrganizationalUnit]:
        return [u for k, u in sorted(self.t.units.items()) if after is None or k > after][:limit]

    async def update(self, unit: OrganizationalUnit) -> None:
        self.t.units[unit.id] = replace(unit)


class FakeConnections:
    table: str = ""
    domains_table: str = ""

    def __init__(self, t: Tables, db: FakeDatabase) -> None:
        self.t = t
        self.db = db

    @property
    def rows(self) -> dict[str, Any]:
        return getattr(self.t, self.table)  # type: ignore[no-any-return]

    async def add(self, connection: Connection) -> None:
        if connection.request_id and any(
            c.org_unit_id == connection.org_unit_id and c.request_id == connection.request_id for c in self.rows.values()
        ):
            raise AlreadyExists("request id", reason="REQUEST_ID_CONFLICT")
        self.rows[connection.id] = connection
        if self.domains_table:
            claimed = getattr(self.t, self.domains_table)
            for domain in connection.domains:  # type: ignore[attr-defined]
                if (connection.org_unit_id, domain) in claimed:
                    raise AlreadyExists("domain", reason="DOMAIN_ALREADY_SERVED")
                claimed[(connection.org_unit_id, domain)] = connection.id
        if self.table == "directories":
            self.t.leases[connection.id] = (None, None)

    async def get(self, unit_id: str, connection_id: str) -> Any:
        c = self.rows.get(connection_id)
        return c if c is not None and c.org_unit_id == unit_id else None

    async def by_request_id(self, unit_id: str, request_id: str) -> Any:
        return next((c for c in self.rows.values() if c.org_unit_id == unit_id and c.request_id == request_id), None)

    async def list(self, unit_id: str, after: str | None, limit: int, show_disconnected: bool) -> list[Any]:
        items = sorted((c for c in self.rows.values() if c.org_unit_id == unit_id), key=lambda c: (c.create_time, c.id))
        if not show_disconnected:
            items = [c for c in items if not c.disconnected]
        if after is not None:
            ids = [c.id for c in items]
            items = items[ids.index(after) + 1 :] if after in ids else items
        return items[:limit]

    async def update(self, connection: Connection, expected: ConnectionState | None = None) -> bool:
        # Like a conditional UPDATE, the expected state is checked against what others committed.
        current = getattr(self.db.tables, self.table).get(connection.id) or self.rows.get(connection.id)
        if current is None or (expected is not None and current.state is not expected):
            return False
        self.rows[connection.id] = connection
        return True

    async def pending_authorization(self, limit: int) -> list[Any]:
        return [c for c in self.rows.values() if c.pending][:limit]

    async def revoke_pending(self, limit: int) -> list[Any]:
        return [c for c in self.rows.values() if c.revoke_pending][:limit]

    async def domain_holders(self, unit_id: str, domains: Sequence[str]) -> dict[str, str]:
        claimed = getattr(self.t, self.domains_table)
        return {d: claimed[(unit_id, d)] for d in domains if (unit_id, d) in claimed}

    async def release_domains(self, connection_id: str) -> None:
        claimed = getattr(self.t, self.domains_table)
        for key in [k for k, v in claimed.items() if v == connection_id]:
            del claimed[key]


class FakeCalendars(FakeConnections):
    table, domains_table = "calendars", "served"

    async def serving(self, unit_id: str, domain: str) -> CalendarConnection | None:
        holder = self.t.served.get((unit_id, domain))
        return self.t.calendars.get(holder) if holder else None


class FakeDirectories(FakeConnections):
    table, domains_table = "directories", "onboarded"

    async def due(self, now: datetime, limit: int) -> list[DirectoryConnection]:
        return [c for c in self.t.directories.values()
                if c.state is ConnectionState.ACTIVE and c.next_sync_time and c.next_sync_time <= now][:limit]  # fmt: skip


class FakeConferencing(FakeConnections):
    table = "conferencing"

    async def active(self, unit_id: str) -> list[ConferencingConnection]:
        return [c for c in self.t.conferencing.values() if c.org_unit_id == unit_id and c.state is ConnectionState.ACTIVE]


class FakeLeases:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def acquire(self, connection_id: str, run_id: str, holder: str, now: datetime, until: datetime) -> bool:
        _, lease_until = self.t.leases.get(connection_id, (None, None))
        if lease_until is not None and lease_until >= now:
            return False
        self.t.leases[connection_id] = (run_id, until)
        return True

    async def renew(self, connection_id: str, run_id: str, until: datetime) -> bool:
        holder, _ = self.t.leases.get(connection_id, (None, None))
        connection = self.t.directories.get(connection_id)
        if holder != run_id or connection is None or connection.state is not ConnectionState.ACTIVE:
            return False
        self.t.leases[connection_id] = (run_id, until)
        return True

    async def release(self, connection_id: str, run_id: str) -> None:
        if self.t.leases.get(connection_id, (None, None))[0] == run_id:
            self.t.leases[connection_id] = (None, None)

    async def current_run(self, connection_id: str, now: datetime) -> str | None:
        holder, until = self.t.leases.get(connection_id, (None, None))
        return holder if until is not None and until >= now else None


class FakeAccounts:
    def __init__(self, t: Tables, db: FakeDatabase) -> None:
        self.t = t
        self.db = db

    def _check_unique(self, account: Account) -> None:
        for other in self.t.accounts.values():
            if other.id == account.id:
                continue
            if other.org_unit_id == account.org_unit_id and other.email == account.email:
                raise AlreadyExists("email", reason="ACCOUNT_ALREADY_EXISTS")
            if account.external_id and (other.directory_connection_id, other.external_id) == (
                account.directory_connection_id, account.external_id):  # fmt: skip
                raise AlreadyExists("external id")

    async def add(self, account: Account) -> None:
        self._check_unique(account)
        self.t.accounts[account.id] = account

    async def get(self, unit_id: str, account_id: str) -> Account | None:
        a = self.t.accounts.get(account_id)
        return a if a is not None and a.org_unit_id == unit_id else None

    async def by_request_id(self, unit_id: str, request_id: str) -> Account | None:
        return next((a for a in self.t.accounts.values() if a.org_unit_id == unit_id and a.request_id == request_id), None)

    async def with_email(self, unit_id: str, email: str) -> Account | None:
        return next((a for a in self.t.accounts.values() if a.org_unit_id == unit_id and a.email == email), None)

    async def list(self, unit_id: str, state: AccountState | None, connection_id: str, after_email: str | None,
                   limit: int) -> list[Account]:  # fmt: skip
        items = sorted((a for a in self.t.accounts.values() if a.org_unit_id == unit_id), key=lambda a: a.email)
        items = [a for a in items if (state is None or a.state is state)
                 and (not connection_id or a.directory_connection_id == connection_id)
                 and (after_email is None or a.email > after_email)]  # fmt: skip
        return items[:limit]

    async def by_external_ids(self, unit_id: str, connection_id: str, external_ids: Sequence[str]) -> dict[str, Account]:
        self.db.bulk_reads += 1
        wanted = set(external_ids)
        return {a.external_id: a for a in self.t.accounts.values()
                if a.directory_connection_id == connection_id and a.external_id in wanted}  # fmt: skip

    async def by_emails(self, unit_id: str, emails: Sequence[str]) -> dict[str, Account]:
        self.db.bulk_reads += 1
        wanted = set(emails)
        return {a.email: a for a in self.t.accounts.values() if a.org_unit_id == unit_id and a.email in wanted}

    async def insert_many(self, accounts: Sequence[Account]) -> None:
        for a in accounts:
            self.db.account_writes += 1
            await self.add(a)

    async def update_many(self, accounts: Sequence[Account]) -> None:
        for a in accounts:
            self.db.account_writes += 1
            self._check_unique(a)
            self.t.accounts[a.id] = a

    async def change_states(self, changes: Sequence[StateChange]) -> None:
        for c in changes:
            self.db.account_writes += 1
            a = self.t.accounts[c.account_id]
            self.t.accounts[c.account_id] = replace(
                a, state=c.state, update_time=c.at, deactivate_time=c.at if c.state is AccountState.DEACTIVATED else None
            )

    async def count_active(self, connection_id: str) -> int:
        return sum(1 for a in self.t.accounts.values()
                   if a.directory_connection_id == connection_id and a.state is AccountState.ACTIVE)  # fmt: skip

    async def refresh_statistics(self) -> None:
        self.db.analyzed += 1

    async def count_live(self, connection_id: str) -> int:
        return sum(1 for a in self.t.accounts.values()
                   if a.directory_connection_id == connection_id and a.state is not AccountState.DEACTIVATED)  # fmt: skip

    async def keys(self, connection_id: str, after_id: str | None, limit: int) -> list[AccountKey]:
        items = sorted((a for a in self.t.accounts.values()
                        if a.directory_connection_id == connection_id and a.state is not AccountState.DEACTIVATED),
                       key=lambda a: a.id)  # fmt: skip
        return [AccountKey(a.id, a.external_id, a.state) for a in items if after_id is None or a.id > after_id][:limit]


class FakeRooms:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def list(self, unit_id: str, after_email: str | None, limit: int) -> list[Room]:
        items = sorted((r for r in self.t.rooms.values() if r.org_unit_id == unit_id), key=lambda r: r.email)
        return [replace(r, calendar_connection_id=self.t.served.get((unit_id, r.email.split("@")[1]), ""))
                for r in items if after_email is None or r.email > after_email][:limit]  # fmt: skip

    async def of_connection(self, connection_id: str) -> dict[str, Room]:
        return {r.external_id: r for r in self.t.rooms.values() if r.directory_connection_id == connection_id}

    async def with_emails(self, unit_id: str, emails: Sequence[str]) -> dict[str, Room]:
        return {r.email: r for r in self.t.rooms.values() if r.org_unit_id == unit_id and r.email in emails}

    async def insert_many(self, rooms: Sequence[Room]) -> None:
        for r in rooms:
            self.t.rooms[r.id] = r

    async def update_many(self, rooms: Sequence[Room]) -> None:
        for r in rooms:
            self.t.rooms[r.id] = r

    async def delete_many(self, room_ids: Sequence[str]) -> None:
        for room_id in room_ids:
            self.t.rooms.pop(room_id, None)


class FakeRuns:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def add(self, run: SyncRun) -> None:
        self.t.runs[run.id] = run

    async def get(self, unit_id: str, run_id: str) -> SyncRun | None:
        r = self.t.runs.get(run_id)
        return r if r is not None and r.org_unit_id == unit_id else None

    async def by_request_id(self, unit_id: str, request_id: str) -> SyncRun | None:
        return next((r for r in self.t.runs.values() if r.org_unit_id == unit_id and r.request_id == request_id), None)

    async def list(self, connection_id: str, before: tuple[str, str] | None, limit: int) -> list[SyncRun]:
        items = sorted((r for r in self.t.runs.values() if r.directory_connection_id == connection_id),
                       key=lambda r: (r.create_time, r.id), reverse=True)  # fmt: skip
        if before is not None:
            items = [r for r in items if (r.create_time.isoformat(), r.id) < before]
        return items[:limit]

    async def update(self, run: SyncRun) -> None:
        self.t.runs[run.id] = run

    async def abandon_running(self, connection_id: str, except_run_id: str, at: datetime) -> int:
        stale = [r for r in self.t.runs.values()
                 if r.directory_connection_id == connection_id and r.running and r.id != except_run_id]  # fmt: skip
        for r in stale:
            self.t.runs[r.id] = r.ended(SyncState.FAILED, at, reason="INTERNAL", message="abandoned")
        return len(stale)


class FakeLinks:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def get(self, connection_ids: Sequence[str], email: str) -> dict[str, ConferencingLink]:
        return {c: self.t.links[(c, email)] for c in connection_ids if (c, email) in self.t.links}

    async def put(self, link: ConferencingLink) -> None:
        self.t.links[(link.conferencing_connection_id, link.email)] = link


class FakeDatabase:
    """The committed state plus counters the tests read."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.commits = 0
        self.account_writes = 0
        self.bulk_reads = 0
        self.analyzed = 0


class FakeUnitOfWork:
    """Changes become visible to the next unit of work only when committed."""

    def __init__(self, db: FakeDatabase | None = None) -> None:
        self.db = db or FakeDatabase()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.db)

    @property
    def commits(self) -> int:
        return self.db.commits

    async def __aenter__(self) -> FakeUnitOfWork:
        self._work = copy.copy(self.db.tables)
        for name in vars(self._work):
            setattr(self._work, name, dict(getattr(self.db.tables, name)))
        t = self._work
        self.units = FakeUnits(t)
        self.calendars = FakeCalendars(t, self.db)
        self.directories = FakeDirectories(t, self.db)
        self.conferencing = FakeConferencing(t, self.db)
        self.leases = FakeLeases(t)
        self.accounts = FakeAccounts(t, self.db)
        self.rooms = FakeRooms(t)
        self.runs = FakeRuns(t)
        self.links = FakeLinks(t)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        pass

    async def commit(self) -> None:
        self.db.tables = self._work
        self.db.commits += 1


class FakeRoutingReads:
    """ResolveAccount's reads over the fake tables."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def resolve(self, unit_id: str, email: str, domain: str) -> Resolution | None:
        t = self.db.tables
        if unit_id not in t.units:
            return None
        account = next((a for a in t.accounts.values() if a.org_unit_id == unit_id and a.email == email), None)
        holder = t.served.get((unit_id, domain))
        room = next((r for r in t.rooms.values() if r.org_unit_id == unit_id and r.email == email), None)
        conferencing = sorted((c for c in t.conferencing.values()
                               if c.org_unit_id == unit_id and c.state is ConnectionState.ACTIVE),
                              key=lambda c: (c.create_time, c.id))  # fmt: skip
        links = {c.id: t.links[(c.id, email)] for c in conferencing if (c.id, email) in t.links}
        return Resolution(account, t.calendars.get(holder) if holder else None,
                          replace(room, calendar_connection_id=holder or "") if room else None, conferencing, links)  # fmt: skip


class FakeIdentity:
    """Identity's contract: authorizations (completed by the test), credentials, tokens."""

    def __init__(self) -> None:
        self.authorizations: dict[str, Authorization] = {}
        self.credentials: dict[str, Credential] = {}
        self.revoked: list[str] = []
        self.started: list[AuthorizationRequest] = []
        self.down = False
        self.token_error: Exception | None = None
        self.rejected: list[str] = []  # rejected_access_token hints received
        self._n = 0

    def _check(self) -> None:
        if self.down:
            raise Unavailable("identity is down")

    async def start_authorization(self, request: AuthorizationRequest) -> Authorization:
        self._check()
        self._n += 1
        auth = Authorization(f"auth-{self._n}", f"https://login.example/authorize?state=s{self._n}",
                             AuthorizationState.PENDING, "")  # fmt: skip
        self.started.append(request)
        self.authorizations[auth.id] = auth
        return auth

    def complete(self, authorization_id: str, credential_id: str) -> None:
        self.authorizations[authorization_id] = replace(
            self.authorizations[authorization_id], state=AuthorizationState.COMPLETED, credential_id=credential_id
        )

    def fail(self, authorization_id: str, reason: str = "AUTHORIZATION_DENIED") -> None:
        self.authorizations[authorization_id] = replace(
            self.authorizations[authorization_id], state=AuthorizationState.FAILED, failure_reason=reason
        )

    async def get_authorization(self, org_unit_id: str, authorization_id: str) -> Authorization:
        self._check()
        if authorization_id not in self.authorizations:
            raise NotFound("no such authorization", reason="AUTHORIZATION_NOT_FOUND")
        return self.authorizations[authorization_id]

    async def get_credential(self, org_unit_id: str, credential_id: str) -> Credential:
        self._check()
        if credential_id not in self.credentials:
            raise NotFound("no such credential", reason="CREDENTIAL_NOT_FOUND")
        return self.credentials[credential_id]

    async def revoke_credential(self, org_unit_id: str, credential_id: str) -> None:
        self._check()
        self.revoked.append(credential_id)

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        self._check()
        if self.token_error is not None:
            raise self.token_error
        if rejected:
            self.rejected.append(rejected)
        return f"token-for-{credential_id}"


class FakeRead:
    def __init__(self, reader: FakeReader, request: ReadRequest) -> None:
        self._reader = reader
        self._request = request
        self.incremental = bool(request.cursor)
        self.next_cursor = ""

    async def verified_domains(self) -> frozenset[str] | None:
        return self._reader.verified

    async def pages(self) -> AsyncIterator[UserPage]:
        if self._request.cursor and self._reader.cursor_expired:
            raise CursorExpired()
        pages = self._reader.changes if self._request.cursor else self._reader.pages
        for n, users in enumerate(pages, start=1):
            if self._reader.fail_at_page == n:
                raise ListingFailed("DIRECTORY_LISTING_FAILED", f"page {n} failed", f"page {n} (cursor c{n})")
            yield UserPage(n, tuple(users))
        self.next_cursor = f"cursor-{len(self._reader.reads)}"

    async def rooms(self) -> list[DirectoryRoom] | None:
        return self._reader.rooms


class FakeReader:
    """A directory the test fills: ``pages`` for a full read, ``changes`` for an incremental one."""

    def __init__(self) -> None:
        self.pages: list[list[Any]] = []
        self.changes: list[list[Any]] = []
        self.verified: frozenset[str] | None = None
        self.rooms: list[DirectoryRoom] | None = None
        self.fail_at_page: int | None = None
        self.cursor_expired = False
        self.reads: list[ReadRequest] = []

    def open(self, request: ReadRequest, token: TokenSource) -> FakeRead:
        self.reads.append(request)
        return FakeRead(self, request)


class FakeConferencingDirectory:
    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.asked: list[str] = []
        self.down = False

    async def find_user(self, connection: ConferencingConnection, email: str, token: TokenSource) -> str | None:
        self.asked.append(email)
        if self.down:
            raise Unavailable("down")
        return self.users.get(email)


class InlineBackground:
    """Keeps spawned work for the test to run when it wants."""

    def __init__(self) -> None:
        self.work: list[Coroutine[Any, Any, Any]] = []

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        self.work.append(work)

    async def run_all(self) -> None:
        while self.work:
            await self.work.pop(0)

