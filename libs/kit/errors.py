"""Errors the domains and use cases raise; the gRPC edge maps them in one table.

This module is pure Python so that a domain may import it. Each error carries a stable
``reason`` from the catalogue in ``protos/rendezvous/common/v1/error_reason.proto``
(the value name without its ``ERROR_REASON_`` prefix), a short message meant for the
calling engineer, string metadata, and for bad input the offending fields.

    RendezvousError
    ├── InvalidArgument        bad input; names the fields (BadRequest field violations)
    ├── NotFound               an id or email that does not exist in the caller's unit
    ├── AlreadyExists          a create that collides (unique constraint, reused request_id)
    ├── FailedPrecondition     the request is valid but the system's state forbids it
    ├── Aborted                lost a race (slot taken meanwhile); the caller may retry later
    ├── Unauthenticated        the caller did not prove who it is
    ├── PermissionDenied       the caller may not do this
    ├── ResourceExhausted      a limit or quota was hit
    ├── Unavailable            a dependency (provider, SMTP, database, peer service) failed
    ├── DeadlineExceeded       a dependency did not answer in time
    ├── Unimplemented          the RPC exists in the contract but is not built yet
    └── Internal               a bug; the message is generic, details go to the log only
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: ``field`` is the request field path (``attendees[2].email``)."""

    field: str
    description: str


class RendezvousError(Exception):
    """Base of every error that crosses a service edge with a stable reason."""

    default_reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
        domain: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})
        self.violations = tuple(violations)
        # Set only when relaying another service's error, so its ErrorInfo.domain survives.
        self.domain = domain
        if self.violations and "field" not in self.metadata:
            self.metadata["field"] = self.violations[0].field

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"


class InvalidArgument(RendezvousError):
    default_reason = "FIELD_INVALID"

    @classmethod
    def field(cls, field: str, description: str, *, reason: str | None = None) -> InvalidArgument:
        """The common case: one field is wrong; the message names it."""
        return cls(f"{field}: {description}", reason=reason, violations=[FieldViolation(field, description)])


class NotFound(RendezvousError):
    default_reason = "RESOURCE_NOT_FOUND"


class AlreadyExists(RendezvousError):
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(RendezvousError):
    default_reason = "FAILED_PRECONDITION"


class Aborted(RendezvousError):
    default_reason = "ABORTED"


class Unauthenticated(RendezvousError):
    default_reason = "SERVICE_TOKEN_INVALID"


class PermissionDenied(RendezvousError):
    default_reason = "PERMISSION_DENIED"


class ResourceExhausted(RendezvousError):
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(RendezvousError):
    default_reason = "DEPENDENCY_UNAVAILABLE"


class DeadlineExceeded(RendezvousError):
    default_reason = "DEPENDENCY_UNAVAILABLE"


class Unimplemented(RendezvousError):
    default_reason = "NOT_IMPLEMENTED"


class Internal(RendezvousError):
    default_reason = "INTERNAL"


class Validator:
    """Collects every field violation of a request, then raises them together.

    >>> v = Validator()
    >>> v.check(bool(email), "organizer_email", "is required")
    >>> v.raise_if_any()
    """

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def check(self, ok: bool, field: str, description: str) -> bool:
        if not ok:
            self.add(field, description)
        return ok

    def raise_if_any(self, reason: str | None = None) -> None:
        if self.violations:
            summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
            raise InvalidArgument(summary, reason=reason, violations=self.violations)
