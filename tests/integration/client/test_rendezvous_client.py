"""The client helper against a real directory service and a flaky stand-in."""

from __future__ import annotations

import grpc
import pytest

from kit.settings import DEV_SERVICE_TOKEN
from rendezvous.directory.v1 import directory_resources_pb2 as res
from rendezvous.directory.v1 import directory_service_pb2 as pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as pb_grpc
from rendezvous_client import Addresses, Rendezvous, RendezvousError
from services.directory.bootstrap import bootstrap
from services.directory.settings import DirectorySettings


@pytest.fixture
async def directory_address(sqlite_url):
    app = await bootstrap(DirectorySettings(port=0, database_url=sqlite_url, access_log=False))
    port = await app.server.start()
    yield f"127.0.0.1:{port}"
    await app.server.stop(grace=0)


async def test_calls_carry_the_token_and_errors_arrive_unpacked(directory_address):
    async with Rendezvous(Addresses(directory=directory_address), DEV_SERVICE_TOKEN) as rdv:
        created = await rdv.directory.CreateOrganizationalUnit(pb.CreateOrganizationalUnitRequest(display_name="Acme"))
        assert created.organizational_unit.display_name == "Acme"
        with pytest.raises(RendezvousError) as missing:
            await rdv.directory.GetOrganizationalUnit(pb.GetOrganizationalUnitRequest(org_unit_id="nope"))
        assert missing.value.code is grpc.StatusCode.NOT_FOUND
        assert (missing.value.reason, missing.value.domain) == ("ORGANIZATIONAL_UNIT_NOT_FOUND", "directory.rendezvous")
        with pytest.raises(RendezvousError) as bad:
            await rdv.directory.CreateOrganizationalUnit(pb.CreateOrganizationalUnitRequest(display_name=""))
        assert bad.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in bad.value.violations] == ["display_name"]


async def test_a_wrong_token_is_reported_as_unauthenticated(directory_address):
    async with Rendezvous(Addresses(directory=directory_address), "wrong") as rdv:
        with pytest.raises(RendezvousError) as info:
            await rdv.directory.ListOrganizationalUnits(pb.ListOrganizationalUnitsRequest())
        assert info.value.reason == "SERVICE_TOKEN_INVALID"


class Flaky(pb_grpc.DirectoryServiceServicer):
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[str] = []

    async def _maybe_fail(self, name: str, context: grpc.aio.ServicerContext) -> None:
        self.calls.append(name)
        if len(self.calls) <= self.failures:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "try again")

    async def GetOrganizationalUnit(self, request, context):
        await self._maybe_fail("get", context)
        return pb.GetOrganizationalUnitResponse(organizational_unit=res.OrganizationalUnit(id=request.org_unit_id))

    async def CreateOrganizationalUnit(self, request, context):
        await self._maybe_fail("create", context)
        return pb.CreateOrganizationalUnitResponse(organizational_unit=res.OrganizationalUnit(id="new"))


@pytest.fixture
async def flaky():
    servicer = Flaky(failures=2)
    server = grpc.aio.server()
    pb_grpc.add_DirectoryServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(0)


async def test_idempotent_calls_are_retried_through_unavailable(flaky):
    servicer, address = flaky
    async with Rendezvous(Addresses(directory=address), "t", backoff=0.001) as rdv:
        got = await rdv.directory.GetOrganizationalUnit(pb.GetOrganizationalUnitRequest(org_unit_id="ou-1"))
    assert got.organizational_unit.id == "ou-1"
    assert servicer.calls == ["get", "get", "get"]


async def test_a_create_without_request_id_is_not_retried(flaky):
    servicer, address = flaky
    async with Rendezvous(Addresses(directory=address), "t", backoff=0.001) as rdv:
        with pytest.raises(RendezvousError) as info:
            await rdv.directory.CreateOrganizationalUnit(pb.CreateOrganizationalUnitRequest(display_name="x"))
    assert info.value.code is grpc.StatusCode.UNAVAILABLE
    assert servicer.calls == ["create"]


async def test_a_create_with_request_id_is_retried(flaky):
    servicer, address = flaky
    async with Rendezvous(Addresses(directory=address), "t", backoff=0.001) as rdv:
        created = await rdv.directory.CreateOrganizationalUnit(
            pb.CreateOrganizationalUnitRequest(display_name="x", request_id="r-1"))
    assert created.organizational_unit.id == "new"
    assert servicer.calls == ["create"] * 3
