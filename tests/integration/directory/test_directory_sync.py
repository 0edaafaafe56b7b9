"""Directory sync against the sandbox over HTTP, for Google Workspace, Microsoft Graph and SAP
SuccessFactors, on SQLite and PostgreSQL: onboarding, rename, suspension, deletion, the safety stop,
a failure mid-listing, a second run that writes nothing, and throttling honoured."""

from __future__ import annotations

import asyncio
from datetime import datetime

import grpc
import pytest

from rendezvous.common.v1 import common_pb2 as common
from rendezvous.directory.v1 import directory_resources_pb2 as res
from rendezvous.directory.v1 import directory_service_pb2 as pb
from services.directory.adapters.identity_grpc import peer_error

from .drivers import DRIVERS, MICROSOFT, SUCCESSFACTORS, Driver

ACTIVE, SUSPENDED, DEACTIVATED = res.Account.STATE_ACTIVE, res.Account.STATE_SUSPENDED, res.Account.STATE_DEACTIVATED
SUCCEEDED, FAILED, STOPPED = res.SyncRun.STATE_SUCCEEDED, res.SyncRun.STATE_FAILED, res.SyncRun.STATE_SAFETY_STOPPED

by_directory = pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: d.name)


async def onboard(directory, standin, driver: Driver, sandbox, ratio: float = 0.5):
    unit = await directory.unit()
    connection = await driver.connect(directory, standin, unit, ratio)
    run = await directory.sync(unit, connection)
    assert run.state == SUCCEEDED, run.failure_message
    truth = await driver.truth(sandbox.base_url, standin, unit)
    return unit, connection, truth


@by_directory
async def test_onboarding_gives_every_active_user_in_the_domain_an_active_account(directory, standin, sandbox, driver):
    unit, connection, truth = await onboard(directory, standin, driver, sandbox)
    accounts = await directory.accounts(unit)
    assert {ext for ext, t in truth.items() if t.active} == set(accounts)
    assert any(not t.active for t in truth.values()), "the fixture should have an inactive user to leave out"
    for ext, account in accounts.items():
        assert (account.email, account.state, account.directory_connection_id) == (truth[ext].email, ACTIVE, connection)
    got = await directory.call("GetDirectoryService", pb.GetDirectoryServiceRequest(
        org_unit_id=unit, directory_connection_id=connection))  # fmt: skip
    assert got.directory_connection.last_sync_run.created_count == len(accounts)


@by_directory
async def test_a_rename_suspension_and_deletion_update_suspend_and_deactivate(directory, standin, sandbox, admin, driver):
    unit, connection, truth = await onboard(directory, standin, driver, sandbox)
    before = await directory.accounts(unit)
    renamed, suspended, deleted = driver.victims(before, 3)
    await driver.rename(admin, renamed, f"new.name@{driver.domain}")
    await driver.suspend(admin, suspended)
    await driver.delete(admin, deleted)
    # SuccessFactors' change feed (lastModifiedDateTime) cannot show a purged user: its full reads do.
    run = await directory.sync(unit, connection, full=driver is SUCCESSFACTORS)
    assert run.state == SUCCEEDED, run.failure_message
    after = await directory.accounts(unit)
    assert (after[renamed].id, after[renamed].email) == (before[renamed].id, f"new.name@{driver.domain}")
    assert after[suspended].state == SUSPENDED
    assert after[deleted].state == DEACTIVATED and after[deleted].HasField("deactivate_time")
    assert (run.updated_count, run.deactivated_count) == (2, 1)
    assert len(after) == len(before)


@by_directory
async def test_a_second_run_without_changes_writes_no_account(directory, standin, sandbox, driver):
    unit, connection, _ = await onboard(directory, standin, driver, sandbox)
    before = await directory.accounts(unit)
    directory.statements.clear()
    for full in (False, True):
        run = await directory.sync(unit, connection, full=full)
        assert (run.state, run.created_count, run.updated_count, run.deactivated_count) == (SUCCEEDED, 0, 0, 0)
    assert directory.account_writes() == []
    after = await directory.accounts(unit)
    assert {k: a.update_time for k, a in after.items()} == {k: a.update_time for k, a in before.items()}


