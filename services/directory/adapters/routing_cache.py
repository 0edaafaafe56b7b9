"""ResolveAccount's cache: a unit's routing rows held in memory, answered without a query, and never
trusted past a change the database has signalled.

What is held, per unit: its accounts, rooms, served domains with their calendar connections and its
ACTIVE conferencing connections — everything of the answer but the stored conferencing links, which
ResolveAccount writes itself and which are read per call (one indexed query, only in units with a
conferencing connection), so storing one never throws the unit out.

When a cached unit is trusted (migration 0003 makes the database say which unit changed):

* SQLite: triggers bump ``routing_versions`` in the writing transaction. Each call asks
  ``PRAGMA data_version`` (microseconds, no file read) whether any other connection committed; if
  one did, the versions are read again. A unit is answered from memory only while its version is
  the one read in the same transaction as its rows — so a change is seen by the next call, in this
  process and any other on the same file, exactly as without the cache.
* PostgreSQL: triggers ``pg_notify`` the unit's id; each replica listens on one connection of its
  own. A unit is answered from memory only while no notification for it arrived since the moment
  before its rows were read, and only while the listening connection is up (when it drops, every
  unit is forgotten and calls read the database until it is back). After a commit of this replica's
  own, the next call first makes one round trip on the listening connection, which brings in every
  notification committed before it — so a caller that changed something and resolves through the
  same replica sees its change. Another replica sees it as soon as the notification arrives
  (typically well under a millisecond later); in that window it may still answer the old route.
  A listening connection silent for 5 s is asked to answer, and not trusted after 10 s without
  one, so a connection cut without a word (which would deliver nothing) bounds what is missed.

When a unit is loaded: on a call that finds it missing or outdated, once no change to it has been
seen for ``quiet_seconds`` (a unit in the middle of a sync is read from the database until the sync
is done), in the background — that call and those until the load is done read the database.
Memory: at most ``entries`` accounts, rooms and domains in all (least recently used units make
room; a unit larger than that is never held). ``entries=0`` turns the cache off.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import asyncpg
from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import make_url

from kit.db import sqlite_file
from kit.pg import DriverStatement, asyncpg_dsn
from services.directory.adapters.sql_accounts import account_from_row, room_from_row
from services.directory.adapters.sql_common import ReadOnlySqlite
from services.directory.adapters.sql_connections import calendar_from_row, conferencing_from_row
from services.directory.adapters.sql_routing import RowSlice, SqliteStatement, SqlRoutingReads
from services.directory.adapters.tables import (
    accounts,
    calendar_connections,
    conferencing_connections,
    org_units,
    rooms,
    served_domains,
)
from services.directory.domain.model import (
    Account,
    CalendarConnection,
    ConferencingConnection,
    ConnectionState,
    Room,
)
from services.directory.ports import Resolution

log = logging.getLogger("rendezvous.directory.routing_cache")

CHANNEL = "rendezvous_directory_routing"  # migration 0003
SIGNALLING_TABLES = ("accounts", "calendar_connections", "served_domains", "rooms", "conferencing_connections")
_TRIGGERS = "SELECT count(*) FROM pg_trigger WHERE tgname = ANY($1::text[]) AND NOT tgisinternal"
#: SQLite: how long a commit of another process on the same file may go unnoticed (this process's
#: own commits are noticed by the next call).
FOREIGN_WRITES_SECONDS = 0.05
#: PostgreSQL: a listening connection is asked to answer after this long without a word from it,
#: and not trusted after twice this long (a connection cut without a FIN delivers nothing).
LISTENER_CHECK_SECONDS = 5.0

_A, _C, _R = accounts.alias("a"), calendar_connections.alias("c"), rooms.alias("r")
_SD, _K = served_domains.alias("sd"), conferencing_connections.alias("k")
_UNIT: Any = bindparam("unit")

#: A unit's rows, read in one transaction (in this order).
UNIT_EXISTS = select(org_units.c.id).where(org_units.c.id == _UNIT)
UNIT_SIZE = select(
    select(func.count()).select_from(_A).where(_A.c.org_unit_id == _UNIT).scalar_subquery()
    + select(func.count()).select_from(_R).where(_R.c.org_unit_id == _UNIT).scalar_subquery()
    + select(func.count()).select_from(_SD).where(_SD.c.org_unit_id == _UNIT).scalar_subquery()
)
UNIT_ACCOUNTS = select(*_A.c).where(_A.c.org_unit_id == _UNIT)
UNIT_ROOMS = select(*_R.c).where(_R.c.org_unit_id == _UNIT)
UNIT_ROUTES = (
    select(_SD.c.domain, *_C.c)
    .select_from(_SD.join(_C, _C.c.id == _SD.c.calendar_connection_id))
    .where(_SD.c.org_unit_id == _UNIT)
)
UNIT_CONFERENCING = select(*_K.c).where(_K.c.org_unit_id == _UNIT, _K.c.state == ConnectionState.ACTIVE.value)
_STATEMENTS = {"exists": UNIT_EXISTS, "size": UNIT_SIZE, "accounts": UNIT_ACCOUNTS, "rooms": UNIT_ROOMS,
               "routes": UNIT_ROUTES, "conferencing": UNIT_CONFERENCING}  # fmt: skip


class UnitRoutes:
    """One unit's routing answer for every email, but the conferencing links."""

    __slots__ = ("token", "accounts", "rooms", "routes", "conferencing", "size")

    def __init__(self, token: Any, accounts: dict[str, Account], rooms: dict[str, Room],
                 routes: dict[str, CalendarConnection], conferencing: list[ConferencingConnection]) -> None:  # fmt: skip
        self.token = token
        self.accounts, self.rooms, self.routes, self.conferencing = accounts, rooms, routes, conferencing
        self.size = len(accounts) + len(rooms) + len(routes)

    def resolution(self, email: str, domain: str, links: dict[str, Any]) -> Resolution:
        """What :data:`sql_routing.RESOLVE` answers for this email (``links`` read beside it)."""
        calendar = self.routes.get(domain)
        room = self.rooms.get(email)
        if room is not None:
            room = replace(room, calendar_connection_id=calendar.id if calendar is not None else "")
        if links:  # only links of the connections held (one made ACTIVE since is not held yet)
            wanted = {c.id for c in self.conferencing}
            links = {cid: link for cid, link in links.items() if cid in wanted}
        return Resolution(self.accounts.get(email), calendar, room, list(self.conferencing), links)


