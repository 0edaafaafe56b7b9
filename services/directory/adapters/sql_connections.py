"""SQL repositories of calendar, directory and conferencing connections, and the sync leases."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.adapters.sql_common import aware, guarded, rowcount
from services.directory.adapters.tables import (
    calendar_connections,
    conferencing_connections,
    directory_connections,
    directory_domains,
    served_domains,
    sync_leases,
)
from services.directory.domain.model import (
    AccessMode,
    CalendarConnection,
    ConferencingConnection,
    ConferencingService,
    Connection,
    ConnectionState,
    DirectoryConnection,
    Provider,
)

C = TypeVar("C", bound=Connection)


_STATES = {s.value: s for s in ConnectionState}
_PROVIDERS = {p.value: p for p in Provider}
_MODES = {m.value: m for m in AccessMode}


def _common(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "org_unit_id": row.org_unit_id,
        "credential_id": row.credential_id,
        "authorization_id": row.authorization_id,
        "authorization_url": row.authorization_url,
        "state": _STATES[row.state],
        "state_message": row.state_message,
        "create_time": aware(row.create_time),
        "update_time": aware(row.update_time),
        "disconnect_time": aware(row.disconnect_time),
        "request_id": row.request_id or "",
        "revoke_pending": bool(row.revoke_pending),
    }


def _common_values(c: Connection) -> dict[str, Any]:
    return {
        "id": c.id,
        "org_unit_id": c.org_unit_id,
        "credential_id": c.credential_id,
        "authorization_id": c.authorization_id,
        "authorization_url": c.authorization_url,
        "state": c.state.value,
        "state_message": c.state_message,
        "request_id": c.request_id or None,
        "revoke_pending": c.revoke_pending,
        "create_time": c.create_time,
        "update_time": c.update_time,
        "disconnect_time": c.disconnect_time,
    }


def calendar_from_row(row: Any) -> CalendarConnection:
    return CalendarConnection(
        **_common(row),
        provider=_PROVIDERS[row.provider],
        access_mode=_MODES[row.access_mode],
        domains=tuple(row.domains.split()),
    )


def _calendar_values(c: CalendarConnection) -> dict[str, Any]:
    return {**_common_values(c), "provider": c.provider.value, "access_mode": c.access_mode.value,
            "domains": " ".join(c.domains)}  # fmt: skip


def directory_from_row(row: Any) -> DirectoryConnection:
    return DirectoryConnection(
        **_common(row),
        provider=Provider(row.provider),
        domains=tuple(row.domains.split()),
        sync_interval=timedelta(seconds=row.sync_interval_seconds),
        max_deactivation_ratio=row.max_deactivation_ratio,
        api_server_url=row.api_server_url,
        cursor=row.cursor,
        next_sync_time=aware(row.next_sync_time),
        last_sync_run_id=row.last_sync_run_id,
        last_success_time=aware(row.last_success_time),
        last_full_sync_time=aware(row.last_full_sync_time),
    )


def _directory_values(c: DirectoryConnection) -> dict[str, Any]:
    return {
        **_common_values(c),
        "provider": c.provider.value,
        "domains": " ".join(c.domains),
        "sync_interval_seconds": int(c.sync_interval.total_seconds()),
        "max_deactivation_ratio": c.max_deactivation_ratio,
        "api_server_url": c.api_server_url,
        "cursor": c.cursor,
        "next_sync_time": c.next_sync_time,
        "last_sync_run_id": c.last_sync_run_id,
        "last_success_time": c.last_success_time,
        "last_full_sync_time": c.last_full_sync_time,
    }


def conferencing_from_row(row: Any) -> ConferencingConnection:
    return ConferencingConnection(**_common(row), service=ConferencingService(row.service))


def _conferencing_values(c: ConferencingConnection) -> dict[str, Any]:
    return {**_common_values(c), "service": c.service.value}


class SqlConnections(Generic[C]):
    """One table of connections; subclasses name the table and the row conversions."""

    table: Table
    from_row: Callable[[Any], C]
    values: Callable[[C], dict[str, Any]]

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, connection: C) -> None:
        await guarded(self._s, insert(self.table).values(**type(self).values(connection)))

    async def get(self, unit_id: str, connection_id: str) -> C | None:
        t = self.table
        row = (await self._s.execute(select(t).where(t.c.id == connection_id, t.c.org_unit_id == unit_id))).first()
        return type(self).from_row(row) if row else None

    async def by_request_id(self, unit_id: str, request_id: str) -> C | None:
        t = self.table
        row = (await self._s.execute(select(t).where(t.c.org_unit_id == unit_id, t.c.request_id == request_id))).first()
        return type(self).from_row(row) if row else None

    async def list(self, unit_id: str, after: str | None, limit: int, show_disconnected: bool) -> list[C]:
        """Oldest first; ``after`` is the id of the last connection of the previous page."""
        t = self.table
        query = select(t).where(t.c.org_unit_id == unit_id)
        if not show_disconnected:
            query = query.where(t.c.state != ConnectionState.DISCONNECTED.value)
        if after is not None:
            anchor = select(t.c.create_time).where(t.c.id == after).scalar_subquery()
            query = query.where(or_(t.c.create_time > anchor, and_(t.c.create_time == anchor, t.c.id > after)))
        query = query.order_by(t.c.create_time, t.c.id).limit(limit)
        return [type(self).from_row(r) for r in (await self._s.execute(query)).all()]

    async def update(self, connection: C, expected: ConnectionState | None = None) -> bool:
        t = self.table
        statement = update(t).where(t.c.id == connection.id)
        if expected is not None:
            statement = statement.where(t.c.state == expected.value)
        values = type(self).values(connection)
        del values["id"], values["org_unit_id"], values["create_time"], values["request_id"]
        result = await guarded(self._s, statement.values(**values))
        return bool(rowcount(result))

    async def pending_authorization(self, limit: int) -> builtins.list[C]:
        t = self.table
        query = (select(t).where(t.c.state == ConnectionState.PENDING_AUTHORIZATION.value)
                 .order_by(t.c.update_time).limit(limit))  # fmt: skip
        return [type(self).from_row(r) for r in (await self._s.execute(query)).all()]

    async def revoke_pending(self, limit: int) -> builtins.list[C]:
        t = self.table
        query = select(t).where(t.c.revoke_pending.is_(True)).order_by(t.c.update_time).limit(limit)
        return [type(self).from_row(r) for r in (await self._s.execute(query)).all()]


class _Domains:
    """A (org_unit_id, domain) → connection table with a unique constraint."""

    domains_table: Table
    owner_column: str

    _s: AsyncSession

    async def _claim(self, connection: Connection, domains: Sequence[str]) -> None:
        rows = [{"org_unit_id": connection.org_unit_id, "domain": d, self.owner_column: connection.id} for d in domains]
        if rows:
            await guarded(self._s, insert(self.domains_table), rows)

    async def domain_holders(self, unit_id: str, domains: Sequence[str]) -> dict[str, str]:
        t = self.domains_table
        owner = t.c[self.owner_column]
        query = select(t.c.domain, owner).where(t.c.org_unit_id == unit_id, t.c.domain.in_(list(domains)))
        return {r[0]: r[1] for r in (await self._s.execute(query)).all()}

    async def release_domains(self, connection_id: str) -> None:
        t = self.domains_table
        await self._s.execute(delete(t).where(t.c[self.owner_column] == connection_id))


class SqlCalendarConnections(_Domains, SqlConnections[CalendarConnection]):
    table = calendar_connections
    from_row = staticmethod(calendar_from_row)
    values = staticmethod(_calendar_values)
    domains_table = served_domains
    owner_column = "calendar_connection_id"

    async def add(self, connection: CalendarConnection) -> None:
        await super().add(connection)
        await self._claim(connection, connection.domains)

    async def serving(self, unit_id: str, domain: str) -> CalendarConnection | None:
        t, d = calendar_connections, served_domains
        query = select(t).join(d, d.c.calendar_connection_id == t.c.id).where(d.c.org_unit_id == unit_id, d.c.domain == domain)
        row = (await self._s.execute(query)).first()
        return calendar_from_row(row) if row else None


class SqlDirectoryConnections(_Domains, SqlConnections[DirectoryConnection]):
    table = directory_connections
    from_row = staticmethod(directory_from_row)
    values = staticmethod(_directory_values)
    domains_table = directory_domains
    owner_column = "directory_connection_id"

    async def add(self, connection: DirectoryConnection) -> None:
        await super().add(connection)
        await self._claim(connection, connection.domains)
        await self._s.execute(insert(sync_leases).values(directory_connection_id=connection.id))

    async def due(self, now: datetime, limit: int) -> list[DirectoryConnection]:
        t = directory_connections
        query = (select(t).where(t.c.state == ConnectionState.ACTIVE.value, t.c.next_sync_time <= now)
                 .order_by(t.c.next_sync_time).limit(limit))  # fmt: skip
        return [directory_from_row(r) for r in (await self._s.execute(query)).all()]


class SqlConferencingConnections(SqlConnections[ConferencingConnection]):
    table = conferencing_connections
    from_row = staticmethod(conferencing_from_row)
    values = staticmethod(_conferencing_values)

    async def active(self, unit_id: str) -> list[ConferencingConnection]:
        t = conferencing_connections
        query = (select(t).where(t.c.org_unit_id == unit_id, t.c.state == ConnectionState.ACTIVE.value)
                 .order_by(t.c.create_time, t.c.id))  # fmt: skip
        return [conferencing_from_row(r) for r in (await self._s.execute(query)).all()]


class SqlSyncLeases:
    """The lease of a connection is free when ``lease_until`` is unset or in the past; taking it is
    one conditional UPDATE, so two replicas (or two requests) can never both hold it. PostgreSQL
    re-checks the WHERE clause after waiting for a concurrent writer's row lock; SQLite serializes
    writers."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def acquire(self, connection_id: str, run_id: str, holder: str, now: datetime, until: datetime) -> bool:
        t = sync_leases
        result = await self._s.execute(
            update(t)
            .where(t.c.directory_connection_id == connection_id, or_(t.c.lease_until.is_(None), t.c.lease_until < now))
            .values(run_id=run_id, holder=holder, lease_until=until)
        )
        return bool(rowcount(result))

    async def renew(self, connection_id: str, run_id: str, until: datetime) -> bool:
        """False once another run holds the lease or the connection is no longer ACTIVE."""
        t, d = sync_leases, directory_connections
        still_active = (
            select(d.c.id).where(d.c.id == connection_id, d.c.state == ConnectionState.ACTIVE.value).exists()
        )
        result = await self._s.execute(
            update(t)
            .where(t.c.directory_connection_id == connection_id, t.c.run_id == run_id, still_active)
            .values(lease_until=until)
        )
        return bool(rowcount(result))

    async def release(self, connection_id: str, run_id: str) -> None:
        t = sync_leases
        await self._s.execute(
            update(t)
            .where(t.c.directory_connection_id == connection_id, t.c.run_id == run_id)
            .values(run_id=None, holder=None, lease_until=None)
        )

    async def current_run(self, connection_id: str, now: datetime) -> str | None:
        t = sync_leases
        row = (
            await self._s.execute(
                select(t.c.run_id).where(t.c.directory_connection_id == connection_id, t.c.lease_until >= now)
            )
        ).first()
        return row[0] if row else None