@by_directory
async def test_a_token_revoked_at_the_provider_is_handed_back_to_identity_and_the_sync_succeeds(
    directory, standin, sandbox, admin, driver
):
    unit, connection, _ = await onboard(directory, standin, driver, sandbox)
    (refused,) = [issued.token for issued in standin.credentials.values() if issued.token]
    assert await admin.revoke_token(refused) == 1  # the provider forgets it before it expires
    run = await directory.sync(unit, connection, full=True)
    assert run.state == SUCCEEDED, run.failure_message
    assert standin.rejected == [refused]


@by_directory
async def test_a_run_that_would_deactivate_too_many_stops_until_forced(directory, standin, sandbox, admin, driver):
    unit, connection, _ = await onboard(directory, standin, driver, sandbox, ratio=0.0)  # the default 10%
    accounts = await directory.accounts(unit)
    gone = driver.victims(accounts, 2)
    for external_id in gone:
        await driver.delete(admin, external_id)
    stopped = await directory.sync(unit, connection, full=driver is SUCCESSFACTORS)
    assert (stopped.state, stopped.failure_reason, stopped.would_deactivate_count, stopped.deactivated_count) == (
        STOPPED, "SYNC_SAFETY_STOP", 2, 0)
    assert all(a.state == ACTIVE for a in (await directory.accounts(unit)).values())
    forced = await directory.sync(unit, connection, force=True, full=driver is SUCCESSFACTORS)
    assert (forced.state, forced.forced, forced.deactivated_count) == (SUCCEEDED, True, 2)
    assert {k for k, a in (await directory.accounts(unit)).items() if a.state == DEACTIVATED} == set(gone)


@by_directory
async def test_a_failure_on_a_later_page_deactivates_nothing_and_says_where(directory, standin, sandbox, admin, driver):
    if driver is SUCCESSFACTORS:  # its pages hold 1,000 users: make a second page
        await admin.bulk_users(driver.name, tenant=driver.bulk_tenant, domain=driver.domain, count=1000, prefix="bulk")
    unit, connection, _ = await onboard(directory, standin, driver, sandbox)
    victim = driver.victims(await directory.accounts(unit), 1)[0]
    await driver.delete(admin, victim)
    await admin.add_fault(route=driver.users_route, kind="latency", latency_ms=0, times=1)  # page 1 passes
    await admin.add_fault(route=driver.users_route, kind="status", status=500, times=None)  # then the reads fail
    failed = await directory.sync(unit, connection, full=True)
    assert (failed.state, failed.failure_reason, failed.deactivated_count) == (FAILED, "DIRECTORY_LISTING_FAILED", 0)
    assert failed.stopped_at.startswith("page 2 (cursor ")
    assert (await directory.accounts(unit))[victim].state == ACTIVE
    await admin.clear_faults()
    healed = await directory.sync(unit, connection, full=True)
    assert (healed.state, healed.deactivated_count) == (SUCCEEDED, 1)


@by_directory
async def test_throttling_is_waited_out_as_the_provider_asks(directory, standin, sandbox, admin, driver):
    unit = await directory.unit()
    connection = await driver.connect(directory, standin, unit)
    await admin.clear_requests()
    await admin.add_fault(route=driver.users_route, kind="status", status=429, retry_after=1, times=1)
    run = await directory.sync(unit, connection)
    assert run.state == SUCCEEDED, run.failure_message
    calls = await admin.requests(route=driver.users_route)
    assert [c["status"] for c in calls[:2]] == [429, 200]
    waited = _seconds(calls[1]["ts"]) - _seconds(calls[0]["ts"])
    assert waited >= 1.0


def _seconds(ts: object) -> float:
    return float(ts) if isinstance(ts, int | float) else datetime.fromisoformat(str(ts)).timestamp()


async def test_graph_reads_only_changes_through_its_delta_link_and_starts_over_after_a_reset(
    directory, standin, sandbox, admin
):
    unit, connection, _ = await onboard(directory, standin, MICROSOFT, sandbox)
    accounts = await directory.accounts(unit)
    target = MICROSOFT.victims(accounts, 1)[0]
    await MICROSOFT.rename(admin, target, "delta.rename@contoso.example")
    changed = await directory.sync(unit, connection)
    assert (changed.incremental, changed.listed_count, changed.updated_count) == (True, 1, 1)
    await admin.seed("microsoft", {"delta_reset": True})
    reset = await directory.sync(unit, connection)
    assert (reset.state, reset.incremental, reset.listed_count > 1) == (SUCCEEDED, False, True)
    assert (await directory.accounts(unit))[target].email == "delta.rename@contoso.example"


