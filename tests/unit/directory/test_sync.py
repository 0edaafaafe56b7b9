import logging
from datetime import timedelta

import pytest

from kit.errors import FailedPrecondition, NotFound
from services.directory.domain.model import (
    AccountSource,
    AccountState,
    ConnectionState,
    Grant,
    Provider,
    Purpose,
)
from services.directory.domain.sync import DirectoryRoom, DirectoryUser, SyncState, SyncTrigger, UserStatus
from services.directory.ports import Credential

from .fakes import FakeUnitOfWork
from .world import World

ACTIVE, SUSPENDED, DELETED = UserStatus.ACTIVE, UserStatus.SUSPENDED, UserStatus.DELETED


def user(n: int, status: UserStatus = ACTIVE, email: str | None = None) -> DirectoryUser:
    return DirectoryUser(f"ext-{n}", email or f"user{n}@contoso.example", f"User {n}", status)


def pages(*users: DirectoryUser, size: int = 2) -> list[list[DirectoryUser]]:
    return [list(users[i : i + size]) for i in range(0, len(users), size)]


@pytest.fixture
async def w():
    world = World()
    world.unit_id = await world.unit()
    world.identity.credentials["ms"] = Credential("ms", Provider.MICROSOFT, Purpose.DIRECTORY, None, True, True)
    done = await world.connections.connect_directory(
        world.unit_id, Provider.MICROSOFT, ["contoso.example"], "ms", Grant.AUTHORIZATION_CODE, "", timedelta(0), 0.5, "", ""
    )
    world.connection_id = done.connection.id
    return world


async def sync(w, *, force=False, full=False):
    run = await w.sync.start(w.unit_id, w.connection_id, force, full, "")
    assert run.state is SyncState.RUNNING
    await w.background.run_all()
    w.clock.advance(timedelta(seconds=1))
    return await w.sync.get_run(w.unit_id, run.id)


def states(w) -> dict[str, AccountState]:
    return {a.external_id: a.state for a in w.tables.accounts.values()}


async def test_onboarding_creates_an_active_account_for_every_active_user_in_the_domains(w):
    w.reader.pages = pages(user(1), user(2), user(3, SUSPENDED), user(4, email="x@other.example"))
    run = await sync(w)
    assert (run.state, run.listed_count, run.created_count, run.incremental) == (SyncState.SUCCEEDED, 4, 2, False)
    assert states(w) == {"ext-1": AccountState.ACTIVE, "ext-2": AccountState.ACTIVE}
    account = next(a for a in w.tables.accounts.values() if a.external_id == "ext-1")
    assert (account.source, account.directory_connection_id, account.email) == (
        AccountSource.MICROSOFT_ENTRA, w.connection_id, "user1@contoso.example")


async def test_each_page_is_compared_with_two_bulk_reads_whatever_its_size(w):
    w.reader.pages = pages(*(user(n) for n in range(10)), size=5)
    await sync(w)
    assert w.uow.db.bulk_reads == 4


async def test_a_rename_updates_the_account_matched_by_directory_id(w):
    w.reader.pages = pages(user(1))
    await sync(w)
    before = next(iter(w.tables.accounts.values()))
    w.reader.pages = pages(user(1, email="renamed@contoso.example"))
    run = await sync(w, full=True)
    after = w.tables.accounts[before.id]
    assert (after.email, run.updated_count, len(w.tables.accounts)) == ("renamed@contoso.example", 1, 1)


async def test_suspended_users_are_suspended_and_come_back_when_active_again(w):
    w.reader.pages = pages(user(1), user(2), user(3), user(4))
    await sync(w)
    w.reader.pages = pages(user(1, SUSPENDED), user(2), user(3), user(4))
    run = await sync(w, full=True)
    assert states(w)["ext-1"] is AccountState.SUSPENDED
    assert (run.updated_count, run.deactivated_count, run.would_deactivate_count) == (1, 0, 1)
    w.reader.pages = pages(user(1), user(2), user(3), user(4))
    await sync(w, full=True)
    assert states(w)["ext-1"] is AccountState.ACTIVE