class _Builder:
    """Rows of the ``UNIT_*`` statements → :class:`UnitRoutes` (``convert``: raw sqlite3 values)."""

    def __init__(self, *, convert: bool) -> None:
        self._account = RowSlice(0, _A, convert)
        self._room = RowSlice(0, _R, convert)
        self._calendar = RowSlice(1, _C, convert)
        self._conferencing = RowSlice(0, _K, convert)
        names = [c.name for c in _A.c]
        self._shared = [names.index(n) for n in ("org_unit_id", "directory_connection_id", "time_zone")]
        self._pool: dict[Any, Any] = {}

    def accounts(self, rows: Sequence[Sequence[Any]], into: dict[str, Account]) -> None:
        """Into ``into`` by email; the values most accounts share (unit, directory connection, time
        zone) are kept once, not once per account."""
        values, make, pool = self._account.values, self._account.make, self._pool
        shared = self._shared
        for row in rows:
            parts = values(row)
            for i in shared:
                parts[i] = pool.setdefault(parts[i], parts[i])
            account = account_from_row(make(parts))
            into[account.email] = account

    def build(self, token: Any, accounts: dict[str, Account], room_rows: Sequence[Sequence[Any]],
              route_rows: Sequence[Sequence[Any]], conferencing_rows: Sequence[Sequence[Any]]) -> UnitRoutes:  # fmt: skip
        unit_rooms = {room.email: room for room in (room_from_row(self._room.read(row)) for row in room_rows)}
        calendars: dict[str, CalendarConnection] = {}
        routes = {}
        for row in route_rows:
            calendar_id = row[self._calendar.start]
            if calendar_id not in calendars:
                calendars[calendar_id] = calendar_from_row(self._calendar.read(row))
            routes[row[0]] = calendars[calendar_id]
        conferencing = [conferencing_from_row(self._conferencing.read(row)) for row in conferencing_rows]
        conferencing.sort(key=lambda c: (c.create_time, c.id))
        return UnitRoutes(token, accounts, unit_rooms, routes, conferencing)


_TOO_BIG = object()