async def test_successfactors_reads_changes_since_its_high_water_mark_including_inactive_users(
    directory, standin, sandbox, admin
):
    unit, connection, truth = await onboard(directory, standin, SUCCESSFACTORS, sandbox)
    target = SUCCESSFACTORS.victims(await directory.accounts(unit), 1)[0]
    await SUCCESSFACTORS.suspend(admin, target)
    await admin.clear_requests()
    run = await directory.sync(unit, connection)
    # Only users changed since the mark (less a small overlap that re-reads the latest ones) are listed.
    assert (run.state, run.incremental, run.updated_count) == (SUCCEEDED, True, 1)
    assert 1 <= run.listed_count < len(truth)
    query = (await admin.requests(route="successfactors.User.list"))[0]
    assert "lastModifiedDateTime gt" in str(query) and "'f'" in str(query)
    assert (await directory.accounts(unit))[target].state == SUSPENDED


async def test_rooms_come_from_graph_places_and_are_listed_per_unit(directory, standin, sandbox):
    unit, connection, _ = await onboard(directory, standin, MICROSOFT, sandbox)
    calendar = await directory.call("ConnectCalendarService", pb.ConnectCalendarServiceRequest(
        org_unit_id=unit, access_mode=common.CALENDAR_ACCESS_MODE_NO_ACCESS, domains=["contoso.example"]))  # fmt: skip
    rooms = (await directory.call("ListRooms", pb.ListRoomsRequest(org_unit_id=unit, page_size=1))).rooms
    assert len(rooms) == 1 and rooms[0].email.endswith("@contoso.example")
    assert rooms[0].calendar_connection_id == calendar.calendar_connection.id
    assert rooms[0].directory_connection_id == connection and rooms[0].capacity > 0
    everything, token = [], ""
    while True:
        page = await directory.call("ListRooms", pb.ListRoomsRequest(org_unit_id=unit, page_size=2, page_token=token))
        everything += [r.email for r in page.rooms]
        token = page.next_page_token
        if not token:
            break
    assert everything == sorted(everything) and len(everything) == len(set(everything)) > 1
    other = await directory.unit("Other")
    assert list((await directory.call("ListRooms", pb.ListRoomsRequest(org_unit_id=other))).rooms) == []
    resolved = await directory.call("ResolveAccount", pb.ResolveAccountRequest(org_unit_id=unit, email=rooms[0].email))
    assert (resolved.room.id, resolved.room.calendar_connection_id) == (rooms[0].id, calendar.calendar_connection.id)
    assert not resolved.HasField("account")


async def test_two_syncs_of_one_connection_never_overlap_even_from_two_replicas(start_directory, standin, sandbox, admin):
    first, second = await start_directory(), await start_directory()
    unit = await first.unit()
    connection = await MICROSOFT.connect(first, standin, unit)
    await admin.add_fault(route="microsoft.organization", kind="latency", latency_ms=300, times=1)
    calls = [replica.call("SyncDirectory", pb.SyncDirectoryRequest(org_unit_id=unit, directory_connection_id=connection))
             for replica in (first, second, first)]  # fmt: skip
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    started = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(started) == 1 and len(refused) == 2
    assert {e.code() for e in refused} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert [await _reason(e) for e in refused] == ["SYNC_IN_PROGRESS"] * 2
    assert (await first.wait(unit, started[0].sync_run.id)).state == SUCCEEDED
    assert (await second.sync(unit, connection)).state == SUCCEEDED  # the lease was released


async def _reason(error: grpc.aio.AioRpcError) -> str:
    return peer_error(error, "directory").reason


async def test_sync_runs_are_listed_newest_first_page_by_page(directory, standin, sandbox):
    unit, connection, _ = await onboard(directory, standin, MICROSOFT, sandbox)
    later = [(await directory.sync(unit, connection)).id for _ in range(2)]
    seen, token = [], ""
    while True:
        page = await directory.call("ListSyncRuns", pb.ListSyncRunsRequest(
            org_unit_id=unit, directory_connection_id=connection, page_size=1, page_token=token))  # fmt: skip
        seen += [r.id for r in page.sync_runs]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 3 and seen[:2] == later[::-1]
