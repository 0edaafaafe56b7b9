"""One sync run, from the first page to the end: read, compare, write, offboard (or stop), finish.

The rules are in ``usecases/sync.py`` (runs) and ``domain/sync.py`` (pages); this module carries
them out as fast as the database allows: two bulk reads and at most one write transaction per page,
the next page read while the current one is applied, the lease renewed and the progress written
every few seconds rather than with every page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from kit.clock import Clock, IdGenerator
from kit.errors import AlreadyExists, RendezvousError
from kit.validation import is_email, normalize_email
from services.directory.domain.model import Account, AccountState, ConnectionState, DirectoryConnection, Room
from services.directory.domain.sync import (
    DirectoryRoom,
    DirectoryUser,
    Offboarding,
    PagePlan,
    Scope,
    SyncError,
    SyncRun,
    SyncState,
    decide_offboarding,
    plan_page,
)
from services.directory.ports import (
    CursorExpired,
    DirectoryRead,
    DirectoryReader,
    Identity,
    ListingFailed,
    ReadRequest,
    StateChange,
    UnitOfWork,
    UnitOfWorkFactory,
    UserPage,
)

log = logging.getLogger("rendezvous.directory.sync")
T = TypeVar("T")

CREDENTIAL_REASONS = ("CREDENTIAL_NEEDS_REAUTHORIZATION", "CREDENTIAL_REVOKED", "CREDENTIAL_NOT_FOUND")
STATE_CHUNK = 1000
KEYS_CHUNK = 5000
PROGRESS_EVERY = timedelta(seconds=2)
RENEW_AT_MOST_EVERY = timedelta(seconds=5)
BULK_CHANGE = 1000  # accounts a run must change before the table's statistics are refreshed


@dataclass(frozen=True)
class SyncSettings:
    holder: str  # who takes leases (host and process), for operators reading the lease table
    lease: timedelta = timedelta(minutes=2)
    page_size: int = 999
    full_sync_interval: timedelta = timedelta(hours=24)


class LeaseLost(Exception):
    """The lease was taken over (it expired) or the connection stopped being ACTIVE."""


class SyncRunner:
    """Carries out runs that hold their connection's lease (``SyncUseCases`` starts them)."""

    def __init__(self, uow: UnitOfWorkFactory, reader: DirectoryReader, identity: Identity, clock: Clock,
                 ids: IdGenerator, settings: SyncSettings) -> None:  # fmt: skip
        self._uow = uow
        self._reader = reader
        self._identity = identity
        self._clock = clock
        self._ids = ids
        self._settings = settings
        self._renewed: dict[str, datetime] = {}  # run id -> when its lease was last extended
        self._reported: dict[str, datetime] = {}  # run id -> when its progress was last written

    async def execute(self, run: SyncRun, connection: DirectoryConnection) -> SyncRun:
        """Read, apply, finish; always ends the run and releases the lease."""
        try:
            run = await self._execute(run, connection)
        except LeaseLost:
            run = await self._end(run, SyncState.FAILED, reason="CONNECTION_NOT_ACTIVE",
                                  message="the run stopped: the connection was disconnected or its lease expired")  # fmt: skip
        except Exception as error:  # a bug must still end the run and free the connection
            log.exception("sync run failed", extra={"sync_run_id": run.id})
            run = await self._end(run, SyncState.FAILED, reason="INTERNAL", message=f"internal error ({type(error).__name__})")
        finally:
            self._renewed.pop(run.id, None)
            self._reported.pop(run.id, None)
            async with self._uow() as uow:
                await uow.leases.release(connection.id, run.id)
                await uow.commit()
        return run

    async def _execute(self, run: SyncRun, connection: DirectoryConnection) -> SyncRun:
        try:
            return await self._read_and_apply(run, connection)
        except CursorExpired:
            log.info("sync cursor expired; reading everything", extra={"sync_run_id": run.id})
            run = replace(run, incremental=False)
            return await self._read_and_apply(run, replace(connection, cursor=""))
        except ListingFailed as failure:
            return await self._end(run, SyncState.FAILED, reason=failure.reason, message=failure.message,
                                   stopped_at=failure.stopped_at)  # fmt: skip
        except RendezvousError as error:  # identity could not give a token
            if error.reason in CREDENTIAL_REASONS:
                await self._needs_reauthorization(connection, error.message)
            return await self._end(run, SyncState.FAILED, reason=error.reason, message=error.message)

    async def _read_and_apply(self, run: SyncRun, connection: DirectoryConnection) -> SyncRun:
        async def token(rejected: str = "") -> str:
            return await self._identity.access_token(connection.org_unit_id, connection.credential_id, rejected=rejected)

        await token()  # a credential identity cannot serve fails the run before any read
        cursor = connection.cursor if run.incremental else ""
        read = self._reader.open(
            ReadRequest(connection.provider, connection.org_unit_id, connection.credential_id,
                        connection.api_server_url, cursor, self._settings.page_size), token,
        )  # fmt: skip
        verified = await read.verified_domains()
        scope = Scope(frozenset(connection.domains) & verified if verified is not None else frozenset(connection.domains))
        if not scope.domains:
            return await self._end(run, SyncState.FAILED, reason="DIRECTORY_LISTING_FAILED",
                                   message="none of the connection's domains is a verified domain of the directory")  # fmt: skip
        async with self._uow() as uow:
            active_before = await uow.accounts.count_active(connection.id)
        targets: dict[str, Offboarding] = {}
        listed: set[str] = set()  # account ids a listed user accounts for
        analyzed = 0
        async for page in read_ahead(read.pages()):
            run, plan = await self._apply_page(run, connection, scope, page)
            if run.created_count + run.updated_count >= max(BULK_CHANGE, 4 * analyzed):
                analyzed = run.created_count + run.updated_count  # a first load: keep the planner informed
                await self._refresh_statistics()
            for account_id in plan.kept:
                targets.pop(account_id, None)
            targets.update(plan.offboard)
            if not run.incremental:
                listed.update(plan.accounted_for())
        if not run.incremental:
            await self._add_unlisted(connection, listed, targets)
        run = await self._sync_rooms(run, connection, scope, read)
        decision = decide_offboarding(targets, active_before, connection.max_deactivation_ratio, run.forced)
        run = replace(run, would_deactivate_count=decision.would_deactivate)
        if not decision.allowed:
            return await self._end(run, SyncState.SAFETY_STOPPED, reason="SYNC_SAFETY_STOP", message=decision.message)
        run = await self._offboard(run, connection, targets)
        return await self._succeed(run, connection, read)

    async def _apply_page(self, run: SyncRun, connection: DirectoryConnection, scope: Scope,
                          page: UserPage) -> tuple[SyncRun, PagePlan]:  # fmt: skip
        """One page in one transaction; a page that changes nothing writes nothing (the run's
        progress is written with the pages that change accounts, and every few seconds)."""
        users = page.users
        try:
            async with self._uow() as uow:
                renewed = await self._renew(uow, run, connection)
                by_external = await uow.accounts.by_external_ids(connection.org_unit_id, connection.id, [u.external_id for u in users])
                by_email = await uow.accounts.by_emails(connection.org_unit_id, _emails_to_check(users, by_external))
                now = self._clock.now()
                plan = plan_page(users, connection, scope, by_external, by_email, now, self._ids.new_id)
                await uow.accounts.insert_many(plan.creates)
                await uow.accounts.update_many(plan.updates)
                run = run.counted(plan, len(users))
                if plan.creates or plan.updates or now - self._reported.get(run.id, run.start_time) >= PROGRESS_EVERY:
                    run = replace(run, update_time=now)
                    await uow.runs.update(run)
                    self._reported[run.id] = now
                if renewed or run.update_time == now:
                    await uow.commit()
            return run, plan
        except AlreadyExists:
            # An account made meanwhile (CreateAccount) or emails swapped within the page: apply the
            # page one user at a time, reporting what still clashes.
            return await self._apply_one_by_one(run, connection, scope, page)

    async def _apply_one_by_one(self, run: SyncRun, connection: DirectoryConnection, scope: Scope,
                                page: UserPage) -> tuple[SyncRun, PagePlan]:  # fmt: skip
        total = PagePlan()
        for user in page.users:
            email = normalize_email(user.email)
            try:
                async with self._uow() as uow:
                    await self._renew(uow, run, connection)
                    by_external = await uow.accounts.by_external_ids(connection.org_unit_id, connection.id, [user.external_id])
                    by_email = await uow.accounts.by_emails(connection.org_unit_id, [email] if is_email(email) else [])
                    plan = plan_page([user], connection, scope, by_external, by_email, self._clock.now(), self._ids.new_id)
                    await uow.accounts.insert_many(plan.creates)
                    await uow.accounts.update_many(plan.updates)
                    await uow.commit()
            except AlreadyExists as error:
                plan = PagePlan(errors=[SyncError(user.external_id, user.email, f"not applied: {error.message}")])
            total.creates += plan.creates
            total.updates += plan.updates
            total.offboard.update(plan.offboard)
            total.errors += plan.errors
            total.kept += plan.kept
            total.unchanged += plan.unchanged
        run = replace(run.counted(total, len(page.users)), update_time=self._clock.now())
        async with self._uow() as uow:
            await uow.runs.update(run)
            await uow.commit()
        return run, total

    async def _renew(self, uow: UnitOfWork, run: SyncRun, connection: DirectoryConnection, force: bool = False) -> bool:
        """Extends the lease when a fifth of it has passed (and always when ``force``); raises
        LeaseLost when it was taken over or the connection is no longer ACTIVE. Whether it wrote."""
        now = self._clock.now()
        renewed = self._renewed.get(run.id, run.start_time)
        if not force and now - renewed < min(self._settings.lease / 5, RENEW_AT_MOST_EVERY):
            return False
        if not await uow.leases.renew(connection.id, run.id, now + self._settings.lease):
            raise LeaseLost()
        self._renewed[run.id] = now
        return True

    async def _add_unlisted(self, connection: DirectoryConnection, listed: set[str],
                            targets: dict[str, Offboarding]) -> None:  # fmt: skip
        """After a complete full read: accounts no listed user accounts for are deactivated. Every
        listed account is not deactivated, so when the counts agree there is nothing to look for."""
        async with self._uow() as uow:
            if await uow.accounts.count_live(connection.id) == len(listed):
                return
        after: str | None = None
        while True:
            async with self._uow() as uow:
                keys = await uow.accounts.keys(connection.id, after, KEYS_CHUNK)
            for key in keys:
                if key.id not in listed and key.id not in targets:
                    targets[key.id] = Offboarding(key.state, AccountState.DEACTIVATED)
            if len(keys) < KEYS_CHUNK:
                return
            after = keys[-1].id

    async def _offboard(self, run: SyncRun, connection: DirectoryConnection, targets: dict[str, Offboarding]) -> SyncRun:
        changes = [StateChange(account_id, change.target, self._clock.now()) for account_id, change in targets.items()]
        for start in range(0, len(changes), STATE_CHUNK):
            async with self._uow() as uow:
                await self._renew(uow, run, connection, force=True)
                await uow.accounts.change_states(changes[start : start + STATE_CHUNK])
                await uow.commit()
        deactivated = sum(1 for c in changes if c.state is AccountState.DEACTIVATED)
        return replace(run, deactivated_count=run.deactivated_count + deactivated,
                       updated_count=run.updated_count + len(changes) - deactivated)  # fmt: skip

    async def _sync_rooms(self, run: SyncRun, connection: DirectoryConnection, scope: Scope,
                          read: DirectoryRead) -> SyncRun:  # fmt: skip
        """Rooms are listed whole each run (they are few); a failure is reported, not fatal."""
        try:
            listed = await read.rooms()
        except ListingFailed as failure:
            error = SyncError("", "", f"rooms could not be read: {failure.message}")
            return replace(run, error_count=run.error_count + 1, errors=(run.errors + (error,))[:100])
        if listed is None:
            return run
        now = self._clock.now()
        async with self._uow() as uow:
            await self._renew(uow, run, connection, force=True)
            existing = await uow.rooms.of_connection(connection.id)
            wanted = [r for r in listed if scope.covers(normalize_email(r.email))]
            new, changed = [], []
            for room in wanted:
                current = existing.pop(room.external_id, None)
                updated = _room(room, connection, current, now, self._ids.new_id)
                if current is None:
                    new.append(updated)
                elif replace(updated, update_time=current.update_time) != current:
                    changed.append(updated)
            await uow.rooms.delete_many([r.id for r in existing.values()])
            await uow.rooms.update_many(changed)
            await uow.rooms.insert_many(new)
            await uow.commit()
        return run

    async def _succeed(self, run: SyncRun, connection: DirectoryConnection, read: DirectoryRead) -> SyncRun:
        now = self._clock.now()
        if run.created_count + run.updated_count + run.deactivated_count >= BULK_CHANGE:
            await self._refresh_statistics()
        async with self._uow() as uow:
            current = await uow.directories.get(connection.org_unit_id, connection.id)
            if current is not None and current.state is ConnectionState.ACTIVE:
                await uow.directories.update(
                    replace(current, cursor=read.next_cursor, last_success_time=now, update_time=now,
                            last_full_sync_time=current.last_full_sync_time if run.incremental else now),
                    expected=ConnectionState.ACTIVE,
                )  # fmt: skip
            await uow.commit()
        return await self._end(run, SyncState.SUCCEEDED)

    async def _refresh_statistics(self) -> None:
        async with self._uow() as uow:
            await uow.accounts.refresh_statistics()
            await uow.commit()

    async def _end(self, run: SyncRun, state: SyncState, *, reason: str = "", message: str = "",
                   stopped_at: str = "") -> SyncRun:  # fmt: skip
        run = run.ended(state, self._clock.now(), reason=reason, message=message, stopped_at=stopped_at)
        async with self._uow() as uow:
            await uow.runs.update(run)
            # Free the connection in the same commit: whoever sees the run ended may start the next one.
            await uow.leases.release(run.directory_connection_id, run.id)
            await uow.commit()
        # "created" would clash with the LogRecord attribute of that name (logging raises KeyError).
        log.info("sync run ended", extra={"sync_run_id": run.id, "state": state.value, "listed": run.listed_count,
                                          "created_count": run.created_count, "updated": run.updated_count,
                                          "deactivated": run.deactivated_count, "reason": reason})  # fmt: skip
        return run

    async def _needs_reauthorization(self, connection: DirectoryConnection, message: str) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            current = await uow.directories.get(connection.org_unit_id, connection.id)
            if current is not None:
                await uow.directories.update(
                    replace(current, state=ConnectionState.NEEDS_REAUTHORIZATION, state_message=message,
                            update_time=now), expected=ConnectionState.ACTIVE,
                )  # fmt: skip
            await uow.commit()