async def _cancel(*tasks: asyncio.Task[None] | None) -> None:
    """Cancel the tasks and wait until they have let go of what they hold (connections)."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


class _Signals:
    """How one backend says whether a held unit is current, and loads one."""

    def __init__(self) -> None:
        self._changed: dict[str, float] = {}  # unit → when (time.monotonic) a change was last seen
        self._commits = 0  # commits of this process so far

    def token(self, unit_id: str) -> Any:
        """What a unit's held rows must have been read under to be current; None: trust nothing now."""
        raise NotImplementedError

    def changed_at(self, unit_id: str) -> float:
        """When (``time.monotonic``) a change of the unit was last seen; 0 if never."""
        return self._changed.get(unit_id, 0.0)

    async def load(self, unit_id: str, token: Any, budget: int) -> UnitRoutes | object | None:
        """The unit's rows under ``token``; :data:`_TOO_BIG` over ``budget``; None: no such unit."""
        raise NotImplementedError

    def committed(self) -> None:
        """A transaction of this process committed."""
        self._commits += 1

    async def settle(self) -> None:
        """Bring in what this process's commits signalled (before trusting anything after them)."""

    async def close(self) -> None:
        """Release the connections."""


class _SqliteSignals(_Signals):
    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path
        self._db = ReadOnlySqlite(path)
        self._seen: int | None = None  # data_version the versions were read at
        self._versions: dict[str, int] = {}
        self._checked_commits = 0
        self._checked_at = -FOREIGN_WRITES_SECONDS
        self._statements = {name: SqliteStatement(statement) for name, statement in _STATEMENTS.items()}
        self._builder = _Builder(convert=True)

    def _execute(self, db: sqlite3.Connection, name: str, unit_id: str) -> sqlite3.Cursor:
        statement = self._statements[name]
        return db.execute(statement.sql, {**statement.defaults, "unit": unit_id})

    def token(self, unit_id: str) -> Any:
        now = time.monotonic()
        if self._commits == self._checked_commits and now - self._checked_at < FOREIGN_WRITES_SECONDS:
            return self._versions.get(unit_id, 0)
        self._checked_commits, self._checked_at = self._commits, now
        try:
            data_version = self._db.execute("PRAGMA data_version", ()).fetchone()[0]
            if data_version != self._seen:
                versions = dict(self._db.execute("SELECT org_unit_id, version FROM routing_versions", ()).fetchall())
                if self._seen is not None:
                    for unit, version in versions.items():
                        if self._versions.get(unit) != version:
                            self._changed[unit] = now
                self._versions, self._seen = versions, data_version
        except sqlite3.Error:
            self._db.close()
            self._seen = None
            self._checked_at = -FOREIGN_WRITES_SECONDS  # ask again on the next call
            return None
        return self._versions.get(unit_id, 0)

    async def load(self, unit_id: str, token: Any, budget: int) -> UnitRoutes | object | None:
        return await asyncio.to_thread(self._read, unit_id, token, budget)

    def _read(self, unit_id: str, token: Any, budget: int) -> UnitRoutes | object | None:
        """In a worker thread, on a connection of its own: the version and the rows in one read transaction."""
        db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=1000")
            db.execute("BEGIN")
            row = db.execute("SELECT version FROM routing_versions WHERE org_unit_id = ?", (unit_id,)).fetchone()
            version = row[0] if row else 0
            if version != token:
                return None  # changed since the token was taken: the next call tries again
            if self._execute(db, "exists", unit_id).fetchone() is None:
                return None
            if self._execute(db, "size", unit_id).fetchone()[0] > budget:
                return _TOO_BIG
            held: dict[str, Account] = {}
            cursor = self._execute(db, "accounts", unit_id)
            while rows := cursor.fetchmany(5000):
                self._builder.accounts(rows, held)
            routes = self._builder.build(version, held, *(self._execute(db, name, unit_id).fetchall()
                                                          for name in ("rooms", "routes", "conferencing")))  # fmt: skip
            db.execute("COMMIT")
            return routes
        finally:
            db.close()

    async def close(self) -> None:
        self._db.close()


