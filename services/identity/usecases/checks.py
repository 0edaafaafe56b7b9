"""Input checks shared by the identity use cases (INVALID_ARGUMENT naming every bad field)."""

from __future__ import annotations

import re

from kit.errors import InvalidArgument, NotFound, Validator
from kit.validation import MAX_EMAIL_LENGTH, is_email, normalize_email

MAX_ID_LENGTH = 64
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")


class Checks(Validator):
    """A :class:`~kit.errors.Validator` whose error also names the first field in its metadata."""

    def raise_if_any(self, reason: str | None = None) -> None:
        if self.violations:
            summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
            raise InvalidArgument(
                summary, reason=reason, violations=self.violations, metadata={"field": self.violations[0].field}
            )

    def required_id(self, value: str, field: str) -> str:
        if self.check(bool(value), field, "is required"):
            self.check(len(value) <= MAX_ID_LENGTH, field, f"must be at most {MAX_ID_LENGTH} characters")
        return value

    def email(self, value: str, field: str = "email") -> str:
        email = normalize_email(value)
        if self.check(bool(email), field, "is required"):
            self.check(
                len(email) <= MAX_EMAIL_LENGTH and is_email(email), field, "must be an email address like ada@example.com"
            )
        return email

    def request_id(self, value: str) -> str:
        if value:
            self.check(
                bool(_REQUEST_ID.match(value)),
                "request_id",
                "must be 1-128 letters, digits or '-', '_', '.', '~'",
            )
        return value


def invalid(field: str, description: str, reason: str = "FIELD_INVALID") -> InvalidArgument:
    """INVALID_ARGUMENT for one field, with ``field`` metadata."""
    error = InvalidArgument.field(field, description, reason=reason)
    error.metadata["field"] = field
    return error


def credential_not_found(credential_id: str) -> NotFound:
    return NotFound(
        f"credential {credential_id!r} does not exist in this organizational unit",
        reason="CREDENTIAL_NOT_FOUND",
        metadata={"credential_id": credential_id},
    )
