"""Identity next to the real directory service (both in-process on ports of their own): directory
starts the authorization through identity, the browser consents at the sandbox, and identity's
VerifyOrganizer asks directory's real ResolveAccount which connection serves an email."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from rendezvous.common.v1 import common_pb2
from rendezvous.directory.v1 import directory_resources_pb2 as dres
from rendezvous.directory.v1 import directory_service_pb2 as dpb
from rendezvous.directory.v1 import directory_service_pb2_grpc as dgrpc
from rendezvous.identity.v1 import identity_resources_pb2 as res
from rendezvous.identity.v1 import identity_service_pb2 as pb
from services.directory.bootstrap import bootstrap as directory_bootstrap
from services.directory.settings import DirectorySettings
from tests.integration.identity.conftest import (
    AUTH,
    DirectoryStandIn,
    Harness,
    free_port,
    harness,
    identity_settings,
)


@pytest.fixture
async def both(database_url, sandbox, tmp_path) -> AsyncIterator[tuple[Harness, dgrpc.DirectoryServiceStub]]:
    directory_port = free_port()
    settings = identity_settings(database_url, sandbox.base_url, f"127.0.0.1:{directory_port}")
    async with harness(settings, sandbox, DirectoryStandIn()) as identity:
        directory = await directory_bootstrap(DirectorySettings(
            port=directory_port, database_url=f"sqlite+aiosqlite:///{tmp_path / 'directory.db'}", access_log=False,
            identity_address=f"127.0.0.1:{identity.app.server.port}", sandbox_url=sandbox.base_url,
            background_enabled=False,
        ))  # fmt: skip
        await directory.server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{directory_port}") as channel:
                yield identity, dgrpc.DirectoryServiceStub(channel)
        finally:
            await directory.server.stop(grace=0)


async def test_a_connection_made_through_directory_verifies_organizers_of_its_domain(both):
    identity, directory = both
    unit = (await directory.CreateOrganizationalUnit(
        dpb.CreateOrganizationalUnitRequest(display_name="Northwind"), metadata=AUTH)).organizational_unit
    connected = await directory.ConnectCalendarService(dpb.ConnectCalendarServiceRequest(
        org_unit_id=unit.id, provider=common_pb2.PROVIDER_GOOGLE, access_mode=common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE,
        domains=["northwind.example"]), metadata=AUTH)  # fmt: skip
    assert "accounts.google.com" in connected.authorization_url
    page = await identity.consent(res.Authorization(authorization_url=connected.authorization_url),
                                  "ada@northwind.example")  # fmt: skip
    assert page.status_code == 200
    connection = (await directory.GetCalendarService(dpb.GetCalendarServiceRequest(
        org_unit_id=unit.id, calendar_connection_id=connected.calendar_connection.id), metadata=AUTH)).calendar_connection
    assert connection.state == dres.CalendarConnection.STATE_ACTIVE and connection.credential_id

    def verify(email: str):
        return identity.stub.VerifyOrganizer(pb.VerifyOrganizerRequest(org_unit_id=unit.id, email=email), metadata=AUTH)

    colleague = await verify("alan@northwind.example")
    assert (colleague.verified, colleague.method, colleague.calendar_connection_id) == (
        True, pb.VERIFICATION_METHOD_CALENDAR_AUTHORIZATION, connection.id)
    stranger = await verify("nobody@northwind.example")
    assert (stranger.verified, stranger.reason) == (False, "MAILBOX_NOT_FOUND")
    elsewhere = await verify("ada@contoso.example")
    assert (elsewhere.verified, elsewhere.reason) == (False, "EMAIL_DOMAIN_NOT_SERVED")
    unknown_unit = identity.stub.VerifyOrganizer(
        pb.VerifyOrganizerRequest(org_unit_id="no-such-unit", email="ada@northwind.example"), metadata=AUTH)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await unknown_unit
    assert error.value.code() is grpc.StatusCode.NOT_FOUND