class _PostgresSignals(_Signals):
    def __init__(self, url: str) -> None:
        super().__init__()
        self._dsn = asyncpg_dsn(url)
        self._listener: asyncpg.Connection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._epoch = 0  # +1 whenever the listener is lost: nothing held before it is trusted
        self._generations: dict[str, int] = {}
        self._settled = 0  # commits of this process whose notifications are in
        self._round_trips = asyncio.Lock()  # one query at a time on the listening connection
        self._confirmed = 0.0  # when the listening connection last answered
        self._checking: asyncio.Task[None] | None = None
        self._statements = {name: DriverStatement(statement) for name, statement in _STATEMENTS.items()}
        self._builder = _Builder(convert=False)
        self._closed = False

    def _query(self, name: str, unit_id: str) -> list[Any]:
        """The statement's SQL text, then its arguments for the unit (``connection.fetch(*query)``)."""
        statement = self._statements[name]
        return [statement.sql, *statement.arguments({"unit": unit_id})]

    def token(self, unit_id: str) -> Any:
        if self._listener is None or self._listener.is_closed():
            self._listen()
            return None
        quiet = time.monotonic() - self._confirmed
        if quiet > LISTENER_CHECK_SECONDS:
            if self._checking is None:
                self._checking = asyncio.get_running_loop().create_task(self._check())
            if quiet > 2 * LISTENER_CHECK_SECONDS:
                return None  # a connection that died without a word would deliver nothing: not trusted
        return (self._epoch, self._generations.get(unit_id, 0))

    async def _check(self) -> None:
        try:
            await self._round_trip()
        finally:
            self._checking = None

    async def _round_trip(self) -> None:
        """One query on the listening connection: every notification committed before it arrives
        first (PostgreSQL sends them ahead of the answer), and the connection is proven alive."""
        async with self._round_trips:
            listener = self._listener
            if listener is None or listener.is_closed():
                return
            epoch = self._epoch
            try:
                await asyncio.wait_for(listener.execute("SELECT 1"), LISTENER_CHECK_SECONDS)
                self._confirmed = time.monotonic()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                if self._epoch == epoch:
                    self._lost(listener)
                listener.terminate()

    def _listen(self) -> None:
        if self._closed or self._connecting is not None or time.monotonic() < self._retry_at:
            return
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        try:
            listener = await asyncpg.connect(self._dsn)
            try:
                await self._start_listening(listener)
            except BaseException:  # cancelled (closing) or failed: the connection goes with it
                listener.terminate()
                raise
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            self._retry_at = time.monotonic() + 5.0
            log.warning("routing cache: cannot listen for changes; answering from the database",
                        extra={"error": type(error).__name__})  # fmt: skip
        finally:
            self._connecting = None

    async def _start_listening(self, listener: asyncpg.Connection) -> None:
        triggers = await listener.fetchval(_TRIGGERS, [f"{table}_routing_changed" for table in SIGNALLING_TABLES])
        if triggers != len(SIGNALLING_TABLES):  # a database not migrated to 0003 would never say a word
            listener.terminate()
            self._closed = True
            log.warning("routing cache off: the database does not signal routing changes (migration 0003)")
            return
        await listener.add_listener(CHANNEL, self._notified)
        listener.add_termination_listener(self._lost)
        self._epoch += 1
        self._listener = listener
        self._confirmed = time.monotonic()
        self._retry_at = 0.0

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._generations[payload] = self._generations.get(payload, 0) + 1
        self._changed[payload] = time.monotonic()

    def _lost(self, connection: Any) -> None:
        if connection is self._listener:
            self._listener = None
            self._epoch += 1
            if not self._closed:
                log.warning("routing cache: lost the connection listening for changes; answering from the database")

    async def settle(self) -> None:
        if self._settled >= self._commits:
            return
        target = self._commits
        await self._round_trip()
        self._settled = max(self._settled, target)

    async def load(self, unit_id: str, token: Any, budget: int) -> UnitRoutes | object | None:
        connection = await asyncpg.connect(self._dsn)
        try:
            routes = await self._read(connection, unit_id, token, budget)
        except BaseException:  # cancelled (closing) or failed: no goodbye owed
            connection.terminate()
            raise
        await connection.close()
        return routes

    async def _read(self, connection: asyncpg.Connection, unit_id: str, token: Any,
                    budget: int) -> UnitRoutes | object | None:  # fmt: skip
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            if await connection.fetchval(*self._query("exists", unit_id)) is None:
                return None
            if await connection.fetchval(*self._query("size", unit_id)) > budget:
                return _TOO_BIG
            held: dict[str, Account] = {}
            cursor = await connection.cursor(*self._query("accounts", unit_id))
            while rows := await cursor.fetch(2000):  # in pieces: the event loop serves calls between them
                self._builder.accounts(rows, held)
            rows = [await connection.fetch(*self._query(name, unit_id)) for name in ("rooms", "routes", "conferencing")]
        return self._builder.build(token, held, *rows)

    async def close(self) -> None:
        self._closed = True
        await _cancel(self._connecting, self._checking)
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()


