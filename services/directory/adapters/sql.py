"""SQL repositories of units and sync runs, and the unit of work of the directory service."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, event, exc, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kit.db import SqlUnitOfWork
from services.directory.adapters.sql_accounts import (
    SqlAccounts,
    SqlConferencingLinks,
    SqliteSyncLookups,
    SqlRooms,
)
from services.directory.adapters.sql_common import aware, integrity_error, rowcount
from services.directory.adapters.sql_connections import (
    SqlCalendarConnections,
    SqlConferencingConnections,
    SqlDirectoryConnections,
    SqlSyncLeases,
)
from services.directory.adapters.tables import org_units, sync_runs
from services.directory.domain.model import OrganizationalUnit
from services.directory.domain.sync import SyncError, SyncRun, SyncState, SyncTrigger
from services.directory.ports import (
    Accounts,
    CalendarConnections,
    ConferencingConnections,
    ConferencingLinks,
    DirectoryConnections,
    OrganizationalUnits,
    Rooms,
    SyncLeases,
    SyncRuns,
)


def _unit(row: Any) -> OrganizationalUnit:
    return OrganizationalUnit(
        id=row.id,
        display_name=row.display_name,
        invite_sender_address=row.invite_sender_address,
        create_time=aware(row.create_time),  # type: ignore[arg-type]
        update_time=aware(row.update_time),  # type: ignore[arg-type]
        request_id=row.request_id or "",
    )


class SqlOrganizationalUnits:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, unit: OrganizationalUnit) -> None:
        await self._s.execute(
            insert(org_units).values(
                id=unit.id,
                display_name=unit.display_name,
                invite_sender_address=unit.invite_sender_address,
                request_id=unit.request_id or None,
                create_time=unit.create_time,
                update_time=unit.update_time,
            )
        )

    async def get(self, unit_id: str) -> OrganizationalUnit | None:
        row = (await self._s.execute(select(org_units).where(org_units.c.id == unit_id))).first()
        return _unit(row) if row else None

    async def by_request_id(self, request_id: str) -> OrganizationalUnit | None:
        row = (await self._s.execute(select(org_units).where(org_units.c.request_id == request_id))).first()
        return _unit(row) if row else None

    async def list(self, after: str | None, limit: int) -> list[OrganizationalUnit]:
        query = select(org_units).order_by(org_units.c.id).limit(limit)
        if after is not None:
            query = query.where(org_units.c.id > after)
        return [_unit(r) for r in (await self._s.execute(query)).all()]

    async def update(self, unit: OrganizationalUnit) -> None:
        await self._s.execute(
            update(org_units)
            .where(org_units.c.id == unit.id)
            .values(
                display_name=unit.display_name,
                invite_sender_address=unit.invite_sender_address,
                update_time=unit.update_time,
            )
        )


_COUNTS = ("listed_count", "created_count", "updated_count", "deactivated_count", "unchanged_count",
           "would_deactivate_count", "error_count")  # fmt: skip


def _run(row: Any) -> SyncRun:
    return SyncRun(
        id=row.id,
        org_unit_id=row.org_unit_id,
        directory_connection_id=row.directory_connection_id,
        state=SyncState(row.state),
        trigger=SyncTrigger(row.trigger),
        incremental=bool(row.incremental),
        forced=bool(row.forced),
        full_requested=bool(row.full_requested),
        start_time=aware(row.start_time),  # type: ignore[arg-type]
        create_time=aware(row.create_time),  # type: ignore[arg-type]
        update_time=aware(row.update_time),  # type: ignore[arg-type]
        end_time=aware(row.end_time),
        errors=tuple(SyncError(**e) for e in json.loads(row.errors)),
        stopped_at=row.stopped_at,
        failure_reason=row.failure_reason,
        failure_message=row.failure_message,
        request_id=row.request_id or "",
        **{name: getattr(row, name) for name in _COUNTS},
    )


def _run_values(run: SyncRun) -> dict[str, Any]:
    return {
        "state": run.state.value,
        "incremental": run.incremental,
        "errors": json.dumps([{"external_id": e.external_id, "email": e.email, "message": e.message} for e in run.errors]),
        "stopped_at": run.stopped_at,
        "failure_reason": run.failure_reason,
        "failure_message": run.failure_message,
        "end_time": run.end_time,
        "update_time": run.update_time,
        **{name: getattr(run, name) for name in _COUNTS},
    }


class SqlSyncRuns:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, run: SyncRun) -> None:
        await self._s.execute(
            insert(sync_runs).values(
                id=run.id,
                org_unit_id=run.org_unit_id,
                directory_connection_id=run.directory_connection_id,
                trigger=run.trigger.value,
                forced=run.forced,
                full_requested=run.full_requested,
                request_id=run.request_id or None,
                start_time=run.start_time,
                create_time=run.create_time,
                **_run_values(run),
            )
        )

    async def get(self, unit_id: str, run_id: str) -> SyncRun | None:
        query = select(sync_runs).where(sync_runs.c.id == run_id, sync_runs.c.org_unit_id == unit_id)
        row = (await self._s.execute(query)).first()
        return _run(row) if row else None

    async def by_request_id(self, unit_id: str, request_id: str) -> SyncRun | None:
        query = select(sync_runs).where(sync_runs.c.org_unit_id == unit_id, sync_runs.c.request_id == request_id)
        row = (await self._s.execute(query)).first()
        return _run(row) if row else None

    async def list(self, connection_id: str, before: tuple[str, str] | None, limit: int) -> list[SyncRun]:
        """Newest first; ``before`` is (create_time ISO, id) of the previous page's last run."""
        t = sync_runs
        query = select(t).where(t.c.directory_connection_id == connection_id)
        if before is not None:
            when = datetime.fromisoformat(before[0])
            query = query.where(or_(t.c.create_time < when, and_(t.c.create_time == when, t.c.id < before[1])))
        query = query.order_by(t.c.create_time.desc(), t.c.id.desc()).limit(limit)
        return [_run(r) for r in (await self._s.execute(query)).all()]

    async def update(self, run: SyncRun) -> None:
        await self._s.execute(update(sync_runs).where(sync_runs.c.id == run.id).values(**_run_values(run)))

    async def abandon_running(self, connection_id: str, except_run_id: str, at: datetime) -> int:
        """Runs left RUNNING by a replica that died (its lease expired) end FAILED."""
        t = sync_runs
        result = await self._s.execute(
            update(t)
            .where(t.c.directory_connection_id == connection_id, t.c.state == SyncState.RUNNING.value,
                   t.c.id != except_run_id)  # fmt: skip
            .values(state=SyncState.FAILED.value, end_time=at, update_time=at, failure_reason="INTERNAL",
                    failure_message="the run was abandoned: the process running it stopped before it finished")  # fmt: skip
        )
        return rowcount(result)


