"""Connections, accounts and ResolveAccount through gRPC on a real database (SQLite and PostgreSQL),
with identity played by the in-test stand-in and conferencing users looked up in the sandbox."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from rendezvous.common.v1 import common_pb2 as common
from rendezvous.directory.v1 import directory_resources_pb2 as res
from rendezvous.directory.v1 import directory_service_pb2 as pb
from rendezvous.identity.v1 import identity_resources_pb2 as ires
from sandbox.providers.webex import webex_id
from services.directory.adapters.identity_grpc import peer_error

from .drivers import MICROSOFT

RW, FB, NONE = (common.CALENDAR_ACCESS_MODE_READ_WRITE, common.CALENDAR_ACCESS_MODE_FREE_BUSY,
                common.CALENDAR_ACCESS_MODE_NO_ACCESS)  # fmt: skip
PENDING, ACTIVE, DISCONNECTED = (res.CalendarConnection.STATE_PENDING_AUTHORIZATION, res.CalendarConnection.STATE_ACTIVE,
                                 res.CalendarConnection.STATE_DISCONNECTED)  # fmt: skip


async def fails(call, code: grpc.StatusCode, reason: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    error = peer_error(info.value, "directory")
    assert (info.value.code(), error.reason) == (code, reason), info.value.details()
    return info.value


def calendar(unit: str, mode: int, *domains: str, provider: int = 0, **more) -> pb.ConnectCalendarServiceRequest:
    return pb.ConnectCalendarServiceRequest(org_unit_id=unit, provider=provider, access_mode=mode, domains=list(domains), **more)


async def test_a_calendar_connection_becomes_active_when_its_authorization_completes(directory, standin):
    unit = await directory.unit()
    done = await directory.call("ConnectCalendarService", calendar(unit, FB, "contoso.example",
                                                                   provider=common.PROVIDER_MICROSOFT))  # fmt: skip
    connection = done.calendar_connection
    assert (connection.state, done.authorization_url) == (PENDING, standin.authorizations[connection.authorization_id].authorization_url)
    assert standin.authorizations[connection.authorization_id].purpose == ires.PURPOSE_CALENDAR
    credential = standin.microsoft(unit, ires.PURPOSE_CALENDAR)
    standin.complete(connection.authorization_id, credential)
    got = await directory.call("GetCalendarService", pb.GetCalendarServiceRequest(
        org_unit_id=unit, calendar_connection_id=connection.id))  # fmt: skip
    assert (got.calendar_connection.state, got.calendar_connection.credential_id) == (ACTIVE, credential)
    route = (await directory.call("ResolveAccount", pb.ResolveAccountRequest(org_unit_id=unit, email="megan@contoso.example"))).calendar
    assert (route.calendar_connection_id, route.provider, route.access_mode, route.credential_id, route.state) == (
        connection.id, common.PROVIDER_MICROSOFT, FB, credential, ACTIVE)


async def test_the_background_poller_activates_pending_connections(directory, standin):
    unit = await directory.unit()
    done = await directory.call("ConnectConferencingService", pb.ConnectConferencingServiceRequest(
        org_unit_id=unit, service=common.CONFERENCING_SERVICE_ZOOM))  # fmt: skip
    standin.complete(done.conferencing_connection.authorization_id, standin.zoom(unit))
    assert await directory.app.connections.poll_pending() == 1
    listed = await directory.call("ListConferencingServices", pb.ListConferencingServicesRequest(org_unit_id=unit))
    assert [c.state for c in listed.conferencing_connections] == [res.ConferencingConnection.STATE_ACTIVE]


async def test_a_domain_served_by_another_calendar_connection_is_refused(directory):
    unit = await directory.unit()
    first = (await directory.call("ConnectCalendarService", calendar(unit, NONE, "a.example"))).calendar_connection
    error = await fails(directory.call("ConnectCalendarService", calendar(unit, NONE, "b.example", "A.EXAMPLE")),
                        grpc.StatusCode.ALREADY_EXISTS, "DOMAIN_ALREADY_SERVED")  # fmt: skip
    assert first.id in (error.details() or "")


async def test_two_connections_racing_for_one_domain_are_decided_by_the_database(directory):
    unit = await directory.unit()
    outcomes = await asyncio.gather(
        *(directory.call("ConnectCalendarService", calendar(unit, NONE, "race.example")) for _ in range(4)),
        return_exceptions=True,
    )
    errors = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(errors) == 3
    assert {(e.code(), peer_error(e, "d").reason) for e in errors} == {(grpc.StatusCode.ALREADY_EXISTS, "DOMAIN_ALREADY_SERVED")}
    listed = await directory.call("ListCalendarServices", pb.ListCalendarServicesRequest(org_unit_id=unit))
    assert len(listed.calendar_connections) == 1


async def test_malformed_domains_and_emails_are_invalid_arguments_naming_the_field(directory):
    unit = await directory.unit()
    bad = await fails(directory.call("ConnectCalendarService", calendar(unit, NONE, "ok.example", "bad domain!")),
                      grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")  # fmt: skip
    assert "domains[1]" in (bad.details() or "")
    await fails(directory.call("CreateAccount", pb.CreateAccountRequest(org_unit_id=unit, email="nobody")),
                grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")  # fmt: skip
    await fails(directory.call("ResolveAccount", pb.ResolveAccountRequest(org_unit_id=unit, email="a@b@c")),
                grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")  # fmt: skip
    listed = await directory.call("ListCalendarServices", pb.ListCalendarServicesRequest(org_unit_id=unit))
    assert list(listed.calendar_connections) == []


async def test_unknown_ids_are_not_found_with_their_reason(directory):
    unit = await directory.unit()
    cases = [
        ("GetCalendarService", pb.GetCalendarServiceRequest(org_unit_id=unit, calendar_connection_id="x"), "CONNECTION_NOT_FOUND"),
        ("GetDirectoryService", pb.GetDirectoryServiceRequest(org_unit_id=unit, directory_connection_id="x"), "CONNECTION_NOT_FOUND"),
        ("DisconnectConferencingService", pb.DisconnectConferencingServiceRequest(org_unit_id=unit, conferencing_connection_id="x"),
         "CONNECTION_NOT_FOUND"),
        ("GetAccount", pb.GetAccountRequest(org_unit_id=unit, account_id="x"), "ACCOUNT_NOT_FOUND"),
        ("GetSyncRun", pb.GetSyncRunRequest(org_unit_id=unit, sync_run_id="x"), "SYNC_RUN_NOT_FOUND"),
        ("SyncDirectory", pb.SyncDirectoryRequest(org_unit_id=unit, directory_connection_id="x"), "CONNECTION_NOT_FOUND"),
        ("ResolveAccount", pb.ResolveAccountRequest(org_unit_id="x", email="a@b.example"), "ORGANIZATIONAL_UNIT_NOT_FOUND"),
        ("ListAccounts", pb.ListAccountsRequest(org_unit_id="x"), "ORGANIZATIONAL_UNIT_NOT_FOUND"),
    ]  # fmt: skip
    for method, request, reason in cases:
        await fails(directory.call(method, request), grpc.StatusCode.NOT_FOUND, reason)


async def test_another_units_resources_are_not_found_and_never_shown(directory, standin, sandbox):
    theirs, mine = await directory.unit("Theirs"), await directory.unit("Mine")
    their_calendar = (await directory.call("ConnectCalendarService", calendar(theirs, NONE, "theirs.example"))).calendar_connection
    account = (await directory.call("CreateAccount", pb.CreateAccountRequest(org_unit_id=theirs, email="eve@theirs.example"))).account
    their_directory = await MICROSOFT.connect(directory, standin, theirs)
    run = await directory.sync(theirs, their_directory)
    for method, request, reason in [
        ("GetCalendarService", pb.GetCalendarServiceRequest(org_unit_id=mine, calendar_connection_id=their_calendar.id),
         "CONNECTION_NOT_FOUND"),
        ("DisconnectCalendarService", pb.DisconnectCalendarServiceRequest(org_unit_id=mine, calendar_connection_id=their_calendar.id),
         "CONNECTION_NOT_FOUND"),
        ("GetAccount", pb.GetAccountRequest(org_unit_id=mine, account_id=account.id), "ACCOUNT_NOT_FOUND"),
        ("GetSyncRun", pb.GetSyncRunRequest(org_unit_id=mine, sync_run_id=run.id), "SYNC_RUN_NOT_FOUND"),
        ("SyncDirectory", pb.SyncDirectoryRequest(org_unit_id=mine, directory_connection_id=their_directory),
         "CONNECTION_NOT_FOUND"),
        ("ListSyncRuns", pb.ListSyncRunsRequest(org_unit_id=mine, directory_connection_id=their_directory),
         "CONNECTION_NOT_FOUND"),
    ]:  # fmt: skip
        error = await fails(directory.call(method, request), grpc.StatusCode.NOT_FOUND, reason)
        assert "eve" not in (error.details() or "") and "theirs.example" not in (error.details() or "")
    resolved = await directory.call("ResolveAccount", pb.ResolveAccountRequest(org_unit_id=mine, email="eve@theirs.example"))
    assert not resolved.HasField("account") and not resolved.HasField("calendar")
    assert list((await directory.call("ListAccounts", pb.ListAccountsRequest(org_unit_id=mine))).accounts) == []
    assert (await directory.call("GetCalendarService", pb.GetCalendarServiceRequest(
        org_unit_id=theirs, calendar_connection_id=their_calendar.id))).calendar_connection.state == ACTIVE  # fmt: skip


async def test_disconnecting_stops_routing_at_once_and_revokes_even_when_identity_is_down_at_first(directory, standin):
    unit = await directory.unit()
    credential = standin.microsoft(unit, ires.PURPOSE_CALENDAR)
    standin.credentials[credential].credential.access_mode = FB
    connection = (await directory.call("ConnectCalendarService", calendar(
        unit, FB, "contoso.example", provider=common.PROVIDER_MICROSOFT, credential_id=credential))).calendar_connection  # fmt: skip
    assert connection.state == ACTIVE
    standin.revocation_fails = True
    gone = (await directory.call("DisconnectCalendarService", pb.DisconnectCalendarServiceRequest(
        org_unit_id=unit, calendar_connection_id=connection.id))).calendar_connection  # fmt: skip
    assert (gone.state, gone.HasField("disconnect_time")) == (DISCONNECTED, True)
    resolved = await directory.call("ResolveAccount", pb.ResolveAccountRequest(org_unit_id=unit, email="megan@contoso.example"))
    assert not resolved.HasField("calendar")
    assert standin.revoked == []
    standin.revocation_fails = False
    assert await directory.app.connections.retry_revocations() == 1
    assert standin.revoked == [credential]
    again = (await directory.call("ConnectCalendarService", calendar(unit, NONE, "contoso.example"))).calendar_connection
    assert again.state == ACTIVE


async def test_a_credential_of_the_wrong_purpose_is_a_mismatch(directory, standin):
    unit = await directory.unit()
    directory_credential = standin.microsoft(unit, ires.PURPOSE_DIRECTORY)
    await fails(directory.call("ConnectCalendarService", calendar(unit, RW, "contoso.example", provider=common.PROVIDER_MICROSOFT,
                                                                  credential_id=directory_credential)),
                grpc.StatusCode.FAILED_PRECONDITION, "CREDENTIAL_MISMATCH")  # fmt: skip
    await fails(directory.call("ConnectCalendarService", calendar(unit, RW, "contoso.example", provider=common.PROVIDER_MICROSOFT,
                                                                  credential_id="cred-unknown")),
                grpc.StatusCode.NOT_FOUND, "CREDENTIAL_NOT_FOUND")  # fmt: skip


async def test_accounts_by_hand_need_a_served_domain_and_a_unique_email(directory):
    unit = await directory.unit()
    await fails(directory.call("CreateAccount", pb.CreateAccountRequest(org_unit_id=unit, email="ada@northwind.example")),
                grpc.StatusCode.FAILED_PRECONDITION, "EMAIL_DOMAIN_NOT_SERVED")  # fmt: skip
    await directory.call("ConnectCalendarService", calendar(unit, NONE, "northwind.example"))
    account = (await directory.call("CreateAccount", pb.CreateAccountRequest(
        org_unit_id=unit, email="Ada@Northwind.example", display_name="Ada", time_zone="Europe/London", request_id="r1"))).account  # fmt: skip
    assert (account.email, account.state, account.source) == ("ada@northwind.example", res.Account.STATE_ACTIVE,
                                                               res.Account.SOURCE_MANUAL)  # fmt: skip
    await fails(directory.call("CreateAccount", pb.CreateAccountRequest(org_unit_id=unit, email="ada@northwind.example")),
                grpc.StatusCode.ALREADY_EXISTS, "ACCOUNT_ALREADY_EXISTS")  # fmt: skip
    await fails(directory.call("CreateAccount", pb.CreateAccountRequest(org_unit_id=unit, email="x@northwind.example",
                                                                        time_zone="Nowhere/Special")),
                grpc.StatusCode.INVALID_ARGUMENT, "TIME_ZONE_UNKNOWN")  # fmt: skip
    got = await directory.call("GetAccount", pb.GetAccountRequest(org_unit_id=unit, account_id=account.id))
    assert got.account == account


async def test_resolve_links_conferencing_users_by_email(directory, standin):
    ada = webex_id("PEOPLE", "5e7b0a11-0000-4000-8000-000000000001")  # the sandbox's Webex id of ada@northwind
    unit = await directory.unit()
    await directory.call("ConnectCalendarService", calendar(unit, NONE, "contoso.example", "northwind.example"))
    zoom = (await directory.call("ConnectConferencingService", pb.ConnectConferencingServiceRequest(
        org_unit_id=unit, service=common.CONFERENCING_SERVICE_ZOOM, credential_id=standin.zoom(unit)))).conferencing_connection  # fmt: skip
    webex = (await directory.call("ConnectConferencingService", pb.ConnectConferencingServiceRequest(
        org_unit_id=unit, service=common.CONFERENCING_SERVICE_WEBEX,
        credential_id=standin.webex(unit, ada)))).conferencing_connection  # fmt: skip
    teams = (await directory.call("ConnectConferencingService", pb.ConnectConferencingServiceRequest(
        org_unit_id=unit, service=common.CONFERENCING_SERVICE_MICROSOFT_TEAMS,
        credential_id=standin.microsoft(unit, ires.PURPOSE_CONFERENCING)))).conferencing_connection  # fmt: skip

    async def links(email: str) -> list[tuple[str, str]]:
        answer = await directory.call("ResolveAccount", pb.ResolveAccountRequest(org_unit_id=unit, email=email))
        return [(link.conferencing_connection_id, link.external_user_id) for link in answer.conferencing_links]

    assert await links("alex@contoso.example") == [(zoom.id, "zA1lexW1lber4Contoso01"),
                                                   (teams.id, "aaaaaaaa-0000-4000-8000-000000000003")]  # fmt: skip
    assert await links("ada@northwind.example") == [(webex.id, ada)]
    asked = standin.token_calls
    assert await links("alex@contoso.example") == [(zoom.id, "zA1lexW1lber4Contoso01"),
                                                   (teams.id, "aaaaaaaa-0000-4000-8000-000000000003")]  # fmt: skip
    assert standin.token_calls == asked  # answered from the stored links: no provider asked again


async def test_a_conferencing_token_revoked_at_the_provider_is_handed_back_to_identity_and_the_link_found(
    directory, standin, admin
):
    unit = await directory.unit()
    await directory.call("ConnectCalendarService", calendar(unit, NONE, "contoso.example"))
    zoom = (await directory.call("ConnectConferencingService", pb.ConnectConferencingServiceRequest(
        org_unit_id=unit, service=common.CONFERENCING_SERVICE_ZOOM, credential_id=standin.zoom(unit)))).conferencing_connection  # fmt: skip

    async def links(email: str) -> list[tuple[str, str]]:
        answer = await directory.call("ResolveAccount", pb.ResolveAccountRequest(org_unit_id=unit, email=email))
        return [(link.conferencing_connection_id, link.external_user_id) for link in answer.conferencing_links]

    assert await links("alex@contoso.example") == [(zoom.id, "zA1lexW1lber4Contoso01")]
    (refused,) = [issued.token for issued in standin.credentials.values() if issued.token]
    assert await admin.revoke_token(refused) == 1  # Zoom forgets it before it expires
    assert await links("adele@contoso.example") == [(zoom.id, "zAdeleV4nce4Contoso003")]
    assert standin.rejected == [refused]


async def test_a_connected_directory_is_synced_by_the_scheduler_at_once(start_directory, standin):
    directory = await start_directory(background_enabled=True, scheduler_interval_seconds=3600.0)
    unit = await directory.unit()
    connection = await MICROSOFT.connect(directory, standin, unit)
    async with asyncio.timeout(30):
        while True:
            runs = (await directory.call("ListSyncRuns", pb.ListSyncRunsRequest(
                org_unit_id=unit, directory_connection_id=connection))).sync_runs  # fmt: skip
            if runs and runs[0].state != res.SyncRun.STATE_RUNNING:
                break
            await asyncio.sleep(0.05)
    assert (runs[0].trigger, runs[0].state) == (res.SyncRun.TRIGGER_CONNECTED, res.SyncRun.STATE_SUCCEEDED)


async def test_a_pending_directory_cannot_be_synced(directory):
    unit = await directory.unit()
    pending = (await directory.call("ConnectDirectoryService", pb.ConnectDirectoryServiceRequest(
        org_unit_id=unit, provider=common.PROVIDER_GOOGLE, domains=["northwind.example"]))).directory_connection  # fmt: skip
    assert pending.state == res.DirectoryConnection.STATE_PENDING_AUTHORIZATION
    await fails(directory.call("SyncDirectory", pb.SyncDirectoryRequest(org_unit_id=unit, directory_connection_id=pending.id)),
                grpc.StatusCode.FAILED_PRECONDITION, "CONNECTION_NOT_ACTIVE")  # fmt: skip
