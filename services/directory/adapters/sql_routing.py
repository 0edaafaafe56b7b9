"""The ResolveAccount fast path: ONE indexed query answers everything — account, calendar route,
room, and the unit's ACTIVE conferencing connections with their stored links for the email (one row
per conferencing connection, the other parts repeated; one row when there is none). No ORM session,
no unit of work, no cached answer: every call reads the current rows. This is what ResolveAccount
reads when :mod:`routing_cache` does not hold the unit (and, with :data:`LINKS`, the one part it
reads per call when it does).

* PostgreSQL: the statement compiled once to SQL text, run on a few asyncpg connections of its own
  (:mod:`kit.pg`: no transaction, prepared once per connection, no pre-ping and nothing reset
  between calls): one round trip per ResolveAccount. This read is not traced as an SQL span (the
  RPC around it is).
* SQLite (the embedded default): the same statement compiled once to SQL text and run on a read-only
  ``sqlite3`` connection in the event loop's thread. An indexed read of a local file takes tens of
  microseconds, far less than handing each call to aiosqlite's worker thread and back; in WAL mode a
  reader never waits for the writer. Should SQLite still report the database busy, the call goes
  through the async engine instead.

Rows are taken apart by position (each table's columns are one slice of the row), converted only
where the part is present; calendar connections (few, and the same for every account of a domain)
are converted once per distinct row content and remembered — keyed by every column, so any change
to the row is a new key.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from kit.db import sqlite_file
from kit.pg import DriverConnections, DriverStatement
from services.directory.adapters.sql_accounts import account_from_row, link_from_row, room_from_row
from services.directory.adapters.sql_common import ReadOnlySqlite
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
from services.directory.domain.model import CalendarConnection, ConferencingConnection, ConnectionState
from services.directory.ports import ConferencingLink, Resolution

_A, _C, _R = accounts.alias("a"), calendar_connections.alias("c"), rooms.alias("r")
_SD, _K, _L = served_domains.alias("sd"), conferencing_connections.alias("k"), conferencing_links.alias("l")
_ACTIVE = ConnectionState.ACTIVE.value

#: The parts of a row, in order: label prefix and (aliased) table.
_PARTS: tuple[tuple[str, Any], ...] = (("a_", _A), ("c_", _C), ("r_", _R), ("k_", _K), ("l_", _L))


def _labelled(table: Any, prefix: str) -> list[Any]:
    return [column.label(f"{prefix}{column.name}") for column in table.c]


#: Everything in one statement. No ORDER BY: the conferencing connections (a few rows) are put in
#: order (create_time, id) in Python, as a sort costs SQLite a temporary B-tree on every call.
RESOLVE = (
    select(
        org_units.c.id,
        _SD.c.calendar_connection_id.label("route_id"),
        *(column for prefix, table in _PARTS for column in _labelled(table, prefix)),
    )
    .select_from(org_units)
    .outerjoin(_A, and_(_A.c.org_unit_id == org_units.c.id, _A.c.email == bindparam("email")))
    .outerjoin(_SD, and_(_SD.c.org_unit_id == org_units.c.id, _SD.c.domain == bindparam("domain")))
    .outerjoin(_C, _C.c.id == _SD.c.calendar_connection_id)
    .outerjoin(_R, and_(_R.c.org_unit_id == org_units.c.id, _R.c.email == bindparam("email")))
    .outerjoin(_K, and_(_K.c.org_unit_id == org_units.c.id, _K.c.state == _ACTIVE))
    .outerjoin(_L, and_(_L.c.conferencing_connection_id == _K.c.id, _L.c.email == bindparam("email")))
    .where(org_units.c.id == bindparam("unit"))
)

#: The stored conferencing links of an email on the unit's ACTIVE conferencing connections (what
#: RESOLVE joins in), for the cache of :mod:`routing_cache`, which keeps everything else.
LINKS = (
    select(*_L.c)
    .select_from(_L)
    .join(_K, _K.c.id == _L.c.conferencing_connection_id)
    .where(_K.c.org_unit_id == bindparam("unit"), _K.c.state == _ACTIVE, _L.c.email == bindparam("email"))
)

_ROUTE = 1  # position of route_id; each part's columns follow in _PARTS order
_TIMES = frozenset(c.name for _, t in _PARTS for c in t.c if c.name.endswith("_time"))


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _sqlite_converter(name: str) -> Callable[[Any], Any] | None:
    """What SQLAlchemy's SQLite types would do to this column: times become aware datetimes, flags bools."""
    if name in _TIMES:
        return _utc
    return bool if name == "revoke_pending" else None


class RowSlice:
    """One table's columns in a row: where they are, and a named tuple to read them by name (what
    the ``*_from_row`` functions take), with the SQLite conversions when the driver is raw sqlite3."""

    def __init__(self, start: int, table: Any, convert: bool) -> None:
        names = [c.name for c in table.c]
        self.start, self.stop = start, start + len(names)
        self.make: Callable[[list[Any]], Any] = namedtuple(f"{table.element.name}_row", names)._make  # type: ignore[attr-defined]
        converters = [_sqlite_converter(n) for n in names] if convert else []
        self.converters = [(i, f) for i, f in enumerate(converters) if f is not None]

    def values(self, row: Sequence[Any]) -> list[Any]:
        values = list(row[self.start : self.stop])
        for i, convert in self.converters:
            if values[i] is not None:
                values[i] = convert(values[i])
        return values

    def read(self, row: Sequence[Any]) -> Any:
        return self.make(self.values(row))