class RoutingCache:
    """:class:`SqlRoutingReads` with the unit cache in front (see the module docstring)."""

    def __init__(self, reads: SqlRoutingReads, url: str, *, entries: int, quiet_seconds: float) -> None:
        self._reads = reads
        self._entries = entries
        self._quiet = quiet_seconds
        self._signals: _Signals | None = None
        if entries > 0:
            path = sqlite_file(url)
            parsed = make_url(url)
            if path is not None:
                self._signals = _SqliteSignals(path)
            elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "asyncpg":
                self._signals = _PostgresSignals(url)
        self._units: OrderedDict[str, UnitRoutes] = OrderedDict()
        self._held = 0
        self._too_big: dict[str, Any] = {}  # unit → the token it was too big under
        self._loading: dict[str, asyncio.Task[None]] = {}

    def committed(self) -> None:
        """Call after every commit of this process's directory transactions."""
        if self._signals is not None:
            self._signals.committed()

    def held(self, unit_id: str) -> bool:
        """Whether the unit would be answered from memory now (for tests and the benchmark)."""
        signals = self._signals
        routes = self._units.get(unit_id)
        return signals is not None and routes is not None and routes.token == signals.token(unit_id)

    async def loaded(self, unit_id: str) -> None:
        """Wait for a load of the unit in progress, if any."""
        task = self._loading.get(unit_id)
        if task is not None:
            await asyncio.shield(task)

    async def from_database(self, unit_id: str, email: str, domain: str) -> Resolution | None:
        """The answer read from the database, whatever is held."""
        return await self._reads.resolve(unit_id, email, domain)

    async def resolve(self, unit_id: str, email: str, domain: str) -> Resolution | None:
        signals = self._signals
        if signals is not None:
            await signals.settle()
            token = signals.token(unit_id)
            if token is not None:
                routes = self._units.get(unit_id)
                if routes is not None and routes.token == token:
                    self._units.move_to_end(unit_id)
                    links = await self._reads.links(unit_id, email) if routes.conferencing else {}
                    return routes.resolution(email, domain, links)
                if routes is not None:
                    self._forget(unit_id)
                self._load_soon(unit_id, token)
        return await self._reads.resolve(unit_id, email, domain)

    def _forget(self, unit_id: str) -> None:
        routes = self._units.pop(unit_id, None)
        if routes is not None:
            self._held -= routes.size

    def _load_soon(self, unit_id: str, token: Any) -> None:
        assert self._signals is not None
        if unit_id in self._loading or self._too_big.get(unit_id, _TOO_BIG) == token:
            return
        if time.monotonic() - self._signals.changed_at(unit_id) < self._quiet:
            return
        self._loading[unit_id] = asyncio.get_running_loop().create_task(self._load(unit_id, token))

    async def _load(self, unit_id: str, token: Any) -> None:
        assert self._signals is not None
        try:
            routes = await self._signals.load(unit_id, token, self._entries)
        except (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("routing cache: could not load a unit; answering it from the database",
                        extra={"org_unit_id": unit_id, "error": type(error).__name__})  # fmt: skip
            return
        finally:
            self._loading.pop(unit_id, None)
        if routes is _TOO_BIG:
            self._too_big[unit_id] = token
            log.info("routing cache: unit larger than the cache; answered from the database",
                     extra={"org_unit_id": unit_id, "entries": self._entries})  # fmt: skip
        elif isinstance(routes, UnitRoutes) and self._signals.token(unit_id) == token:
            self._forget(unit_id)
            while self._units and self._held + routes.size > self._entries:
                self._forget(next(iter(self._units)))
            self._units[unit_id] = routes
            self._held += routes.size

    async def close(self) -> None:
        await _cancel(*self._loading.values())
        if self._signals is not None:
            await self._signals.close()
        await self._reads.close()
