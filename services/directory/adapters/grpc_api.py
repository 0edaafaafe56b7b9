"""gRPC edge of the directory service: protobuf in, use cases, protobuf out (errors are mapped by the
kit's interceptor from the kit errors the use cases raise)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kit.convert import from_duration
from kit.errors import InvalidArgument
from rendezvous.directory.v1 import directory_resources_pb2 as res
from rendezvous.directory.v1 import directory_service_pb2 as pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as pb_grpc
from services.directory.adapters.grpc_convert import (
    account_state_of,
    account_to_pb,
    calendar_to_pb,
    conferencing_to_pb,
    directory_to_pb,
    grant_of,
    link_to_pb,
    mode_of,
    provider_of,
    room_to_pb,
    route_to_pb,
    run_to_pb,
    service_of,
    unit_to_pb,
)
from services.directory.domain.model import DirectoryConnection
from services.directory.usecases import (
    CALENDAR,
    CONFERENCING,
    DIRECTORY,
    AccountsUseCases,
    ConnectionsUseCases,
    OrganizationalUnitsUseCases,
    ResolveUseCases,
    SyncUseCases,
)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DirectoryService"].full_name

Ctx: TypeAlias = grpc.aio.ServicerContext  # keeps the signatures short


class DirectoryServicer(pb_grpc.DirectoryServiceServicer):
    def __init__(self, units: OrganizationalUnitsUseCases, connections: ConnectionsUseCases,
                 accounts: AccountsUseCases, resolve: ResolveUseCases, sync: SyncUseCases) -> None:  # fmt: skip
        self._units = units
        self._connections = connections
        self._accounts = accounts
        self._resolve = resolve
        self._sync = sync

    # ---------------------------------------------------------------------------------- units

    async def CreateOrganizationalUnit(self, request: pb.CreateOrganizationalUnitRequest,
                                       context: Ctx) -> pb.CreateOrganizationalUnitResponse:  # fmt: skip
        unit = await self._units.create(request.display_name, request.invite_sender_address, request.request_id)
        return pb.CreateOrganizationalUnitResponse(organizational_unit=unit_to_pb(unit))

    async def GetOrganizationalUnit(self, request: pb.GetOrganizationalUnitRequest,
                                    context: Ctx) -> pb.GetOrganizationalUnitResponse:  # fmt: skip
        return pb.GetOrganizationalUnitResponse(organizational_unit=unit_to_pb(await self._units.get(request.org_unit_id)))

    async def ListOrganizationalUnits(self, request: pb.ListOrganizationalUnitsRequest,
                                      context: Ctx) -> pb.ListOrganizationalUnitsResponse:  # fmt: skip
        page = await self._units.list(request.page_size, request.page_token)
        return pb.ListOrganizationalUnitsResponse(
            organizational_units=[unit_to_pb(u) for u in page.items], next_page_token=page.next_page_token
        )

    async def UpdateOrganizationalUnit(self, request: pb.UpdateOrganizationalUnitRequest,
                                       context: Ctx) -> pb.UpdateOrganizationalUnitResponse:  # fmt: skip
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

    # ------------------------------------------------------------------------------ calendars

    async def ConnectCalendarService(self, request: pb.ConnectCalendarServiceRequest,
                                     context: Ctx) -> pb.ConnectCalendarServiceResponse:  # fmt: skip
        done = await self._connections.connect_calendar(
            request.org_unit_id, provider_of(request.provider), mode_of(request.access_mode), list(request.domains),
            request.credential_id, grant_of(request.grant), request.return_uri, request.request_id,
        )  # fmt: skip
        return pb.ConnectCalendarServiceResponse(calendar_connection=calendar_to_pb(done.connection),
                                                 authorization_url=done.authorization_url)  # fmt: skip

    async def GetCalendarService(self, request: pb.GetCalendarServiceRequest,
                                 context: Ctx) -> pb.GetCalendarServiceResponse:  # fmt: skip
        connection = await self._connections.get(CALENDAR, request.org_unit_id, request.calendar_connection_id)
        return pb.GetCalendarServiceResponse(calendar_connection=calendar_to_pb(connection))

    async def ListCalendarServices(self, request: pb.ListCalendarServicesRequest,
                                   context: Ctx) -> pb.ListCalendarServicesResponse:  # fmt: skip
        page = await self._connections.list(CALENDAR, request.org_unit_id, request.page_size, request.page_token,
                                            request.show_disconnected)  # fmt: skip
        return pb.ListCalendarServicesResponse(calendar_connections=[calendar_to_pb(c) for c in page.items],
                                               next_page_token=page.next_page_token)  # fmt: skip

    async def DisconnectCalendarService(self, request: pb.DisconnectCalendarServiceRequest,
                                        context: Ctx) -> pb.DisconnectCalendarServiceResponse:  # fmt: skip
        connection = await self._connections.disconnect(CALENDAR, request.org_unit_id, request.calendar_connection_id)
        return pb.DisconnectCalendarServiceResponse(calendar_connection=calendar_to_pb(connection))

    # ---------------------------------------------------------------------------- directories

    async def _directory_pb(self, connection: DirectoryConnection) -> res.DirectoryConnection:
        return directory_to_pb(connection, await self._sync.last_run(connection))

    async def ConnectDirectoryService(self, request: pb.ConnectDirectoryServiceRequest,
                                      context: Ctx) -> pb.ConnectDirectoryServiceResponse:  # fmt: skip
        done = await self._connections.connect_directory(
            request.org_unit_id, provider_of(request.provider), list(request.domains), request.credential_id,
            grant_of(request.grant), request.return_uri, from_duration(request.sync_interval),
            request.max_deactivation_ratio, request.api_server_url, request.request_id,
        )  # fmt: skip
        return pb.ConnectDirectoryServiceResponse(directory_connection=await self._directory_pb(done.connection),
                                                  authorization_url=done.authorization_url)  # fmt: skip

    async def GetDirectoryService(self, request: pb.GetDirectoryServiceRequest,
                                  context: Ctx) -> pb.GetDirectoryServiceResponse:  # fmt: skip
        connection = await self._connections.get(DIRECTORY, request.org_unit_id, request.directory_connection_id)
        return pb.GetDirectoryServiceResponse(directory_connection=await self._directory_pb(connection))

    async def ListDirectoryServices(self, request: pb.ListDirectoryServicesRequest,
                                    context: Ctx) -> pb.ListDirectoryServicesResponse:  # fmt: skip
        page = await self._connections.list(DIRECTORY, request.org_unit_id, request.page_size, request.page_token,
                                            request.show_disconnected)  # fmt: skip
        return pb.ListDirectoryServicesResponse(
            directory_connections=[await self._directory_pb(c) for c in page.items],
            next_page_token=page.next_page_token,
        )

    async def DisconnectDirectoryService(self, request: pb.DisconnectDirectoryServiceRequest,
                                         context: Ctx) -> pb.DisconnectDirectoryServiceResponse:  # fmt: skip
        connection = await self._connections.disconnect(DIRECTORY, request.org_unit_id, request.directory_connection_id)
        return pb.DisconnectDirectoryServiceResponse(directory_connection=await self._directory_pb(connection))

    # --------------------------------------------------------------------------- conferencing

    async def ConnectConferencingService(self, request: pb.ConnectConferencingServiceRequest,
                                         context: Ctx) -> pb.ConnectConferencingServiceResponse:  # fmt: skip
        done = await self._connections.connect_conferencing(
            request.org_unit_id, service_of(request.service), request.credential_id, grant_of(request.grant),
            request.return_uri, request.request_id,
        )  # fmt: skip
        return pb.ConnectConferencingServiceResponse(conferencing_connection=conferencing_to_pb(done.connection),
                                                     authorization_url=done.authorization_url)  # fmt: skip

    async def GetConferencingService(self, request: pb.GetConferencingServiceRequest,
                                     context: Ctx) -> pb.GetConferencingServiceResponse:  # fmt: skip
        connection = await self._connections.get(CONFERENCING, request.org_unit_id, request.conferencing_connection_id)
        return pb.GetConferencingServiceResponse(conferencing_connection=conferencing_to_pb(connection))

    async def ListConferencingServices(self, request: pb.ListConferencingServicesRequest,
                                       context: Ctx) -> pb.ListConferencingServicesResponse:  # fmt: skip
        page = await self._connections.list(CONFERENCING, request.org_unit_id, request.page_size, request.page_token,
                                            request.show_disconnected)  # fmt: skip
        return pb.ListConferencingServicesResponse(conferencing_connections=[conferencing_to_pb(c) for c in page.items],
                                                   next_page_token=page.next_page_token)  # fmt: skip

    async def DisconnectConferencingService(self, request: pb.DisconnectConferencingServiceRequest,
                                            context: Ctx) -> pb.DisconnectConferencingServiceResponse:  # fmt: skip
        connection = await self._connections.disconnect(CONFERENCING, request.org_unit_id,
                                                        request.conferencing_connection_id)  # fmt: skip
        return pb.DisconnectConferencingServiceResponse(conferencing_connection=conferencing_to_pb(connection))

    # ------------------------------------------------------------------------ accounts, rooms

    async def CreateAccount(self, request: pb.CreateAccountRequest, context: Ctx) -> pb.CreateAccountResponse:
        account = await self._accounts.create(request.org_unit_id, request.email, request.display_name,
                                              request.time_zone, request.request_id)  # fmt: skip
        return pb.CreateAccountResponse(account=account_to_pb(account))

    async def GetAccount(self, request: pb.GetAccountRequest, context: Ctx) -> pb.GetAccountResponse:
        return pb.GetAccountResponse(account=account_to_pb(await self._accounts.get(request.org_unit_id, request.account_id)))

    async def ListAccounts(self, request: pb.ListAccountsRequest, context: Ctx) -> pb.ListAccountsResponse:
        page = await self._accounts.list(request.org_unit_id, account_state_of(request.state),
                                         request.directory_connection_id, request.page_size, request.page_token)  # fmt: skip
        return pb.ListAccountsResponse(accounts=[account_to_pb(a) for a in page.items],
                                       next_page_token=page.next_page_token)  # fmt: skip

    async def ListRooms(self, request: pb.ListRoomsRequest, context: Ctx) -> pb.ListRoomsResponse:
        page = await self._accounts.list_rooms(request.org_unit_id, request.page_size, request.page_token)
        return pb.ListRoomsResponse(rooms=[room_to_pb(r) for r in page.items], next_page_token=page.next_page_token)

    async def ResolveAccount(self, request: pb.ResolveAccountRequest, context: Ctx) -> pb.ResolveAccountResponse:
        found = await self._resolve.resolve(request.org_unit_id, request.email)
        return pb.ResolveAccountResponse(
            account=account_to_pb(found.account) if found.account else None,
            calendar=route_to_pb(found.calendar) if found.calendar else None,
            conferencing_links=[link_to_pb(link) for link in found.links],
            room=room_to_pb(found.room) if found.room else None,
        )

    # ----------------------------------------------------------------------------------- sync

    async def SyncDirectory(self, request: pb.SyncDirectoryRequest, context: Ctx) -> pb.SyncDirectoryResponse:
        run = await self._sync.start(request.org_unit_id, request.directory_connection_id, request.force,
                                     request.full, request.request_id)  # fmt: skip
        return pb.SyncDirectoryResponse(sync_run=run_to_pb(run))

    async def GetSyncRun(self, request: pb.GetSyncRunRequest, context: Ctx) -> pb.GetSyncRunResponse:
        return pb.GetSyncRunResponse(sync_run=run_to_pb(await self._sync.get_run(request.org_unit_id, request.sync_run_id)))

    async def ListSyncRuns(self, request: pb.ListSyncRunsRequest, context: Ctx) -> pb.ListSyncRunsResponse:
        page = await self._sync.list_runs(request.org_unit_id, request.directory_connection_id, request.page_size,
                                          request.page_token)  # fmt: skip
        return pb.ListSyncRunsResponse(sync_runs=[run_to_pb(r) for r in page.items], next_page_token=page.next_page_token)
