import grpc
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from kit import errors
from kit.grpc_errors import status_code_for, to_status, unpack_error


def _rich(status: grpc.Status) -> status_pb2.Status:
    (key, value), *_ = [m for m in status.trailing_metadata if m[0] == "grpc-status-details-bin"]
    return status_pb2.Status.FromString(value)


def test_every_error_kind_maps_to_its_own_status_code():
    expected = {
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
    for cls, code in expected.items():
        assert status_code_for(cls("x")) is code


def test_a_subclass_of_a_kind_takes_the_kinds_code():
    class SlotTaken(errors.Aborted):
        default_reason = "SLOT_UNAVAILABLE"

    exc = SlotTaken("taken")
    assert status_code_for(exc) is grpc.StatusCode.ABORTED
    assert exc.reason == "SLOT_UNAVAILABLE"


def test_rich_status_carries_error_info_and_field_violations():
    v = errors.Validator()
    v.add("end_time", "must be after start_time")
    v.add("attendees[1].email", "is not an email address")
    try:
        v.raise_if_any()
    except errors.InvalidArgument as exc:
        status = to_status(exc, "booking.rendezvous")
    assert status.code is grpc.StatusCode.INVALID_ARGUMENT
    rich = _rich(status)
    assert rich.code == code_pb2.INVALID_ARGUMENT
    info, violations = unpack_error(rich)
    assert info is not None
    assert (info.reason, info.domain) == ("FIELD_INVALID", "booking.rendezvous")
    assert violations == [("end_time", "must be after start_time"), ("attendees[1].email", "is not an email address")]
    assert dict(info.metadata) == {"field": "end_time"}
    assert "end_time" in status.details


def test_metadata_travels_in_error_info():
    exc = errors.FailedPrecondition("missing scopes", reason="INSUFFICIENT_SCOPES", metadata={"missing_scopes": "a b"})
    info, violations = unpack_error(_rich(to_status(exc, "identity.rendezvous")))
    assert info is not None and dict(info.metadata) == {"missing_scopes": "a b"}
    assert violations == []


def test_rpc_status_round_trip_is_consistent():
    status = to_status(errors.NotFound("no such unit", reason="ORGANIZATIONAL_UNIT_NOT_FOUND"), "directory.rendezvous")
    assert rpc_status.to_status(_rich(status)).code is grpc.StatusCode.NOT_FOUND


def test_a_relayed_error_keeps_the_domain_of_the_service_that_raised_it():
    exc = errors.NotFound("no such unit", reason="ORGANIZATIONAL_UNIT_NOT_FOUND", domain="directory.rendezvous")
    info, _ = unpack_error(_rich(to_status(exc, "booking.rendezvous")))
    assert info is not None and info.domain == "directory.rendezvous"
