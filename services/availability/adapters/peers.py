"""Outbound gRPC adapters to directory, identity and booking (the ports in ``ports.py``).

Peer errors become kit errors: UNAVAILABLE, DEADLINE_EXCEEDED and anything else that says the peer
could not answer → ``Unavailable`` (DEPENDENCY_UNAVAILABLE, metadata ``dependency``); NOT_FOUND,
FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED and RESOURCE_EXHAUSTED keep the peer's ErrorInfo reason
and metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2

from kit import errors
from rendezvous.booking.v1 import booking_service_pb2 as booking_pb
from rendezvous.booking.v1 import booking_service_pb2_grpc as booking_grpc
from rendezvous.common.v1 import common_pb2
from rendezvous.directory.v1 import directory_resources_pb2 as directory_res
from rendezvous.directory.v1 import directory_service_pb2 as directory_pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as directory_grpc
from rendezvous.identity.v1 import identity_resources_pb2 as identity_res
from rendezvous.identity.v1 import identity_service_pb2 as identity_pb
from rendezvous.identity.v1 import identity_service_pb2_grpc as identity_grpc
from services.availability.domain.model import (
    AccessMode,
    AccountState,
    BookingBusy,
    CalendarRoute,
    ConnectionState,
    Credential,
    CredentialKind,
    Provider,
    Resolution,
)

#: Booking's ListBusyPeriods takes windows of at most 42 days; longer ones are asked in pieces.
BOOKING_WINDOW = 42 * 86400
BOOKING_PAGE = 5000
_KEPT = {
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.ABORTED: errors.Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
}


def peer_error(exc: grpc.aio.AioRpcError, dependency: str) -> errors.RendezvousError:
    """The kit error for a failed call to ``dependency``."""
    info = _error_info(exc)
    kind = _KEPT.get(exc.code())
    if kind is not None and info is not None:
        return kind(exc.details() or f"{dependency} refused the call", reason=info.reason, metadata=dict(info.metadata))
    said = f" ({info.reason})" if info is not None else ""
    return errors.Unavailable(
        f"{dependency} did not answer: {exc.code().name}{said}",
        reason="DEPENDENCY_UNAVAILABLE",
        metadata={"dependency": dependency},
    )


def _error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    return info
    return None


def _provider(value: int) -> Provider | None:
    if value == common_pb2.PROVIDER_GOOGLE:
        return Provider.GOOGLE
    if value == common_pb2.PROVIDER_MICROSOFT:
        return Provider.MICROSOFT
    return None


class DirectoryClient:
    """``Directory`` over directory's ``ResolveAccount``."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = directory_grpc.DirectoryServiceStub(channel)

    async def resolve(self, org_unit_id: str, email: str) -> Resolution:
        try:
            answer = await self._stub.ResolveAccount(
                directory_pb.ResolveAccountRequest(org_unit_id=org_unit_id, email=email)
            )
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, "directory") from exc
        account_state = None
        if answer.HasField("account"):
            account_state = {
                directory_res.Account.STATE_ACTIVE: AccountState.ACTIVE,
                directory_res.Account.STATE_SUSPENDED: AccountState.SUSPENDED,
                directory_res.Account.STATE_DEACTIVATED: AccountState.DEACTIVATED,
            }.get(answer.account.state, AccountState.ACTIVE)
        route = None
        if answer.HasField("calendar"):
            c = answer.calendar
            mode = {
                common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE: AccessMode.READ_WRITE,
                common_pb2.CALENDAR_ACCESS_MODE_FREE_BUSY: AccessMode.FREE_BUSY,
                common_pb2.CALENDAR_ACCESS_MODE_NO_ACCESS: AccessMode.NO_ACCESS,
            }.get(c.access_mode)
            state = {
                directory_res.CalendarConnection.STATE_PENDING_AUTHORIZATION: ConnectionState.PENDING_AUTHORIZATION,
                directory_res.CalendarConnection.STATE_ACTIVE: ConnectionState.ACTIVE,
                directory_res.CalendarConnection.STATE_NEEDS_REAUTHORIZATION: ConnectionState.NEEDS_REAUTHORIZATION,
                directory_res.CalendarConnection.STATE_DISCONNECTED: ConnectionState.DISCONNECTED,
            }.get(c.state, ConnectionState.PENDING_AUTHORIZATION)
            if mode is not None:
                route = CalendarRoute(c.calendar_connection_id, _provider(c.provider), mode, c.credential_id, state)
        return Resolution(email, account_state, route)


class IdentityClient:
    """``Identity`` over identity's ``GetCredential`` (remembered: a credential's kind never changes)
    and ``GetAccessToken``."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = identity_grpc.IdentityServiceStub(channel)
        self._credentials: dict[tuple[str, str], Credential] = {}

    async def credential(self, org_unit_id: str, credential_id: str) -> Credential:
        key = (org_unit_id, credential_id)
        known = self._credentials.get(key)
        if known is not None:
            return known
        try:
            answer = await self._stub.GetCredential(
                identity_pb.GetCredentialRequest(org_unit_id=org_unit_id, credential_id=credential_id)
            )
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, "identity") from exc
        c = answer.credential
        kind = (
            CredentialKind.ORGANIZATION_WIDE
            if c.kind == identity_res.Credential.KIND_ORGANIZATION_WIDE
            else CredentialKind.USER_DELEGATED
        )
        found = Credential(credential_id, kind, c.subject_email.lower())
        if len(self._credentials) > 10_000:
            self._credentials.clear()
        self._credentials[key] = found
        return found

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        try:
            answer = await self._stub.GetAccessToken(
                identity_pb.GetAccessTokenRequest(org_unit_id=org_unit_id, credential_id=credential_id, subject=subject,
                                                  rejected_access_token=rejected)  # fmt: skip
            )
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, "identity") from exc
        return str(answer.access_token)


class BookingClient:
    """``Bookings`` over booking's ``ListBusyPeriods`` (every page, windows of at most 42 days)."""

    def __init__(self, channel: grpc.aio.Channel, page_size: int = BOOKING_PAGE) -> None:
        self._stub = booking_grpc.BookingServiceStub(channel)
        self._page_size = page_size

    async def busy_periods(self, org_unit_id: str, emails: Sequence[str], window: tuple[int, int]) -> list[BookingBusy]:
        found: set[BookingBusy] = set()
        lo, hi = window
        while lo < hi:
            piece_end = min(hi, lo + BOOKING_WINDOW)
            found.update(await self._pages(org_unit_id, emails, lo, piece_end))
            lo = piece_end
        return sorted(found)

    async def _pages(self, org_unit_id: str, emails: Sequence[str], lo: int, hi: int) -> list[BookingBusy]:
        out: list[BookingBusy] = []
        token = ""
        while True:
            request = booking_pb.ListBusyPeriodsRequest(
                org_unit_id=org_unit_id,
                emails=list(emails),
                window=common_pb2.TimeRange(start_time=Timestamp(seconds=lo), end_time=Timestamp(seconds=hi)),
                page_size=self._page_size,
                page_token=token,
            )
            try:
                answer = await self._stub.ListBusyPeriods(request)
            except grpc.aio.AioRpcError as exc:
                raise peer_error(exc, "booking") from exc
            for p in answer.busy_periods:
                end = p.end_time.seconds + (1 if p.end_time.nanos else 0)
                out.append(BookingBusy(p.email.lower(), p.start_time.seconds, end, p.booking_id))
            token = answer.next_page_token
            if not token:
                return out
