"""The exception a Rendezvous call raises, with the rich status details unpacked."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass
class RendezvousError(Exception):
    """A failed call: the gRPC code, the message, and ``ErrorInfo``/``BadRequest`` when present."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[FieldViolation] = field(default_factory=list)
    method: str = ""

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self.method}: {self.code.name}{reason}: {self.message}"

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError, method: str = "") -> RendezvousError:
        out = cls(code=error.code(), message=error.details() or "", method=method)
        for key, value in error.trailing_metadata() or ():
            if key != DETAILS_KEY:
                continue
            status = status_pb2.Status.FromString(value if isinstance(value, bytes) else value.encode())
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    out.reason, out.domain, out.metadata = info.reason, info.domain, dict(info.metadata)
                elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    out.violations = [FieldViolation(v.field, v.description) for v in bad.field_violations]
        return out
