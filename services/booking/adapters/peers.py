"""Outbound adapters to identity, directory and availability over their generated stubs.

Peer failures become kit errors: UNAVAILABLE / DEADLINE_EXCEEDED are retryable
``Unavailable(DEPENDENCY_UNAVAILABLE)`` naming the peer; other codes keep the peer's reason and
metadata (the ``ErrorInfo`` of its rich status) under the matching kit error class.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

import grpc
from google.rpc import status_pb2

from kit import errors
from kit.convert import from_timestamp, to_timestamp
from kit.grpc_errors import STATUS_BY_ERROR, unpack_error
from rendezvous.availability.v1 import availability_resources_pb2 as av_res
from rendezvous.availability.v1 import availability_service_pb2 as av_pb
from rendezvous.availability.v1 import availability_service_pb2_grpc as av_grpc
from rendezvous.common.v1 import common_pb2
from rendezvous.directory.v1 import directory_resources_pb2 as dir_res
from rendezvous.directory.v1 import directory_service_pb2 as dir_pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as dir_grpc
from rendezvous.identity.v1 import identity_resources_pb2 as id_res
from rendezvous.identity.v1 import identity_service_pb2 as id_pb
from rendezvous.identity.v1 import identity_service_pb2_grpc as id_grpc
from services.booking.domain.model import AccessMode, CalendarRoute, ConferencingService, Provider
from services.booking.ports import (
    Account,
    BusyTime,
    ConferencingLink,
    FreeBusy,
    OrgUnit,
    Resolution,
    Room,
    Verification,
)

T = TypeVar("T")
_ERROR_BY_STATUS = {status: error for error, status in STATUS_BY_ERROR.items()}


def enum_name(wrapper: Any, value: int, prefix: str) -> str:
    """``CALENDAR_ACCESS_MODE_READ_WRITE`` → ``READ_WRITE``; unknown numbers → ``UNSPECIFIED``."""
    try:
        return str(wrapper.Name(value)).removeprefix(prefix)
    except ValueError:
        return "UNSPECIFIED"


def peer_error(exc: grpc.aio.AioRpcError, dependency: str) -> errors.RendezvousError:
    code = exc.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        return errors.Unavailable(
            f"the {dependency} service did not answer ({code.name})", reason="DEPENDENCY_UNAVAILABLE",
            metadata={"dependency": dependency},
        )
    status = None
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
    info, violations = unpack_error(status)
    kind = _ERROR_BY_STATUS.get(code, errors.Internal)
    if kind is errors.InvalidArgument:
        kind = errors.Internal  # we sent something the peer refused: our bug, not the caller's input
    return kind(
        f"{dependency}: {exc.details() or code.name}",
        reason=info.reason if info and info.reason else None,
        metadata=dict(info.metadata) if info else {},
    )


async def _call(dependency: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise peer_error(exc, dependency) from None


class GrpcIdentity:
    """VerifyOrganizer and GetAccessToken (GetCredential tells whether a subject may be passed)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = id_grpc.IdentityServiceStub(channel)
        self._org_wide: dict[tuple[str, str], bool] = {}

    async def verify_organizer(self, org_unit_id: str, email: str) -> Verification:
        answer = await _call("identity", self._stub.VerifyOrganizer(
            id_pb.VerifyOrganizerRequest(org_unit_id=org_unit_id, email=email)))
        mode = enum_name(common_pb2.CalendarAccessMode, answer.access_mode, "CALENDAR_ACCESS_MODE_")
        return Verification(
            verified=answer.verified, reason=answer.reason,
            method=enum_name(id_pb.VerificationMethod, answer.method, "VERIFICATION_METHOD_"),
            access_mode=AccessMode(mode) if mode in AccessMode.__members__ else None,
        )

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        key = (org_unit_id, credential_id)
        if subject and key not in self._org_wide:
            credential = await _call("identity", self._stub.GetCredential(
                id_pb.GetCredentialRequest(org_unit_id=org_unit_id, credential_id=credential_id)))
            self._org_wide[key] = credential.credential.kind == id_res.Credential.KIND_ORGANIZATION_WIDE
        answer = await _call("identity", self._stub.GetAccessToken(id_pb.GetAccessTokenRequest(
            org_unit_id=org_unit_id, credential_id=credential_id,
            subject=subject if subject and self._org_wide.get(key) else "", rejected_access_token=rejected,
        )))
        return str(answer.access_token)


