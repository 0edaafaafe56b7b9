"""The ``Identity`` port over gRPC: identity's generated stub on a peer channel (service token,
request id and a deadline on every call), its errors mapped back to kit errors by ErrorInfo reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2

from kit import errors
from kit.channels import peer_channel
from rendezvous.common.v1 import common_pb2
from rendezvous.identity.v1 import identity_resources_pb2 as ires
from rendezvous.identity.v1 import identity_service_pb2 as ipb
from rendezvous.identity.v1 import identity_service_pb2_grpc as ipb_grpc
from services.directory.adapters.enums import (
    GRANT_TO_PB,
    MODE_FROM_PB,
    MODE_TO_PB,
    PROVIDER_FROM_PB,
    PROVIDER_TO_PB,
)
from services.directory.domain.model import Purpose
from services.directory.ports import Authorization, AuthorizationRequest, AuthorizationState, Credential

T = TypeVar("T")

PURPOSE_TO_PB = {
    Purpose.CALENDAR: ires.PURPOSE_CALENDAR,
    Purpose.DIRECTORY: ires.PURPOSE_DIRECTORY,
    Purpose.CONFERENCING: ires.PURPOSE_CONFERENCING,
}
PURPOSE_FROM_PB = {v: k for k, v in PURPOSE_TO_PB.items()}
AUTH_STATE_FROM_PB = {
    ires.Authorization.STATE_PENDING: AuthorizationState.PENDING,
    ires.Authorization.STATE_COMPLETED: AuthorizationState.COMPLETED,
    ires.Authorization.STATE_FAILED: AuthorizationState.FAILED,
    ires.Authorization.STATE_EXPIRED: AuthorizationState.EXPIRED,
}
_BY_CODE: dict[grpc.StatusCode, type[errors.RendezvousError]] = {
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
}
TOKEN_MIN_VALIDITY = Duration(seconds=300)


def peer_error(error: grpc.aio.AioRpcError, peer: str) -> errors.RendezvousError:
    """A kit error for a failed call to another Rendezvous service, keeping its reason."""
    code = error.code()
    reason, violations = _details(error)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        return errors.Unavailable(f"{peer} is unavailable: {code.name}", reason="DEPENDENCY_UNAVAILABLE")
    kind = _BY_CODE.get(code)
    if kind is None:
        return errors.Unavailable(f"{peer} failed: {code.name} {error.details() or ''}".strip(),
                                  reason="DEPENDENCY_UNAVAILABLE")  # fmt: skip
    return kind(f"{peer}: {error.details() or code.name}", reason=reason or None, violations=violations)


def _details(error: grpc.aio.AioRpcError) -> tuple[str, list[errors.FieldViolation]]:
    raw = next((v for k, v in (error.trailing_metadata() or ()) if k == "grpc-status-details-bin"), None)
    if not isinstance(raw, bytes):
        return "", []
    status = status_pb2.Status.FromString(raw)
    reason, violations = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [errors.FieldViolation(v.field, v.description) for v in bad.field_violations]
    return reason, violations


def _authorization(a: ires.Authorization) -> Authorization:
    return Authorization(
        id=a.id,
        url=a.authorization_url,
        state=AUTH_STATE_FROM_PB.get(a.state, AuthorizationState.PENDING),
        credential_id=a.credential_id,
        failure_reason=a.failure_reason,
        failure_message=a.failure_message,
    )


class GrpcIdentity:
    """Identity over gRPC; ``close()`` on shutdown."""

    def __init__(self, address: str, token: str, deadline_seconds: float) -> None:
        self._channel = peer_channel(address, token, deadline_seconds)
        self._stub = ipb_grpc.IdentityServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: Callable[[Any], Awaitable[T]], request: Any) -> T:
        try:
            return await method(request)
        except grpc.aio.AioRpcError as error:
            raise peer_error(error, "identity") from error

    async def start_authorization(self, request: AuthorizationRequest) -> Authorization:
        answer = await self._call(self._stub.StartAuthorization, ipb.StartAuthorizationRequest(
            org_unit_id=request.org_unit_id,
            provider=PROVIDER_TO_PB[request.provider],
            purpose=PURPOSE_TO_PB[request.purpose],
            access_mode=MODE_TO_PB[request.access_mode] if request.access_mode else common_pb2.CALENDAR_ACCESS_MODE_UNSPECIFIED,
            grant=GRANT_TO_PB[request.grant],
            return_uri=request.return_uri,
            request_id=request.request_id,
        ))  # fmt: skip
        return _authorization(answer.authorization)

    async def get_authorization(self, org_unit_id: str, authorization_id: str) -> Authorization:
        answer = await self._call(self._stub.GetAuthorization, ipb.GetAuthorizationRequest(
            org_unit_id=org_unit_id, authorization_id=authorization_id))  # fmt: skip
        return _authorization(answer.authorization)

    async def get_credential(self, org_unit_id: str, credential_id: str) -> Credential:
        answer = await self._call(self._stub.GetCredential, ipb.GetCredentialRequest(
            org_unit_id=org_unit_id, credential_id=credential_id))  # fmt: skip
        c = answer.credential
        return Credential(
            id=c.id,
            provider=PROVIDER_FROM_PB.get(c.provider, PROVIDER_FROM_PB[common_pb2.PROVIDER_UNSPECIFIED]),
            purpose=PURPOSE_FROM_PB.get(c.purpose),
            access_mode=MODE_FROM_PB.get(c.access_mode),
            organization_wide=c.kind == ires.Credential.KIND_ORGANIZATION_WIDE,
            active=c.state == ires.Credential.STATE_ACTIVE,
        )

    async def revoke_credential(self, org_unit_id: str, credential_id: str) -> None:
        await self._call(self._stub.RevokeCredential, ipb.RevokeCredentialRequest(
            org_unit_id=org_unit_id, credential_id=credential_id))  # fmt: skip

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        answer = await self._call(self._stub.GetAccessToken, ipb.GetAccessTokenRequest(
            org_unit_id=org_unit_id, credential_id=credential_id, subject=subject,
            min_validity=TOKEN_MIN_VALIDITY, rejected_access_token=rejected))  # fmt: skip
        return answer.access_token
