"""The outbound gRPC adapters against stand-ins of their peers' real contracts."""

from __future__ import annotations

import socket

import pytest

from kit.channels import peer_channel
from kit.errors import FailedPrecondition, NotFound, Unavailable
from kit.settings import DEV_SERVICE_TOKEN
from services.availability.adapters.peers import BookingClient, DirectoryClient, IdentityClient
from services.availability.domain.model import (
    AccessMode,
    AccountState,
    BookingBusy,
    CalendarRoute,
    ConnectionState,
    CredentialKind,
    Provider,
    Resolution,
)

from .standins import ORG, start_standins, stop_standins

DAY = 86400
T0 = 1_772_323_200


@pytest.fixture
async def peers(sandbox):
    standins = await start_standins(sandbox.base_url)
    channel = peer_channel(standins.address, DEV_SERVICE_TOKEN, 5.0)
    yield standins, channel
    await channel.close()
    await stop_standins(standins)


async def test_resolve_account_gives_the_route_and_the_account_state(peers):
    standins, channel = peers
    standins.directory.suspended.add("alan@northwind.example")
    client = DirectoryClient(channel)
    assert await client.resolve(ORG, "ada@northwind.example") == Resolution(
        "ada@northwind.example",
        AccountState.ACTIVE,
        CalendarRoute("conn-google", Provider.GOOGLE, AccessMode.READ_WRITE, "cred-google", ConnectionState.ACTIVE),
    )
    assert (await client.resolve(ORG, "alan@northwind.example")).account_state is AccountState.SUSPENDED
    none = await client.resolve(ORG, "patti@fabrikam.example")
    assert none.route == CalendarRoute("conn-none", None, AccessMode.NO_ACCESS, "", ConnectionState.ACTIVE)
    assert await client.resolve(ORG, "x@elsewhere.example") == Resolution("x@elsewhere.example", None, None)
    with pytest.raises(NotFound) as info:
        await client.resolve("org-nope", "ada@northwind.example")
    assert (info.value.reason, info.value.metadata["org_unit_id"]) == ("ORGANIZATIONAL_UNIT_NOT_FOUND", "org-nope")


async def test_identity_credentials_are_asked_once_and_refusals_keep_their_reason(peers):
    standins, channel = peers
    client = IdentityClient(channel)
    first = await client.credential(ORG, "cred-google")
    standins.identity.credentials.clear()  # a second GetCredential would now fail
    assert await client.credential(ORG, "cred-google") == first
    assert first.kind is CredentialKind.ORGANIZATION_WIDE
    standins.identity.refuse["cred-ms"] = FailedPrecondition("revoked", reason="CREDENTIAL_REVOKED", metadata={"credential_id": "cred-ms"})
    with pytest.raises(FailedPrecondition) as info:
        await client.access_token(ORG, "cred-ms")
    assert (info.value.reason, info.value.metadata) == ("CREDENTIAL_REVOKED", {"credential_id": "cred-ms"})


async def test_busy_periods_are_read_page_by_page_and_in_windows_of_at_most_42_days(peers):
    standins, channel = peers
    standins.booking.periods = [("patti@fabrikam.example", T0 + d * DAY, T0 + d * DAY + 3600, f"bk-{d}") for d in range(44)]
    standins.booking.periods.append(("patti@fabrikam.example", T0 + 41 * DAY, T0 + 43 * DAY, "bk-long"))  # crosses the cut
    got = await BookingClient(channel, page_size=7).busy_periods(ORG, ["patti@fabrikam.example"], (T0, T0 + 44 * DAY))
    assert len(got) == 45 and len(set(got)) == 45
    assert BookingBusy("patti@fabrikam.example", T0 + 41 * DAY, T0 + 43 * DAY, "bk-long") in got
    windows = {(r.window.start_time.seconds, r.window.end_time.seconds) for r in standins.booking.requests}
    assert windows == {(T0, T0 + 42 * DAY), (T0 + 42 * DAY, T0 + 44 * DAY)}
    assert len(standins.booking.requests) > 2  # several pages


async def test_a_peer_that_is_down_is_dependency_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = peer_channel(f"127.0.0.1:{port}", DEV_SERVICE_TOKEN, 2.0)
    try:
        with pytest.raises(Unavailable) as info:
            await DirectoryClient(channel).resolve(ORG, "ada@northwind.example")
    finally:
        await channel.close()
    assert (info.value.reason, info.value.metadata) == ("DEPENDENCY_UNAVAILABLE", {"dependency": "directory"})


async def test_the_real_booking_service_accepts_the_busy_period_requests_availability_sends(sqlite_url):
    """Contract check against booking's own bootstrap (empty database): a 44-day window is asked in
    two pieces of at most 42 days, with a page size it accepts."""
    from services.booking.bootstrap import bootstrap as booking_bootstrap
    from services.booking.settings import BookingSettings

    app = await booking_bootstrap(
        BookingSettings(port=0, database_url=sqlite_url, access_log=False, inbound_smtp_enabled=False, workers_enabled=False)
    )
    port = await app.server.start()
    channel = peer_channel(f"127.0.0.1:{port}", DEV_SERVICE_TOKEN, 5.0)
    try:
        got = await BookingClient(channel).busy_periods(ORG, ["patti@fabrikam.example", "ada@northwind.example"], (T0, T0 + 44 * DAY))
    finally:
        await channel.close()
        await app.server.stop(grace=0)
    assert got == []


async def test_the_real_directory_resolves_what_availability_asks_for(sqlite_url):
    """Contract check against directory's own bootstrap: a NO_ACCESS connection (no identity needed)
    and an account created by hand, resolved through availability's adapter."""
    from rendezvous.common.v1 import common_pb2
    from rendezvous.directory.v1 import directory_service_pb2 as directory_pb
    from rendezvous.directory.v1 import directory_service_pb2_grpc as directory_grpc
    from services.directory.bootstrap import bootstrap as directory_bootstrap
    from services.directory.settings import DirectorySettings

    settings = DirectorySettings(port=0, database_url=sqlite_url, access_log=False, background_enabled=False)
    app = await directory_bootstrap(settings)
    port = await app.server.start()
    channel = peer_channel(f"127.0.0.1:{port}", DEV_SERVICE_TOKEN, 5.0)
    try:
        stub = directory_grpc.DirectoryServiceStub(channel)
        unit = (await stub.CreateOrganizationalUnit(directory_pb.CreateOrganizationalUnitRequest(display_name="Fabrikam"))).organizational_unit.id
        connection = (
            await stub.ConnectCalendarService(
                directory_pb.ConnectCalendarServiceRequest(
                    org_unit_id=unit, access_mode=common_pb2.CALENDAR_ACCESS_MODE_NO_ACCESS, domains=["fabrikam.example"]
                )
            )
        ).calendar_connection
        await stub.CreateAccount(directory_pb.CreateAccountRequest(org_unit_id=unit, email="patti@fabrikam.example", display_name="Patti"))
        client = DirectoryClient(channel)
        patti = await client.resolve(unit, "patti@fabrikam.example")
        stranger = await client.resolve(unit, "x@elsewhere.example")
        with pytest.raises(NotFound) as info:
            await client.resolve("no-such-unit", "patti@fabrikam.example")
    finally:
        await channel.close()
        await app.server.stop(grace=0)
    assert patti == Resolution(
        "patti@fabrikam.example",
        AccountState.ACTIVE,
        CalendarRoute(connection.id, None, AccessMode.NO_ACCESS, "", ConnectionState.ACTIVE),
    )
    assert stranger.route is None
    assert info.value.reason == "ORGANIZATIONAL_UNIT_NOT_FOUND"
