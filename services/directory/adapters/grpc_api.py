"""gRPC edge of the directory service: protobuf in, use cases, protobuf out.

RPCs not built yet fall through to the generated base class, which raises
NotImplementedError; the kit answers UNIMPLEMENTED naming the method.
"""

from __future__ import annotations

import grpc

from kit.convert import to_timestamp
from kit.errors import InvalidArgument
from rendezvous.directory.v1 import directory_resources_pb2 as res
from rendezvous.directory.v1 import directory_service_pb2 as pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as pb_grpc
from services.directory.domain.model import OrganizationalUnit
from services.directory.usecases import OrganizationalUnitsUseCases

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DirectoryService"].full_name


def unit_to_pb(unit: OrganizationalUnit) -> res.OrganizationalUnit:
    return res.OrganizationalUnit(
        id=unit.id,
        display_name=unit.display_name,
        invite_sender_address=unit.invite_sender_address,
        create_time=to_timestamp(unit.create_time),
        update_time=to_timestamp(unit.update_time),
    )


class DirectoryServicer(pb_grpc.DirectoryServiceServicer):
    def __init__(self, units: OrganizationalUnitsUseCases) -> None:
        self._units = units

    async def CreateOrganizationalUnit(
        self, request: pb.CreateOrganizationalUnitRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateOrganizationalUnitResponse:
        unit = await self._units.create(request.display_name, request.invite_sender_address, request.request_id)
        return pb.CreateOrganizationalUnitResponse(organizational_unit=unit_to_pb(unit))

    async def GetOrganizationalUnit(
        self, request: pb.GetOrganizationalUnitRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOrganizationalUnitResponse:
        return pb.GetOrganizationalUnitResponse(organizational_unit=unit_to_pb(await self._units.get(request.org_unit_id)))

    async def ListOrganizationalUnits(
        self, request: pb.ListOrganizationalUnitsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOrganizationalUnitsResponse:
        page = await self._units.list(request.page_size, request.page_token)
        return pb.ListOrganizationalUnitsResponse(
            organizational_units=[unit_to_pb(u) for u in page.items], next_page_token=page.next_page_token
        )

    async def UpdateOrganizationalUnit(
        self, request: pb.UpdateOrganizationalUnitRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateOrganizationalUnitResponse:
        paths = set(request.update_mask.paths)
        unknown = paths - {"display_name", "invite_sender_address"}
        if unknown or not paths:
            raise InvalidArgument.field(
                "update_mask", "must name display_name and/or invite_sender_address" + (f", not {sorted(unknown)}" if unknown else "")
            )
        given = request.organizational_unit
        unit = await self._units.update(
            given.id,
            given.display_name if "display_name" in paths else None,
            given.invite_sender_address if "invite_sender_address" in paths else None,
        )
        return pb.UpdateOrganizationalUnitResponse(organizational_unit=unit_to_pb(unit))
