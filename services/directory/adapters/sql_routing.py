"""The ResolveAccount fast path: one indexed query for account, calendar route and room (plus one for
conferencing links, only when the unit has an ACTIVE conferencing connection). No ORM session and no
unit of work.

* PostgreSQL: the same statements compiled once to SQL text, run on asyncpg's own small pool (no
  transaction, statements prepared once per connection): half the cost of SQLAlchemy's async layer.
  These two reads are not traced as SQL spans (the RPC around them is).
* SQLite (the embedded default): the same statements compiled once to SQL text and run on a read-only
  ``sqlite3`` connection in the event loop's thread. An indexed read of a local file takes tens of
  microseconds, far less than handing each call to aiosqlite's worker thread and back; in WAL mode a
  reader never waits for the writer. Should SQLite still report the database busy, the call goes
  through the async engine instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
from sqlalchemy import Table, and_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.directory.adapters.sql_accounts import account_from_row, link_from_row, room_from_row
from services.directory.adapters.sql_connections import calendar_from_row, conferencing_from_row
from services.directory.adapters.tables import (
    accounts,
    calendar_connections,
    conferencing_connections,
    conferencing_links,
    org_units,
    rooms,
    served_domains,
)
from services.directory.domain.model import CalendarConnection, ConnectionState
from services.directory.ports import Resolution

_A, _C, _R = accounts.alias("a"), calendar_connections.alias("c"), rooms.alias("r")
_SD = served_domains.alias("sd")
_ACTIVE = ConnectionState.ACTIVE.value


def _labelled(table: Any, prefix: str) -> list[Any]:
    return [column.label(f"{prefix}{column.name}") for column in table.c]


_CONFERENCING_COUNT = (
    select(func.count())
    .where(conferencing_connections.c.org_unit_id == bindparam("unit"), conferencing_connections.c.state == _ACTIVE)
    .scalar_subquery()
)

RESOLVE = (
    select(
        org_units.c.id,
        _CONFERENCING_COUNT.label("conferencing_count"),
        _SD.c.calendar_connection_id.label("route_id"),
        *_labelled(_A, "a_"),
        *_labelled(_C, "c_"),
        *_labelled(_R, "r_"),
    )
    .select_from(org_units)
    .outerjoin(_A, and_(_A.c.org_unit_id == org_units.c.id, _A.c.email == bindparam("email")))
    .outerjoin(_SD, and_(_SD.c.org_unit_id == org_units.c.id, _SD.c.domain == bindparam("domain")))
    .outerjoin(_C, _C.c.id == _SD.c.calendar_connection_id)
    .outerjoin(_R, and_(_R.c.org_unit_id == org_units.c.id, _R.c.email == bindparam("email")))
    .where(org_units.c.id == bindparam("unit"))
)

CONFERENCING = (
    select(*_labelled(conferencing_connections, ""), *_labelled(conferencing_links, "l_"))
    .outerjoin(
        conferencing_links,
        and_(
            conferencing_links.c.conferencing_connection_id == conferencing_connections.c.id,
            conferencing_links.c.email == bindparam("email"),
        ),
    )
    .where(conferencing_connections.c.org_unit_id == bindparam("unit"), conferencing_connections.c.state == _ACTIVE)
    .order_by(conferencing_connections.c.create_time, conferencing_connections.c.id)
)

_TIMES = frozenset(c.name for t in (accounts, calendar_connections, rooms, conferencing_connections, conferencing_links)
                   for c in t.c if c.name.endswith("_time"))  # fmt: skip


_NAMES = {t.name: tuple(c.name for c in t.c) for t in (accounts, calendar_connections, rooms, conferencing_connections,
                                                        conferencing_links)}  # fmt: skip


def _part(row: Any, table: Table, prefix: str) -> SimpleNamespace:
    return SimpleNamespace(**{name: row[prefix + name] for name in _NAMES[table.name]})


def _resolution(row: Any, conferencing_rows: list[Any]) -> Resolution:
    """Domain objects from rows as mappings (column label → value)."""
    account = account_from_row(_part(row, accounts, "a_")) if row["a_id"] is not None else None
    calendar = calendar_from_row(_part(row, calendar_connections, "c_")) if row["c_id"] is not None else None
    room = None
    if row["r_id"] is not None:
        room_row = _part(row, rooms, "r_")
        room_row.calendar_connection_id = row["route_id"]
        room = room_from_row(room_row)
    connections, links = [], {}
    for r in conferencing_rows:
        connection = conferencing_from_row(_part(r, conferencing_connections, ""))
        connections.append(connection)
        if r["l_email"] is not None:
            links[connection.id] = link_from_row(_part(r, conferencing_links, "l_"))
    return Resolution(account, calendar, room, connections, links)


class _SqliteReader:
    """The two statements as SQL text on a read-only sqlite3 connection (this thread only).

    The first statement's row is taken apart by position, each part converted only when present;
    calendar connections (few, and the same for every account of a domain) are converted once per
    distinct row content and remembered.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        dialect = sqlite.dialect(paramstyle="named")
        compiled = [statement.compile(dialect=dialect) for statement in (RESOLVE, CONFERENCING)]
        self._sql = [str(c) for c in compiled]
        self._defaults = [dict(c.params) for c in compiled]
        self._index: list[dict[str, tuple[int, Any]] | None] = [None, None]
        self._calendars: dict[tuple[Any, ...], CalendarConnection] = {}

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, check_same_thread=False)
            connection.execute("PRAGMA busy_timeout=100")
            self._connection = connection
        return self._connection

    def _execute(self, n: int, params: dict[str, str]) -> tuple[sqlite3.Cursor, dict[str, tuple[int, Any]]]:
        cursor = self._open().execute(self._sql[n], {**self._defaults[n], **params})
        index = self._index[n]
        if index is None:
            index = self._index[n] = {d[0]: (i, _converter(d[0])) for i, d in enumerate(cursor.description)}
        return cursor, index

    def resolve(self, params: dict[str, str]) -> Resolution | None:
        cursor, index = self._execute(0, params)
        values = cursor.fetchone()
        if values is None:
            return None
        row = _Row(values, index)
        account = account_from_row(_Part(row, "a_")) if row["a_id"] is not None else None
        calendar = None
        if row["c_id"] is not None:
            start = index["c_id"][0]
            key = values[start : start + len(calendar_connections.c)]
            calendar = self._calendars.get(key)
            if calendar is None:
                if len(self._calendars) > 1000:
                    self._calendars.clear()
                calendar = self._calendars[key] = calendar_from_row(_Part(row, "c_"))
        room = None
        if row["r_id"] is not None:
            room = replace(room_from_row(_Part(row, "r_")), calendar_connection_id=row["route_id"] or "")
        connections, links = [], {}
        if row["conferencing_count"]:
            cursor, index = self._execute(1, params)
            for values in cursor.fetchall():
                r = _Row(values, index)
                connection = conferencing_from_row(_Part(r, ""))
                connections.append(connection)
                if r["l_email"] is not None:
                    links[connection.id] = link_from_row(_Part(r, "l_"))
        return Resolution(account, calendar, room, connections, links)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _Part:
    """The columns of one table in a joined row, read as attributes (what the ``*_from_row``
    functions take)."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Any, prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[self._prefix + name]
        except KeyError:
            raise AttributeError(name) from None


class _Row:
    """A result row read by label, each value converted when it is read (most rows are mostly NULL)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: tuple[Any, ...], index: dict[str, tuple[int, Any]]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, label: str) -> Any:
        position, convert = self._index[label]
        value = self._values[position]
        return convert(value) if convert is not None and value is not None else value


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _converter(label: str) -> Any:
    """What SQLAlchemy's SQLite types would do to this column: times become aware datetimes, flags bools."""
    name = label.split("_", 1)[1] if label[:2] in ("a_", "c_", "r_", "l_") else label
    if name in _TIMES:
        return _utc
    return bool if name == "revoke_pending" else None


