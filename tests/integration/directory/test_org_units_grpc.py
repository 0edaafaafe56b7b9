"""Organizational units through gRPC on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc_status import rpc_status

from kit.grpc_errors import unpack_error
from kit.settings import DEV_SERVICE_TOKEN
from rendezvous.directory.v1 import directory_resources_pb2 as res
from rendezvous.directory.v1 import directory_service_pb2 as pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as pb_grpc
from services.directory.bootstrap import bootstrap
from services.directory.settings import DirectorySettings

AUTH = (("authorization", f"Bearer {DEV_SERVICE_TOKEN}"),)


@pytest.fixture
async def stub(database_url):
    app = await bootstrap(DirectorySettings(port=0, database_url=database_url, access_log=False))
    port = await app.server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.DirectoryServiceStub(channel)
    await app.server.stop(grace=0)


async def test_create_get_list_update_round_trip(stub):
    created = (await stub.CreateOrganizationalUnit(
        pb.CreateOrganizationalUnitRequest(display_name="Acme", request_id="r1"), metadata=AUTH)).organizational_unit
    assert created.id and created.invite_sender_address == "invites@rendezvous.example"
    again = await stub.CreateOrganizationalUnit(
        pb.CreateOrganizationalUnitRequest(display_name="Acme", request_id="r1"), metadata=AUTH)
    assert again.organizational_unit == created
    got = await stub.GetOrganizationalUnit(pb.GetOrganizationalUnitRequest(org_unit_id=created.id), metadata=AUTH)
    assert got.organizational_unit == created
    listed = await stub.ListOrganizationalUnits(pb.ListOrganizationalUnitsRequest(), metadata=AUTH)
    assert [u.id for u in listed.organizational_units] == [created.id]
    updated = await stub.UpdateOrganizationalUnit(pb.UpdateOrganizationalUnitRequest(
        organizational_unit=res.OrganizationalUnit(id=created.id, invite_sender_address="book@acme.example"),
        update_mask=FieldMask(paths=["invite_sender_address"])), metadata=AUTH)
    assert updated.organizational_unit.invite_sender_address == "book@acme.example"
    assert updated.organizational_unit.display_name == "Acme"


async def test_an_unknown_unit_is_not_found_with_error_info(stub):
    call = stub.GetOrganizationalUnit(pb.GetOrganizationalUnitRequest(org_unit_id="nope"), metadata=AUTH)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    error, _ = unpack_error(await rpc_status.aio.from_call(call))
    assert error is not None
    assert (error.reason, error.domain) == ("ORGANIZATIONAL_UNIT_NOT_FOUND", "directory.rendezvous")


async def test_bad_input_is_invalid_argument_naming_fields_and_nothing_is_written(stub):
    call = stub.CreateOrganizationalUnit(
        pb.CreateOrganizationalUnitRequest(display_name="", invite_sender_address="x"), metadata=AUTH)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    _, violations = unpack_error(await rpc_status.aio.from_call(call))
    assert {f for f, _ in violations} == {"display_name", "invite_sender_address"}
    listed = await stub.ListOrganizationalUnits(pb.ListOrganizationalUnitsRequest(), metadata=AUTH)
    assert list(listed.organizational_units) == []


async def test_the_rooms_of_an_unknown_unit_are_not_found(stub):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ListRooms(pb.ListRoomsRequest(org_unit_id="x"), metadata=AUTH)
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