async def test_users_no_longer_listed_or_deleted_are_deactivated_after_a_full_read(w):
    w.reader.pages = pages(user(1), user(2), user(3), user(4))
    await sync(w)
    w.reader.pages = pages(user(1), user(2, DELETED), user(3))
    run = await sync(w, full=True)
    assert (run.state, run.deactivated_count) == (SyncState.SUCCEEDED, 2)
    assert states(w) == {"ext-1": AccountState.ACTIVE, "ext-2": AccountState.DEACTIVATED,
                         "ext-3": AccountState.ACTIVE, "ext-4": AccountState.DEACTIVATED}  # fmt: skip
    assert all(a.deactivate_time is not None for a in w.tables.accounts.values() if a.state is AccountState.DEACTIVATED)


async def test_a_failure_mid_listing_deactivates_nothing_and_says_where_it_stopped(w):
    w.reader.pages = pages(user(1), user(2), user(3), user(4))
    await sync(w)
    w.reader.pages = pages(user(1), user(5))  # 2, 3, 4 are gone...
    w.reader.pages.append([user(6)])
    w.reader.fail_at_page = 2  # ...but the read never completes
    run = await sync(w, full=True)
    assert (run.state, run.failure_reason, run.stopped_at) == (SyncState.FAILED, "DIRECTORY_LISTING_FAILED", "page 2 (cursor c2)")
    assert run.deactivated_count == 0
    assert states(w)["ext-2"] is AccountState.ACTIVE
    assert states(w)["ext-5"] is AccountState.ACTIVE  # onboarding of the pages read stands


async def test_a_run_that_would_deactivate_too_many_stops_and_force_goes_through(w):
    w.reader.pages = pages(*(user(n) for n in range(10)))
    await sync(w)
    w.reader.pages = pages(*(user(n) for n in range(4)))
    stopped = await sync(w, full=True)
    assert (stopped.state, stopped.failure_reason, stopped.would_deactivate_count, stopped.deactivated_count) == (
        SyncState.SAFETY_STOPPED, "SYNC_SAFETY_STOP", 6, 0)
    assert "6 of 10" in stopped.failure_message
    assert list(states(w).values()).count(AccountState.ACTIVE) == 10
    forced = await sync(w, full=True, force=True)
    assert (forced.state, forced.forced, forced.deactivated_count) == (SyncState.SUCCEEDED, True, 6)


async def test_a_second_run_without_changes_writes_no_account(w):
    w.reader.pages = pages(user(1), user(2), user(3, SUSPENDED))
    await sync(w)
    writes = w.uow.db.account_writes
    run = await sync(w, full=True)
    assert w.uow.db.account_writes == writes
    assert (run.created_count, run.updated_count, run.deactivated_count, run.unchanged_count) == (0, 0, 0, 2)


async def test_an_incremental_run_reads_only_changes_from_the_stored_cursor(w):
    w.reader.pages = pages(user(1), user(2), user(3))
    first = await sync(w)
    assert w.tables.directories[w.connection_id].cursor == "cursor-1"
    w.reader.changes = [[user(2, DELETED), user(4)]]
    run = await sync(w)
    assert (run.incremental, w.reader.reads[-1].cursor) == (True, "cursor-1")
    assert states(w) == {"ext-1": AccountState.ACTIVE, "ext-2": AccountState.DEACTIVATED,
                         "ext-3": AccountState.ACTIVE, "ext-4": AccountState.ACTIVE}  # fmt: skip
    assert first.incremental is False


async def test_an_expired_cursor_restarts_as_a_full_read(w):
    w.reader.pages = pages(user(1), user(2))
    await sync(w)
    w.reader.cursor_expired = True
    w.reader.pages = pages(user(1))
    run = await sync(w)
    assert (run.state, run.incremental, run.deactivated_count) == (SyncState.SUCCEEDED, False, 1)


async def test_a_safety_stopped_or_failed_run_keeps_the_cursor_so_nothing_is_lost(w):
    w.reader.pages = pages(user(1), user(2))
    await sync(w)
    w.reader.changes = [[user(1, DELETED), user(2, DELETED)]]
    stopped = await sync(w)
    assert stopped.state is SyncState.SAFETY_STOPPED
    assert w.tables.directories[w.connection_id].cursor == "cursor-1"
    forced = await sync(w, force=True)
    assert (forced.incremental, forced.deactivated_count) == (True, 2)


