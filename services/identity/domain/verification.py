"""Organizer verification: may this email organize bookings in this unit, and by which proof?

The rules, in order (DESIGN.md, spec "Identity Verification"):

1. The email's domain must be served by an ACTIVE calendar connection of the unit; an email no
   connection serves is never verified, whatever else is true (EMAIL_DOMAIN_NOT_SERVED).
2. READ_WRITE and FREE_BUSY: the connection's provider confirms the mailbox → CALENDAR_AUTHORIZATION.
3. An ACTIVE account synced from a directory has the email → DIRECTORY.
4. A directory account that is suspended or deactivated is not verified by anything weaker: the
   directory said the person left (ACCOUNT_NOT_ACTIVE).
5. A confirmation link for (unit, email) was followed and still counts → EMAIL_CONFIRMATION.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from services.identity.domain.scopes import AccessMode, Provider


class VerificationMethod(enum.StrEnum):
    CALENDAR_AUTHORIZATION = "CALENDAR_AUTHORIZATION"
    DIRECTORY = "DIRECTORY"
    EMAIL_CONFIRMATION = "EMAIL_CONFIRMATION"


class AccountState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    DEACTIVATED = "DEACTIVATED"


class AccountSource(enum.StrEnum):
    MANUAL = "MANUAL"
    GOOGLE_WORKSPACE = "GOOGLE_WORKSPACE"
    MICROSOFT_ENTRA = "MICROSOFT_ENTRA"
    SUCCESSFACTORS = "SUCCESSFACTORS"


class ConnectionState(enum.StrEnum):
    PENDING_AUTHORIZATION = "PENDING_AUTHORIZATION"
    ACTIVE = "ACTIVE"
    NEEDS_REAUTHORIZATION = "NEEDS_REAUTHORIZATION"
    DISCONNECTED = "DISCONNECTED"


class MailboxCheck(enum.StrEnum):
    """What asking the calendar provider about the mailbox gave."""

    CONFIRMED = "CONFIRMED"
    NOT_FOUND = "NOT_FOUND"
    CREDENTIAL_UNUSABLE = "CREDENTIAL_UNUSABLE"  # the connection's credential needs reauthorization
    UNAVAILABLE = "UNAVAILABLE"  # the provider could not answer; no decision either way
    NOT_APPLICABLE = "NOT_APPLICABLE"  # NO_ACCESS: there is no provider to ask


@dataclass(frozen=True)
class AccountInfo:
    id: str
    state: AccountState
    source: AccountSource

    @property
    def synced(self) -> bool:
        return self.source is not AccountSource.MANUAL


@dataclass(frozen=True)
class CalendarRoute:
    """The calendar connection serving the email's domain (from directory's ResolveAccount)."""

    connection_id: str
    provider: Provider | None
    access_mode: AccessMode
    credential_id: str
    state: ConnectionState

    @property
    def reads_calendars(self) -> bool:
        return self.access_mode in (AccessMode.READ_WRITE, AccessMode.FREE_BUSY) and bool(self.credential_id)


@dataclass(frozen=True)
class Resolution:
    """What directory knows about an email in a unit."""

    account: AccountInfo | None
    calendar: CalendarRoute | None


@dataclass(frozen=True)
class Verification:
    verified: bool
    method: VerificationMethod | None = None
    reason: str = ""
    access_mode: AccessMode | None = None
    calendar_connection_id: str = ""
    account_id: str = ""
    expire_time: datetime | None = None


def decide(resolution: Resolution, mailbox: MailboxCheck, confirmed_until: datetime | None) -> Verification:
    """Apply the rules above to what directory, the provider and the confirmations said."""
    route = resolution.calendar
    account = resolution.account
    account_id = account.id if account else ""
    if route is None:
        return Verification(False, reason="EMAIL_DOMAIN_NOT_SERVED", account_id=account_id)
    base = Verification(
        False, access_mode=route.access_mode, calendar_connection_id=route.connection_id, account_id=account_id
    )

    def verified(method: VerificationMethod, until: datetime | None = None) -> Verification:
        return replace(base, verified=True, method=method, expire_time=until)

    def refused(reason: str) -> Verification:
        return replace(base, reason=reason)

    if route.state is ConnectionState.NEEDS_REAUTHORIZATION:
        return refused("CREDENTIAL_NEEDS_REAUTHORIZATION")
    if route.state is not ConnectionState.ACTIVE:
        return refused("CONNECTION_NOT_ACTIVE")
    if mailbox is MailboxCheck.CONFIRMED:
        return verified(VerificationMethod.CALENDAR_AUTHORIZATION)
    if account is not None and account.synced and account.state is AccountState.ACTIVE:
        return verified(VerificationMethod.DIRECTORY)
    if account is not None and account.state is not AccountState.ACTIVE:
        return refused("ACCOUNT_NOT_ACTIVE")
    if confirmed_until is not None:
        return verified(VerificationMethod.EMAIL_CONFIRMATION, confirmed_until)
    if mailbox is MailboxCheck.NOT_FOUND:
        return refused("MAILBOX_NOT_FOUND")
    if mailbox is MailboxCheck.CREDENTIAL_UNUSABLE:
        return refused("CREDENTIAL_NEEDS_REAUTHORIZATION")
    return refused("EMAIL_NOT_CONFIRMED")