class GrpcDirectory:
    def __init__(self, channel: grpc.aio.Channel, default_sender: str) -> None:
        self._stub = dir_grpc.DirectoryServiceStub(channel)
        self._default_sender = default_sender

    async def get_unit(self, org_unit_id: str) -> OrgUnit:
        try:
            answer = await _call("directory", self._stub.GetOrganizationalUnit(
                dir_pb.GetOrganizationalUnitRequest(org_unit_id=org_unit_id)))
        except errors.NotFound as exc:
            raise errors.NotFound(
                f"organizational unit {org_unit_id!r} does not exist", reason="ORGANIZATIONAL_UNIT_NOT_FOUND",
                metadata={"org_unit_id": org_unit_id, **exc.metadata},
            ) from None
        unit = answer.organizational_unit
        return OrgUnit(unit.id, unit.display_name, unit.invite_sender_address or self._default_sender)

    async def resolve(self, org_unit_id: str, email: str) -> Resolution:
        answer = await _call("directory", self._stub.ResolveAccount(
            dir_pb.ResolveAccountRequest(org_unit_id=org_unit_id, email=email)))
        account = None
        if answer.HasField("account"):
            a = answer.account
            account = Account(a.email, a.display_name, a.time_zone, a.external_id,
                              a.state == dir_res.Account.STATE_ACTIVE)
        route, active, state = None, False, ""
        if answer.HasField("calendar"):
            c = answer.calendar
            mode = enum_name(common_pb2.CalendarAccessMode, c.access_mode, "CALENDAR_ACCESS_MODE_")
            provider = enum_name(common_pb2.Provider, c.provider, "PROVIDER_")
            state = enum_name(dir_res.CalendarConnection.State, c.state, "STATE_")
            if mode in AccessMode.__members__:
                route = CalendarRoute(
                    access_mode=AccessMode(mode),
                    provider=Provider(provider) if provider in Provider.__members__ else Provider.UNSPECIFIED,
                    calendar_connection_id=c.calendar_connection_id,
                    credential_id=c.credential_id,
                )
                active = c.state == dir_res.CalendarConnection.STATE_ACTIVE
        links = []
        for link in answer.conferencing_links:
            service = enum_name(common_pb2.ConferencingService, link.service, "CONFERENCING_SERVICE_")
            if service in ConferencingService.__members__ and service != "NONE":
                links.append(ConferencingLink(link.conferencing_connection_id, ConferencingService(service),
                                              link.credential_id, link.external_user_id))
        room = Room(answer.room.email, answer.room.display_name) if answer.HasField("room") else None
        return Resolution(account, route, active, state, tuple(links), room)


class GrpcAvailability:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = av_grpc.AvailabilityServiceStub(channel)

    async def free_busy(self, org_unit_id: str, email: str, start: datetime, end: datetime) -> FreeBusy:
        answer = await _call("availability", self._stub.GetFreeBusy(av_pb.GetFreeBusyRequest(
            org_unit_id=org_unit_id, email=email,
            window=common_pb2.TimeRange(start_time=to_timestamp(start), end_time=to_timestamp(end)),
        )))
        diagnostics = answer.diagnostics
        known = diagnostics.status == av_res.MemberDiagnostics.STATUS_OK
        reason = ",".join(f.reason for f in diagnostics.failures) or enum_name(
            av_res.MemberDiagnostics.Status, diagnostics.status, "STATUS_")
        busy = tuple(
            BusyTime(
                start=from_timestamp(p.start_time) or start, end=from_timestamp(p.end_time) or end,
                booking_id=p.booking_id, source=enum_name(av_res.Source, p.source, "SOURCE_"),
            )
            for p in answer.busy_periods
        )
        return FreeBusy(email=email, busy=busy, known=known, reason="" if known else reason)
