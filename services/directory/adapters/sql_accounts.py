"""SQL repositories of accounts, rooms and conferencing links.

The bulk methods are what makes a 100,000-user sync fast: one SELECT per page (``IN`` over the
page's ids or emails) and one ``executemany`` INSERT/UPDATE per page, never a query per user.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import sqlite_file
from services.directory.adapters.sql_common import ReadOnlySqlite, aware, chunks, guarded
from services.directory.adapters.tables import accounts, conferencing_links, rooms, served_domains
from services.directory.domain.model import Account, AccountSource, AccountState, Room
from services.directory.ports import AccountKey, ConferencingLink, StateChange

_ACCOUNT_COLUMNS = [c for c in accounts.c if c.name != "request_id"]
_STATES = {s.value: s for s in AccountState}
_SOURCES = {s.value: s for s in AccountSource}


def account_from_row(row: Any) -> Account:
    return Account(
        id=row.id,
        org_unit_id=row.org_unit_id,
        email=row.email,
        display_name=row.display_name,
        time_zone=row.time_zone,
        state=_STATES[row.state],
        source=_SOURCES[row.source],
        external_id=row.external_id or "",
        directory_connection_id=row.directory_connection_id or "",
        create_time=aware(row.create_time),  # type: ignore[arg-type]
        update_time=aware(row.update_time),  # type: ignore[arg-type]
        deactivate_time=aware(row.deactivate_time),
    )


def _utc(value: Any) -> Any:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


_SYNC_COLUMNS = [accounts.c[name] for name in ("id", "email", "display_name", "state", "source", "external_id",
                                                 "directory_connection_id", "deactivate_time")]  # fmt: skip
_NOT_LOADED = datetime(1970, 1, 1, tzinfo=UTC)


def sync_view(unit_id: str, row: Any) -> Account:
    """An account as sync compares and updates it, from a row of ``_SYNC_COLUMNS`` taken apart by
    position: time_zone, create_time and update_time are not loaded (sync never writes them; it
    reads 100,000s of these, and parsing SQLite's time text is most of the cost)."""
    (id_, email, name, state, source, external_id, connection, deactivated) = row
    return Account(id_, unit_id, email, name, "", _STATES[state], _SOURCES[source], external_id or "", connection or "",
                   _NOT_LOADED, _NOT_LOADED, _utc(deactivated))  # fmt: skip


def _account_values(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "org_unit_id": a.org_unit_id,
        "email": a.email,
        "display_name": a.display_name,
        "time_zone": a.time_zone,
        "state": a.state.value,
        "source": a.source.value,
        "external_id": a.external_id or None,
        "directory_connection_id": a.directory_connection_id or None,
        "create_time": a.create_time,
        "update_time": a.update_time,
        "deactivate_time": a.deactivate_time,
    }


_UPDATE_ACCOUNT = (
    update(accounts)
    .where(accounts.c.id == bindparam("b_id"))
    .values(
        email=bindparam("b_email"),
        display_name=bindparam("b_display_name"),
        state=bindparam("b_state"),
        source=bindparam("b_source"),
        external_id=bindparam("b_external_id"),
        directory_connection_id=bindparam("b_directory_connection_id"),
        update_time=bindparam("b_update_time"),
        deactivate_time=bindparam("b_deactivate_time"),
    )
)

_CHANGE_STATE = (
    update(accounts)
    .where(accounts.c.id == bindparam("b_id"))
    .values(state=bindparam("b_state"), update_time=bindparam("b_at"), deactivate_time=bindparam("b_deactivate_time"))
)


class SqliteSyncLookups:
    """Sync's bulk lookups (``by_external_ids``, ``by_emails``) as SQL text on a read-only sqlite3
    connection of their own, run on the event loop's thread.

    Through SQLAlchemy and aiosqlite each 900-value lookup costs ~4 times what SQLite needs for it
    (a hop to aiosqlite's thread and back, rows made twice, both threads contending for the GIL
    with the listing being read ahead): most of a no-change resync of 100,000 users. The reads see
    what is committed (WAL: they never wait for a writer) — what the unit of work would see, since
    sync reads a page's accounts before it writes any. ``sqlite3.OperationalError`` (busy, the file
    replaced) is the caller's cue to take the unit of work's own path instead.
    """

    _SELECT = "SELECT " + ", ".join(c.name for c in _SYNC_COLUMNS) + " FROM accounts WHERE "

    def __init__(self, path: str) -> None:
        self._db = ReadOnlySqlite(path)

    def by_external_ids(self, unit_id: str, connection_id: str, external_ids: Sequence[str]) -> dict[str, Account]:
        found = self._find(unit_id, "directory_connection_id", connection_id, "external_id", external_ids)
        return {a.external_id: a for a in found}

    def by_emails(self, unit_id: str, emails: Sequence[str]) -> dict[str, Account]:
        return {a.email: a for a in self._find(unit_id, "org_unit_id", unit_id, "email", emails)}

    def _find(self, unit_id: str, scope: str, scope_value: str, column: str, values: Sequence[str]) -> list[Account]:
        """Accounts whose ``scope`` column is ``scope_value`` and whose ``column`` is one of ``values``."""
        found = []
        for part in chunks(list(values)):
            sql = f"{self._SELECT}{scope} = ? AND {column} IN ({','.join('?' * len(part))})"
            found += [sync_view(unit_id, _with_time(row)) for row in self._db.execute(sql, (scope_value, *part))]
        return found

    def close(self) -> None:
        self._db.close()

    async def aclose(self) -> None:
        """``close`` as a stop hook of the server."""
        self.close()


def sqlite_sync_lookups(url: str) -> SqliteSyncLookups | None:
    """Direct lookups for a SQLite database file (None for PostgreSQL or an in-memory database)."""
    path = sqlite_file(url)
    return SqliteSyncLookups(path) if path is not None else None


def _with_time(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A raw sqlite3 row of ``_SYNC_COLUMNS``: deactivate_time (last) is the text SQLAlchemy stored."""
    deactivated = row[-1]
    return row if deactivated is None else (*row[:-1], datetime.fromisoformat(deactivated).replace(tzinfo=UTC))


class SqlAccounts:
    def __init__(self, session: AsyncSession, lookups: SqliteSyncLookups | None = None) -> None:
        self._s = session
        self._lookups = lookups

    async def add(self, account: Account) -> None:
        await guarded(self._s, insert(accounts).values(**_account_values(account), request_id=account.request_id or None))

    async def get(self, unit_id: str, account_id: str) -> Account | None:
        query = select(*_ACCOUNT_COLUMNS).where(accounts.c.id == account_id, accounts.c.org_unit_id == unit_id)
        row = (await self._s.execute(query)).first()
        return account_from_row(row) if row else None

    async def by_request_id(self, unit_id: str, request_id: str) -> Account | None:
        query = select(*_ACCOUNT_COLUMNS).where(accounts.c.org_unit_id == unit_id, accounts.c.request_id == request_id)
        row = (await self._s.execute(query)).first()
        return account_from_row(row) if row else None

    async def with_email(self, unit_id: str, email: str) -> Account | None:
        query = select(*_ACCOUNT_COLUMNS).where(accounts.c.org_unit_id == unit_id, accounts.c.email == email)
        row = (await self._s.execute(query)).first()
        return account_from_row(row) if row else None

    async def list(self, unit_id: str, state: AccountState | None, connection_id: str,
                   after_email: str | None, limit: int) -> list[Account]:  # fmt: skip
        a = accounts
        query = select(*_ACCOUNT_COLUMNS).where(a.c.org_unit_id == unit_id)
        if state is not None:
            query = query.where(a.c.state == state.value)
        if connection_id:
            query = query.where(a.c.directory_connection_id == connection_id)
        if after_email is not None:
            query = query.where(a.c.email > after_email)
        query = query.order_by(a.c.email).limit(limit)
        return [account_from_row(r) for r in (await self._s.execute(query)).all()]

    async def by_external_ids(self, unit_id: str, connection_id: str, external_ids: Sequence[str]) -> dict[str, Account]:
        """Sync views (see ``sync_view``) of the connection's accounts with these directory ids."""
        if self._lookups is not None:
            try:
                return self._lookups.by_external_ids(unit_id, connection_id, external_ids)
            except sqlite3.OperationalError:
                self._lookups.close()  # busy or replaced: this time through the unit of work
        found: dict[str, Account] = {}
        for part in chunks(list(external_ids)):
            query = select(*_SYNC_COLUMNS).where(
                accounts.c.directory_connection_id == connection_id, accounts.c.external_id.in_(part)
            )
            for row in (await self._s.execute(query)).all():
                account = sync_view(unit_id, row)
                found[account.external_id] = account
        return found

    async def by_emails(self, unit_id: str, emails: Sequence[str]) -> dict[str, Account]:
        """Sync views (see ``sync_view``) of the unit's accounts with these emails."""
        if self._lookups is not None:
            try:
                return self._lookups.by_emails(unit_id, emails)
            except sqlite3.OperationalError:
                self._lookups.close()
        found: dict[str, Account] = {}
        for part in chunks(list(emails)):
            query = select(*_SYNC_COLUMNS).where(accounts.c.org_unit_id == unit_id, accounts.c.email.in_(part))
            for row in (await self._s.execute(query)).all():
                account = sync_view(unit_id, row)
                found[account.email] = account
        return found

    async def insert_many(self, new: Sequence[Account]) -> None:
        if new:
            await guarded(self._s, insert(accounts), [_account_values(a) for a in new])

    async def update_many(self, changed: Sequence[Account]) -> None:
        if not changed:
            return
        rows = [
            {
                "b_id": a.id,
                "b_email": a.email,
                "b_display_name": a.display_name,
                "b_state": a.state.value,
                "b_source": a.source.value,
                "b_external_id": a.external_id or None,
                "b_directory_connection_id": a.directory_connection_id or None,
                "b_update_time": a.update_time,
                "b_deactivate_time": a.deactivate_time,
            }
            for a in changed
        ]
        await guarded(self._s, _UPDATE_ACCOUNT, rows)

    async def change_states(self, changes: Sequence[StateChange]) -> None:
        if not changes:
            return
        rows = [
            {"b_id": c.account_id, "b_state": c.state.value, "b_at": c.at,
             "b_deactivate_time": c.at if c.state is AccountState.DEACTIVATED else None}  # fmt: skip
            for c in changes
        ]
        await self._s.execute(_CHANGE_STATE, rows)

    async def count_active(self, connection_id: str) -> int:
        query = select(func.count()).where(
            accounts.c.directory_connection_id == connection_id, accounts.c.state == AccountState.ACTIVE.value
        )
        return int((await self._s.execute(query)).scalar_one())

    async def refresh_statistics(self) -> None:
        """PostgreSQL: ANALYZE, so that the planner knows how many accounts a connection has right
        after its first sync (autovacuum may come much later); SQLite's planner needs no statistics
        to use the unique indexes."""
        if self._s.get_bind().dialect.name == "postgresql":
            await self._s.execute(text("ANALYZE accounts"))

    async def count_live(self, connection_id: str) -> int:
        """Accounts of the connection that are not DEACTIVATED."""
        query = select(func.count()).where(
            accounts.c.directory_connection_id == connection_id, accounts.c.state != AccountState.DEACTIVATED.value
        )
        return int((await self._s.execute(query)).scalar_one())

    async def keys(self, connection_id: str, after_id: str | None, limit: int) -> builtins.list[AccountKey]:
        """Not-deactivated accounts of a connection, by id, a slice at a time."""
        a = accounts
        query = select(a.c.id, a.c.external_id, a.c.state).where(
            a.c.directory_connection_id == connection_id, a.c.state != AccountState.DEACTIVATED.value
        )
        if after_id is not None:
            query = query.where(a.c.id > after_id)
        query = query.order_by(a.c.id).limit(limit)
        return [AccountKey(r[0], r[1] or "", _STATES[r[2]]) for r in (await self._s.execute(query)).all()]


def room_from_row(row: Any) -> Room:
    return Room(
        id=row.id,
        org_unit_id=row.org_unit_id,
        email=row.email,
        display_name=row.display_name,
        capacity=row.capacity,
        building=row.building,
        floor_number=row.floor_number,
        directory_connection_id=row.directory_connection_id,
        external_id=row.external_id,
        create_time=aware(row.create_time),  # type: ignore[arg-type]
        update_time=aware(row.update_time),  # type: ignore[arg-type]
        calendar_connection_id=getattr(row, "calendar_connection_id", None) or "",
    )


def _room_values(r: Room) -> dict[str, Any]:
    return {
        "id": r.id,
        "org_unit_id": r.org_unit_id,
        "email": r.email,
        "domain": r.email.rsplit("@", 1)[-1],
        "display_name": r.display_name,
        "capacity": r.capacity,
        "building": r.building,
        "floor_number": r.floor_number,
        "directory_connection_id": r.directory_connection_id,
        "external_id": r.external_id,
        "create_time": r.create_time,
        "update_time": r.update_time,
    }


def rooms_with_route() -> Any:
    """Rooms joined with the calendar connection serving their domain (if any)."""
    return select(rooms, served_domains.c.calendar_connection_id).outerjoin(
        served_domains, (served_domains.c.org_unit_id == rooms.c.org_unit_id) & (served_domains.c.domain == rooms.c.domain)
    )


class SqlRooms:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def list(self, unit_id: str, after_email: str | None, limit: int) -> list[Room]:
        query = rooms_with_route().where(rooms.c.org_unit_id == unit_id)
        if after_email is not None:
            query = query.where(rooms.c.email > after_email)
        query = query.order_by(rooms.c.email).limit(limit)
        return [room_from_row(r) for r in (await self._s.execute(query)).all()]

    async def of_connection(self, connection_id: str) -> dict[str, Room]:
        query = select(rooms).where(rooms.c.directory_connection_id == connection_id)
        return {r.external_id: room_from_row(r) for r in (await self._s.execute(query)).all()}

    async def with_emails(self, unit_id: str, emails: Sequence[str]) -> dict[str, Room]:
        found: dict[str, Room] = {}
        for part in chunks(list(emails)):
            query = select(rooms).where(rooms.c.org_unit_id == unit_id, rooms.c.email.in_(part))
            found.update({r.email: room_from_row(r) for r in (await self._s.execute(query)).all()})
        return found

    async def insert_many(self, new: Sequence[Room]) -> None:
        if new:
            await guarded(self._s, insert(rooms), [_room_values(r) for r in new])

    async def update_many(self, changed: Sequence[Room]) -> None:
        if not changed:
            return
        statement = (
            update(rooms)
            .where(rooms.c.id == bindparam("b_id"))
            .values(**{k: bindparam(f"b_{k}") for k in ("email", "domain", "display_name", "capacity", "building",
                                                         "floor_number", "update_time")})  # fmt: skip
        )
        rows = [{f"b_{k}": v for k, v in _room_values(r).items() if k not in ("org_unit_id", "directory_connection_id",
                                                                               "external_id", "create_time")}
                for r in changed]  # fmt: skip
        await guarded(self._s, statement, rows)

    async def delete_many(self, room_ids: Sequence[str]) -> None:
        for part in chunks(list(room_ids)):
            await self._s.execute(delete(rooms).where(rooms.c.id.in_(part)))


class SqlConferencingLinks:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, connection_ids: Sequence[str], email: str) -> dict[str, ConferencingLink]:
        t = conferencing_links
        query = select(t).where(t.c.conferencing_connection_id.in_(list(connection_ids)), t.c.email == email)
        return {r.conferencing_connection_id: link_from_row(r) for r in (await self._s.execute(query)).all()}

    async def put(self, link: ConferencingLink) -> None:
        """Insert or replace in one statement: concurrent resolves of one email (availability and
        booking ask at once) both store their answer instead of one failing on the primary key."""
        t = conferencing_links
        values = {"external_user_id": link.external_user_id, "resolve_time": link.resolve_time}
        make_insert = postgresql_insert if self._s.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = make_insert(t).values(conferencing_connection_id=link.conferencing_connection_id,
                                          email=link.email, **values)  # fmt: skip
        await self._s.execute(statement.on_conflict_do_update(
            index_elements=[t.c.conferencing_connection_id, t.c.email], set_=values))  # fmt: skip


def link_from_row(row: Any) -> ConferencingLink:
    return ConferencingLink(
        conferencing_connection_id=row.conferencing_connection_id,
        email=row.email,
        external_user_id=row.external_user_id,
        resolve_time=aware(row.resolve_time),  # type: ignore[arg-type]
    )