def plan_each_query(engine: AsyncEngine) -> None:
    """PostgreSQL only: plan every statement for its own parameters.

    Sync asks for up to 999 accounts at a time with ``IN`` lists on a table that grows from empty to
    100,000s of rows during the first run. asyncpg prepares statements, and PostgreSQL would soon
    reuse a generic plan made while the table was empty (a sequential scan) for the rest of the
    connection's life; planning each execution keeps the unique indexes in use.
    """

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET plan_cache_mode = force_custom_plan")
        cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)


class DirectoryUnitOfWork(SqlUnitOfWork):
    units: OrganizationalUnits
    calendars: CalendarConnections
    directories: DirectoryConnections
    conferencing: ConferencingConnections
    leases: SyncLeases
    accounts: Accounts
    rooms: Rooms
    runs: SyncRuns
    links: ConferencingLinks

    def __init__(self, sessions: async_sessionmaker[AsyncSession], lookups: SqliteSyncLookups | None = None,
                 on_commit: Callable[[], None] | None = None) -> None:  # fmt: skip
        super().__init__(sessions)
        self._lookups = lookups
        self._on_commit = on_commit

    async def commit(self) -> None:
        await super().commit()
        if self._on_commit is not None:
            self._on_commit()

    def _open(self, session: AsyncSession) -> None:
        self.units = SqlOrganizationalUnits(session)
        self.calendars = SqlCalendarConnections(session)
        self.directories = SqlDirectoryConnections(session)
        self.conferencing = SqlConferencingConnections(session)
        self.leases = SqlSyncLeases(session)
        self.accounts = SqlAccounts(session, self._lookups)
        self.rooms = SqlRooms(session)
        self.runs = SqlSyncRuns(session)
        self.links = SqlConferencingLinks(session)

    def _integrity_error(self, error: exc.IntegrityError) -> Exception:
        return integrity_error(error)