class _PostgresReader:
    """The two statements as SQL text on asyncpg's own pool: prepared once per connection, no
    transaction (single reads), rows read by label. Half the cost of going through SQLAlchemy."""

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        dialect = postgresql.asyncpg.dialect()
        compiled = [statement.compile(dialect=dialect) for statement in (RESOLVE, CONFERENCING)]
        self._sql = [str(c) for c in compiled]
        self._order = [list(c.positiontup or ()) for c in compiled]
        self._defaults = [dict(c.params) for c in compiled]

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=10)
        return self._pool

    def _args(self, n: int, params: dict[str, str]) -> list[Any]:
        merged = {**self._defaults[n], **params}
        return [merged[name] for name in self._order[n]]

    async def resolve(self, params: dict[str, str]) -> Resolution | None:
        pool = await self._ready()
        async with pool.acquire() as connection:
            row = await connection.fetchrow(self._sql[0], *self._args(0, params))
            if row is None:
                return None
            conferencing = await connection.fetch(self._sql[1], *self._args(1, params)) if row["conferencing_count"] else []
        return _resolution(row, list(conferencing))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class SqlRoutingReads:
    def __init__(self, url: str, engine: AsyncEngine) -> None:
        parsed = make_url(url)
        self._engine = engine
        self._sqlite: _SqliteReader | None = None
        self._postgres: _PostgresReader | None = None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            self._sqlite = _SqliteReader(str(parsed.database))
        elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "asyncpg":
            self._postgres = _PostgresReader(url)

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._postgres is not None:
            await self._postgres.close()

    async def resolve(self, unit_id: str, email: str, domain: str) -> Resolution | None:
        params = {"unit": unit_id, "email": email, "domain": domain}
        if self._sqlite is not None:
            try:
                return self._sqlite.resolve(params)
            except sqlite3.OperationalError:
                self._sqlite.close()  # busy or the file changed under us: take the async path this time
        if self._postgres is not None:
            return await self._postgres.resolve(params)
        async with self._engine.connect() as conn:
            row = (await conn.execute(RESOLVE, params)).mappings().first()
            if row is None:
                return None
            conferencing = (await conn.execute(CONFERENCING, params)).mappings().all() if row["conferencing_count"] else []
        return _resolution(row, list(conferencing))