async def test_a_second_sync_while_one_runs_is_refused(w):
    w.reader.pages = pages(user(1))
    first = await w.sync.start(w.unit_id, w.connection_id, False, False, "")
    with pytest.raises(FailedPrecondition) as info:
        await w.sync.start(w.unit_id, w.connection_id, False, False, "")
    assert (info.value.reason, info.value.metadata["sync_run_id"]) == ("SYNC_IN_PROGRESS", first.id)
    await w.background.run_all()
    second = await sync(w)
    assert second.state is SyncState.SUCCEEDED


async def test_the_same_request_id_returns_the_same_run(w):
    w.reader.pages = pages(user(1))
    first = await w.sync.start(w.unit_id, w.connection_id, False, False, "once")
    again = await w.sync.start(w.unit_id, w.connection_id, False, False, "once")
    assert again.id == first.id
    assert len(w.background.work) == 1
    await w.background.run_all()


async def test_a_credential_needing_reauthorization_fails_the_run_and_the_connection(w):
    w.identity.token_error = FailedPrecondition("refresh refused", reason="CREDENTIAL_NEEDS_REAUTHORIZATION")
    run = await sync(w)
    assert (run.state, run.failure_reason) == (SyncState.FAILED, "CREDENTIAL_NEEDS_REAUTHORIZATION")
    assert w.tables.directories[w.connection_id].state is ConnectionState.NEEDS_REAUTHORIZATION
    assert w.tables.leases[w.connection_id] == (None, None)


async def test_a_manual_account_with_the_same_email_is_adopted_not_duplicated(w):
    await w.no_access(w.unit_id, "contoso.example")
    manual = await w.accounts.create(w.unit_id, "user1@contoso.example", "", "", "")
    w.reader.pages = pages(user(1))
    run = await sync(w)
    adopted = w.tables.accounts[manual.id]
    assert (len(w.tables.accounts), adopted.source, adopted.external_id, run.updated_count) == (
        1, AccountSource.MICROSOFT_ENTRA, "ext-1", 1)


async def test_an_email_clash_with_another_directorys_account_is_reported_not_applied(w):
    await w.no_access(w.unit_id, "contoso.example")
    w.identity.credentials["g"] = Credential("g", Provider.GOOGLE, Purpose.DIRECTORY, None, True, True)
    other = await w.connections.connect_directory(w.unit_id, Provider.GOOGLE, ["other.example"], "g",
                                                  Grant.AUTHORIZATION_CODE, "", timedelta(0), 0, "", "")  # fmt: skip
    w.reader.pages = pages(DirectoryUser("g-1", "user1@contoso.example", "", ACTIVE))
    run = await w.sync.start(w.unit_id, other.connection.id, False, False, "")
    w.reader.verified = None
    await w.background.run_all()
    w.reader.pages = pages(user(1))
    run = await sync(w)
    assert run.error_count == 0
    w.reader.pages = pages(user(9, email="user1@contoso.example"))
    clash = await sync(w, full=True, force=True)
    assert (clash.error_count, clash.errors[0].external_id) == (1, "ext-9")


async def test_malformed_emails_are_reported_per_user(w):
    w.reader.pages = pages(user(1, email="not an email"), user(2))
    run = await sync(w)
    assert (run.state, run.created_count, run.error_count, run.errors[0].external_id) == (
        SyncState.SUCCEEDED, 1, 1, "ext-1")


async def test_only_verified_domains_of_the_directory_are_onboarded(w):
    w.reader.verified = frozenset({"somewhere-else.example"})
    run = await sync(w)
    assert (run.state, run.failure_reason) == (SyncState.FAILED, "DIRECTORY_LISTING_FAILED")


async def test_rooms_are_synced_with_the_users(w):
    w.reader.rooms = [DirectoryRoom("p1", "Room-1@contoso.example", "Room 1", 8, "B1", 2),
                      DirectoryRoom("p2", "room-2@elsewhere.example", "Room 2", 4, "", None)]  # fmt: skip
    await sync(w)
    assert [(r.email, r.capacity, r.floor_number) for r in w.tables.rooms.values()] == [("room-1@contoso.example", 8, 2)]
    w.reader.rooms = []
    await sync(w)
    assert w.tables.rooms == {}


