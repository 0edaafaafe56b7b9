"""The one table from domain errors to gRPC status codes, and the rich status built from them.

A :class:`~kit.errors.RendezvousError` becomes a ``google.rpc.Status`` whose details hold an
``ErrorInfo`` (stable ``reason``, the service's ``domain``, string metadata) and, for bad input,
a ``BadRequest`` with one field violation per offending field.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from kit import errors

STATUS_BY_ERROR: dict[type[errors.RendezvousError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
    errors.Internal: grpc.StatusCode.INTERNAL,
}


def status_code_for(exc: errors.RendezvousError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def to_status(exc: errors.RendezvousError, domain: str) -> grpc.Status:
    """Build the ``grpc.Status`` (with rich details in trailing metadata) for ``exc``."""
    code = status_code_for(exc)
    info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=exc.domain or domain, metadata=exc.metadata)
    details = [_pack(info)]
    if exc.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in exc.violations
            ]
        )
        details.append(_pack(bad))
    message = status_pb2.Status(code=getattr(code_pb2, code.name), message=exc.message, details=details)
    return rpc_status.to_status(message)


def _pack(msg: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(msg)  # type: ignore[arg-type]
    return packed


def unpack_error(status: status_pb2.Status | None) -> tuple[error_details_pb2.ErrorInfo | None, list[tuple[str, str]]]:
    """Client side: the ``ErrorInfo`` and ``(field, description)`` violations of a rich status."""
    info = None
    violations: list[tuple[str, str]] = []
    if status is None:
        return info, violations
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.extend((v.field, v.description) for v in bad.field_violations)
    return info, violations
