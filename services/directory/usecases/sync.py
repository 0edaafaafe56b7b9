"""Directory sync: SyncDirectory, GetSyncRun, ListSyncRuns and the scheduled runs.

Rules (the page-level ones are in ``domain/sync.py``):

* Two runs of one connection never overlap, whatever the number of replicas: a run starts only by
  taking the connection's lease row with a conditional UPDATE, renews it every few seconds while
  pages go by (the renewal also fails once the connection is no longer ACTIVE, which stops the run)
  and releases it at the end. A second SyncDirectory meanwhile is FAILED_PRECONDITION
  (SYNC_IN_PROGRESS).
* Pages are streamed (the next one is read while the current one is applied): each is compared with
  the accounts it matches in two bulk reads and written in one transaction, so memory does not grow
  with the directory and a page with nothing to change writes nothing.
* Incremental when the directory supports it (Graph delta link, SuccessFactors high-water mark),
  a cursor is stored and no full read is due; otherwise, and when the provider refuses the cursor,
  a full read, which also offboards accounts whose users are no longer listed.
* Offboarding only after the read completed, and not beyond the safety share unless forced; the
  cursor only advances when a run SUCCEEDED, so nothing a stopped or failed run saw is lost.
* Provider throttling is waited out by the provider clients (Retry-After); it fails a run only when
  it outlasts their retries, and then deactivates nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from kit.clock import Clock, IdGenerator
from kit.errors import AlreadyExists, FailedPrecondition, NotFound, Validator
from kit.paging import Page, next_page_token, page_request
from services.directory.domain.model import ConnectionState, DirectoryConnection, Provider
from services.directory.domain.sync import SyncRun, SyncState, SyncTrigger
from services.directory.domain.validation import check_id, check_request_id
from services.directory.ports import Background, DirectoryReader, Identity, UnitOfWorkFactory
from services.directory.usecases.common import check_unit_and_id, connection_not_active, connection_not_found
from services.directory.usecases.connections import DIRECTORY, ConnectionsUseCases
from services.directory.usecases.sync_run import SyncRunner, SyncSettings

__all__ = ["SyncSettings", "SyncUseCases"]

INCREMENTAL_PROVIDERS = (Provider.MICROSOFT, Provider.SUCCESSFACTORS)


class SyncUseCases:
    def __init__(self, uow: UnitOfWorkFactory, reader: DirectoryReader, identity: Identity,
                 connections: ConnectionsUseCases, background: Background, clock: Clock, ids: IdGenerator,
                 settings: SyncSettings) -> None:  # fmt: skip
        self._uow = uow
        self._connections = connections
        self._background = background
        self._clock = clock
        self._ids = ids
        self._settings = settings
        self._runner = SyncRunner(uow, reader, identity, clock, ids, settings)

    # ------------------------------------------------------------------------------------- RPCs

    async def start(self, unit_id: str, connection_id: str, force: bool, full: bool, request_id: str) -> SyncRun:
        """A RUNNING run of an ACTIVE connection; the run goes on after the call returns."""
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        check_id(v, connection_id, "directory_connection_id")
        check_request_id(v, request_id)
        v.raise_if_any()
        async with self._uow() as uow:
            connection = await uow.directories.get(unit_id, connection_id)
            if connection is None:
                raise connection_not_found("directory", connection_id)
            if request_id:
                earlier = await uow.runs.by_request_id(unit_id, request_id)
                if earlier is not None:
                    if (earlier.directory_connection_id, earlier.forced, earlier.full_requested) != (connection_id, force, full):
                        raise AlreadyExists("request_id was already used for a different sync",
                                            reason="REQUEST_ID_CONFLICT", metadata={"request_id": request_id})  # fmt: skip
                    return earlier
        connection = await self._connections.refresh(DIRECTORY, connection)
        if connection.state is not ConnectionState.ACTIVE:
            raise connection_not_active(connection)
        run = await self._begin(connection, SyncTrigger.MANUAL, force, full, request_id)
        self._background.spawn(self.execute(run, connection))
        return run

    async def get_run(self, unit_id: str, run_id: str) -> SyncRun:
        check_unit_and_id(unit_id, run_id, "sync_run_id")
        async with self._uow() as uow:
            run = await uow.runs.get(unit_id, run_id)
        if run is None:
            raise NotFound(f"sync run {run_id!r} does not exist in this unit", reason="SYNC_RUN_NOT_FOUND",
                           metadata={"sync_run_id": run_id})  # fmt: skip
        return run

    async def list_runs(self, unit_id: str, connection_id: str, page_size: int, page_token: str) -> Page[SyncRun]:
        """Newest first."""
        check_unit_and_id(unit_id, connection_id, "directory_connection_id")
        query = f"runs:{unit_id}:{connection_id}"
        page = page_request(page_size, page_token, default=20, maximum=100, query=query)
        async with self._uow() as uow:
            if await uow.directories.get(unit_id, connection_id) is None:
                raise connection_not_found("directory", connection_id)
            before = tuple(page.after) if page.after else None
            items = await uow.runs.list(connection_id, before, page.size + 1)
        more = len(items) > page.size
        items = items[: page.size]
        token = next_page_token([items[-1].create_time.isoformat(), items[-1].id], query=query) if more else ""
        return Page(items, token)

    async def last_run(self, connection: DirectoryConnection) -> SyncRun | None:
        if not connection.last_sync_run_id:
            return None
        async with self._uow() as uow:
            return await uow.runs.get(connection.org_unit_id, connection.last_sync_run_id)

    # -------------------------------------------------------------------------------- schedule

    async def run_due(self, limit: int = 10) -> int:
        """Background: run (one after another) the ACTIVE connections whose next sync is due;
        connections another replica is syncing are skipped. How many runs ended."""
        async with self._uow() as uow:
            due = await uow.directories.due(self._clock.now(), limit)
        ran = 0
        for connection in due:
            trigger = SyncTrigger.SCHEDULED if connection.last_sync_run_id else SyncTrigger.CONNECTED
            try:
                run = await self._begin(connection, trigger, False, False, "")
            except FailedPrecondition:
                continue
            await self.execute(run, connection)
            ran += 1
        return ran

    # ------------------------------------------------------------------------------------ a run

    async def _begin(self, connection: DirectoryConnection, trigger: SyncTrigger, force: bool, full: bool,
                     request_id: str) -> SyncRun:  # fmt: skip
        now = self._clock.now()
        run = SyncRun(
            id=self._ids.new_id(), org_unit_id=connection.org_unit_id, directory_connection_id=connection.id,
            state=SyncState.RUNNING, trigger=trigger, incremental=self._incremental(connection, full, now),
            forced=force, full_requested=full, start_time=now, create_time=now, update_time=now,
            request_id=request_id,
        )  # fmt: skip
        async with self._uow() as uow:
            if not await uow.leases.acquire(connection.id, run.id, self._settings.holder, now, now + self._settings.lease):
                running = await uow.leases.current_run(connection.id, now) or ""
                raise FailedPrecondition(
                    f"directory connection {connection.id!r} is being synced already",
                    reason="SYNC_IN_PROGRESS",
                    metadata={"directory_connection_id": connection.id, "sync_run_id": running},
                )
            await uow.runs.abandon_running(connection.id, run.id, now)
            await uow.runs.add(run)
            current = await uow.directories.get(connection.org_unit_id, connection.id)
            if current is not None:
                await uow.directories.update(
                    replace(current, last_sync_run_id=run.id, next_sync_time=now + current.sync_interval,
                            update_time=now), expected=ConnectionState.ACTIVE,
                )  # fmt: skip
            await uow.commit()
        return run

    def _incremental(self, connection: DirectoryConnection, full: bool, now: datetime) -> bool:
        if full or not connection.cursor or connection.provider not in INCREMENTAL_PROVIDERS:
            return False
        last_full = connection.last_full_sync_time
        return last_full is not None and now - last_full < self._settings.full_sync_interval
    async def execute(self, run: SyncRun, connection: DirectoryConnection) -> SyncRun:
        """Carry out a run begun here (the scheduler waits for it; SyncDirectory does not)."""
        return await self._runner.execute(run, connection)