async def test_the_scheduler_runs_due_connections_through_the_same_lease(w):
    w.reader.pages = pages(user(1))
    assert await w.sync.run_due() == 1
    run = w.tables.runs[w.tables.directories[w.connection_id].last_sync_run_id]
    assert (run.trigger, run.state) == (SyncTrigger.CONNECTED, SyncState.SUCCEEDED)
    assert await w.sync.run_due() == 0  # next one is an hour away
    w.clock.advance(timedelta(hours=1))
    assert await w.sync.run_due() == 1
    assert w.tables.runs[w.tables.directories[w.connection_id].last_sync_run_id].trigger is SyncTrigger.SCHEDULED


async def test_a_disconnected_connection_cannot_be_synced_and_its_runs_are_of_its_unit(w):
    from services.directory.usecases import DIRECTORY

    await w.connections.disconnect(DIRECTORY, w.unit_id, w.connection_id)
    with pytest.raises(FailedPrecondition) as info:
        await w.sync.start(w.unit_id, w.connection_id, False, False, "")
    assert info.value.reason == "CONNECTION_NOT_ACTIVE"
    other = await w.unit("Other")
    with pytest.raises(NotFound):
        await w.sync.start(other, w.connection_id, False, False, "")


async def test_runs_are_listed_newest_first(w):
    ids = [(await sync(w)).id for _ in range(3)]
    first = await w.sync.list_runs(w.unit_id, w.connection_id, 2, "")
    rest = await w.sync.list_runs(w.unit_id, w.connection_id, 2, first.next_page_token)
    assert [r.id for r in first.items + rest.items] == ids[::-1]


async def test_a_bulk_load_refreshes_the_databases_statistics_as_it_grows(w, monkeypatch):
    from services.directory.usecases import sync_run

    monkeypatch.setattr(sync_run, "BULK_CHANGE", 2)
    w.reader.pages = pages(*(user(n) for n in range(12)))
    await sync(w)
    assert w.uow.db.analyzed == 3  # after 2 and 8 accounts (each time 4 times more), and at the end
    await sync(w, full=True)
    assert w.uow.db.analyzed == 3  # nothing changed: nothing to re-estimate


async def test_a_run_ends_succeeded_when_its_summary_is_logged_at_info_level(w, caplog):
    caplog.set_level(logging.INFO, logger="rendezvous.directory.sync")
    w.reader.pages = pages(user(1))
    run = await sync(w)
    assert run.state is SyncState.SUCCEEDED
    ended = next(r for r in caplog.records if r.getMessage() == "sync run ended")
    assert ended.created_count == 1


class CommitLog(FakeUnitOfWork):
    """Records, at every commit, each run's state and who holds each connection's lease."""

    def __init__(self, db=None, log=None) -> None:
        super().__init__(db)
        self.log = [] if log is None else log

    def __call__(self) -> "CommitLog":
        return CommitLog(self.db, self.log)

    async def commit(self) -> None:
        await super().commit()
        t = self.db.tables
        self.log.append(({r.id: r.state for r in t.runs.values()}, {c: h for c, (h, _) in t.leases.items()}))


async def test_a_run_is_seen_ended_only_once_its_connection_is_free_for_the_next_one():
    w = World(uow=CommitLog())
    w.unit_id = await w.unit()
    w.identity.credentials["ms"] = Credential("ms", Provider.MICROSOFT, Purpose.DIRECTORY, None, True, True)
    done = await w.connections.connect_directory(
        w.unit_id, Provider.MICROSOFT, ["contoso.example"], "ms", Grant.AUTHORIZATION_CODE, "", timedelta(0), 0.5, "", ""
    )
    w.connection_id = done.connection.id
    w.reader.pages = pages(user(1))
    run = await sync(w)
    assert run.state is SyncState.SUCCEEDED
    ended = [holders for states, holders in w.uow.log if states.get(run.id) not in (None, SyncState.RUNNING)]
    assert ended and all(holders.get(w.connection_id) != run.id for holders in ended)
