"""Outbound port to the directory service: ``ResolveAccount`` over gRPC.

Peer errors are mapped here: UNAVAILABLE, DEADLINE_EXCEEDED (and UNIMPLEMENTED, while directory is
being built) → UNAVAILABLE (DEPENDENCY_UNAVAILABLE, ``dependency=directory``); NOT_FOUND and
INVALID_ARGUMENT keep directory's reason and metadata; anything else is UNAVAILABLE.
"""

from __future__ import annotations

import grpc
from grpc_status import rpc_status

from kit.errors import FieldViolation, InvalidArgument, NotFound, RendezvousError, Unavailable
from kit.grpc_errors import unpack_error
from rendezvous.common.v1 import common_pb2
from rendezvous.directory.v1 import directory_resources_pb2 as dres
from rendezvous.directory.v1 import directory_service_pb2 as dpb
from rendezvous.directory.v1 import directory_service_pb2_grpc as dgrpc
from services.identity.domain.scopes import AccessMode, Provider
from services.identity.domain.verification import (
    AccountInfo,
    AccountSource,
    AccountState,
    CalendarRoute,
    ConnectionState,
    Resolution,
)


class DirectoryClient:
    """Implements the ``DirectoryLookup`` port."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = dgrpc.DirectoryServiceStub(channel)

    async def resolve(self, org_unit_id: str, email: str) -> Resolution:
        try:
            reply = await self._stub.ResolveAccount(dpb.ResolveAccountRequest(org_unit_id=org_unit_id, email=email))
        except grpc.aio.AioRpcError as error:
            raise _mapped(error) from None
        return Resolution(
            account=_account(reply.account) if reply.HasField("account") else None,
            calendar=_route(reply.calendar) if reply.HasField("calendar") else None,
        )


def _account(account: dres.Account) -> AccountInfo | None:
    state = dres.Account.State.Name(account.state).removeprefix("STATE_")
    source = dres.Account.Source.Name(account.source).removeprefix("SOURCE_")
    if state not in AccountState.__members__ or source not in AccountSource.__members__:
        return None
    return AccountInfo(account.id, AccountState(state), AccountSource(source))


def _route(route: dres.CalendarRoute) -> CalendarRoute | None:
    mode = common_pb2.CalendarAccessMode.Name(route.access_mode).removeprefix("CALENDAR_ACCESS_MODE_")
    provider = common_pb2.Provider.Name(route.provider).removeprefix("PROVIDER_")
    state = dres.CalendarConnection.State.Name(route.state).removeprefix("STATE_")
    if mode not in AccessMode.__members__ or state not in ConnectionState.__members__:
        return None
    return CalendarRoute(
        connection_id=route.calendar_connection_id,
        provider=Provider(provider) if provider in Provider.__members__ else None,
        access_mode=AccessMode(mode),
        credential_id=route.credential_id,
        state=ConnectionState(state),
    )


def _mapped(error: grpc.aio.AioRpcError) -> RendezvousError:
    code = error.code()
    try:
        info, violations = unpack_error(rpc_status.from_call(error))
    except ValueError:
        info, violations = None, []
    reason = info.reason if info is not None else None
    metadata = dict(info.metadata) if info is not None else {}
    message = f"directory: {error.details() or code.name}"
    if code is grpc.StatusCode.NOT_FOUND:
        return NotFound(message, reason=reason, metadata=metadata)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(
            message, reason=reason, metadata=metadata, violations=[FieldViolation(f, d) for f, d in violations]
        )
    # UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED (directory not built yet) and anything else: no answer.
    return Unavailable(message, reason="DEPENDENCY_UNAVAILABLE", metadata={"dependency": "directory"})