class _Decoder:
    """Rows of :data:`RESOLVE` (plain sequences: sqlite3 tuples, asyncpg records, SQLAlchemy rows)
    → a :class:`Resolution`."""

    def __init__(self, *, convert: bool) -> None:
        start = _ROUTE + 1
        slices = []
        for _, table in _PARTS:
            slices.append(RowSlice(start, table, convert))
            start += len(table.c)
        assert start == len(RESOLVE.selected_columns)
        self._account, self._calendar, self._room, self._conferencing, self._link = slices
        self._calendars: dict[tuple[Any, ...], CalendarConnection] = {}

    def resolution(self, rows: Sequence[Sequence[Any]]) -> Resolution | None:
        if not rows:
            return None
        first = rows[0]
        a, c, r, k, l_ = self._account, self._calendar, self._room, self._conferencing, self._link
        account = account_from_row(a.read(first)) if first[a.start] is not None else None
        calendar = None
        if first[c.start] is not None:
            key = tuple(first[c.start : c.stop])
            calendar = self._calendars.get(key)
            if calendar is None:
                if len(self._calendars) > 1000:
                    self._calendars.clear()
                calendar = self._calendars[key] = calendar_from_row(c.read(first))
        room = None
        if first[r.start] is not None:
            room = replace(room_from_row(r.read(first)), calendar_connection_id=first[_ROUTE] or "")
        connections: list[ConferencingConnection] = []
        links: dict[str, ConferencingLink] = {}
        for row in rows:
            if row[k.start] is None:
                continue
            connection = conferencing_from_row(k.read(row))
            connections.append(connection)
            if row[l_.start] is not None:
                links[connection.id] = link_from_row(l_.read(row))
        if len(connections) > 1:
            connections.sort(key=lambda c: (c.create_time, c.id))
        return Resolution(account, calendar, room, connections, links)


def links_from_rows(rows: Sequence[Sequence[Any]], read: RowSlice) -> dict[str, ConferencingLink]:
    return {link.conferencing_connection_id: link for link in (link_from_row(read.read(row)) for row in rows)}


class SqliteStatement:
    """A Core statement as SQL text for sqlite3 (named parameters) with the defaults of its literals."""

    def __init__(self, statement: Any) -> None:
        compiled = statement.compile(dialect=sqlite.dialect(paramstyle="named"))
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)


class _SqliteReader:
    """The statements as SQL text on a read-only sqlite3 connection (this thread only)."""

    def __init__(self, path: str) -> None:
        self._db = ReadOnlySqlite(path)
        self._statements = {RESOLVE: SqliteStatement(RESOLVE), LINKS: SqliteStatement(LINKS)}

    def rows(self, statement: Any, params: dict[str, str]) -> list[Any]:
        compiled = self._statements[statement]
        return self._db.execute(compiled.sql, {**compiled.defaults, **params}).fetchall()

    def close(self) -> None:
        self._db.close()


class _PostgresReader:
    """The statement on a few asyncpg connections of its own (:mod:`kit.pg`): prepared once per
    connection, no transaction, nothing to reset between calls — one round trip per call."""

    def __init__(self, url: str) -> None:
        self._statements = {RESOLVE: DriverStatement(RESOLVE), LINKS: DriverStatement(LINKS)}
        self._connections = DriverConnections(url, size=10)

    async def rows(self, statement: Any, params: dict[str, str]) -> list[Any]:
        return await self._connections.fetch(self._statements[statement], params)

    async def close(self) -> None:
        await self._connections.close()


class SqlRoutingReads:
    def __init__(self, url: str, engine: AsyncEngine) -> None:
        parsed = make_url(url)
        self._engine = engine
        self._sqlite: _SqliteReader | None = None
        self._postgres: _PostgresReader | None = None
        # raw sqlite3 values need SQLite's conversions; asyncpg's and SQLAlchemy's are converted
        self._decoder = _Decoder(convert=False)
        self._link = RowSlice(0, _L, convert=False)
        self._sqlite_decoder = _Decoder(convert=True)
        self._sqlite_link = RowSlice(0, _L, convert=True)
        path = sqlite_file(url)
        if path is not None:
            self._sqlite = _SqliteReader(path)
        elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "asyncpg":
            self._postgres = _PostgresReader(url)

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._postgres is not None:
            await self._postgres.close()

    async def resolve(self, unit_id: str, email: str, domain: str) -> Resolution | None:
        rows, raw = await self._rows(RESOLVE, {"unit": unit_id, "email": email, "domain": domain})
        return (self._sqlite_decoder if raw else self._decoder).resolution(rows)

    async def links(self, unit_id: str, email: str) -> dict[str, ConferencingLink]:
        """The stored links of ``email`` on the unit's ACTIVE conferencing connections (by connection id)."""
        rows, raw = await self._rows(LINKS, {"unit": unit_id, "email": email})
        return links_from_rows(rows, self._sqlite_link if raw else self._link)

    async def _rows(self, statement: Any, params: dict[str, str]) -> tuple[Sequence[Any], bool]:
        """The statement's rows and whether they are raw sqlite3 values."""
        if self._sqlite is not None:
            try:
                return self._sqlite.rows(statement, params), True
            except sqlite3.OperationalError:
                self._sqlite.close()  # busy or the file changed under us: take the async path this time
        if self._postgres is not None:
            return await self._postgres.rows(statement, params), False
        async with self._engine.connect() as conn:
            return (await conn.execute(statement, params)).all(), False