def _emails_to_check(users: Sequence[DirectoryUser], by_external: Mapping[str, Account]) -> list[str]:
    """Emails whose current holder matters: users with no account yet (a clash or an account to adopt)
    and renamed users (a clash). An unchanged directory needs none."""
    emails = set()
    for user in users:
        email = normalize_email(user.email)
        existing = by_external.get(user.external_id)
        if (existing is None or existing.email != email) and is_email(email):
            emails.add(email)
    return list(emails)


async def read_ahead(pages: AsyncIterator[T]) -> AsyncIterator[T]:
    """The pages of ``pages``, the next one being read while the caller applies the current one."""

    async def following() -> tuple[bool, T | None]:
        try:
            return True, await anext(pages)
        except StopAsyncIteration:
            return False, None

    pending = asyncio.ensure_future(following())
    try:
        while True:
            more, page = await pending
            if not more:
                return
            pending = asyncio.ensure_future(following())
            yield page  # type: ignore[misc]
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        closer = getattr(pages, "aclose", None)
        if closer is not None:
            await closer()


def _room(room: DirectoryRoom, connection: DirectoryConnection, current: Room | None, now: datetime,
          new_id: Callable[[], str]) -> Room:  # fmt: skip
    return Room(
        id=current.id if current else new_id(),
        org_unit_id=connection.org_unit_id,
        email=normalize_email(room.email),
        display_name=room.display_name[:256],
        capacity=max(room.capacity, 0),
        building=room.building[:256],
        floor_number=room.floor_number,
        directory_connection_id=connection.id,
        external_id=room.external_id,
        create_time=current.create_time if current else now,
        update_time=now,
    )
