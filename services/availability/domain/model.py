"""The availability service's vocabulary: routes, sources, busy periods and member diagnostics."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Provider(enum.Enum):
    GOOGLE = 1
    MICROSOFT = 2


class AccessMode(enum.Enum):
    READ_WRITE = 1
    FREE_BUSY = 2
    NO_ACCESS = 3

    @property
    def reads_provider(self) -> bool:
        """READ_WRITE and FREE_BUSY read provider free/busy; NO_ACCESS reads nothing."""
        return self is not AccessMode.NO_ACCESS


class ConnectionState(enum.Enum):
    PENDING_AUTHORIZATION = 1
    ACTIVE = 2
    NEEDS_REAUTHORIZATION = 3
    DISCONNECTED = 4


class AccountState(enum.Enum):
    ACTIVE = 1
    SUSPENDED = 2
    DEACTIVATED = 3


class CredentialKind(enum.Enum):
    USER_DELEGATED = 1
    ORGANIZATION_WIDE = 2


class Source(enum.Enum):
    PROVIDER_FREE_BUSY = 1
    BOOKINGS = 2
    AVAILABILITY_RULES = 3


class BusyStatus(enum.Enum):
    """How busy a blocking period is; every one of them blocks."""

    BUSY = 1
    TENTATIVE = 2
    OUT_OF_OFFICE = 3


class MemberStatus(enum.Enum):
    OK = 1
    UNAVAILABLE = 2
    UNKNOWN_DOMAIN = 3
    UNKNOWN_ACCOUNT = 4


@dataclass(frozen=True)
class CalendarRoute:
    """The calendar connection serving an email's domain (from directory's ResolveAccount)."""

    connection_id: str
    provider: Provider | None
    access_mode: AccessMode
    credential_id: str
    state: ConnectionState


@dataclass(frozen=True)
class Resolution:
    """What directory knows of an email: its account's state (None: no account) and its route."""

    email: str
    account_state: AccountState | None
    route: CalendarRoute | None


@dataclass(frozen=True)
class Credential:
    """The facts about an identity credential availability needs to ask for tokens."""

    credential_id: str
    kind: CredentialKind
    subject_email: str


@dataclass(frozen=True, order=True)
class ProviderBusy:
    """One blocking item of a provider's free/busy, epoch seconds ``[start, end)``."""

    start: int
    end: int
    status: BusyStatus = BusyStatus.BUSY


@dataclass(frozen=True, order=True)
class BookingBusy:
    """Time a confirmed Rendezvous booking holds for one email."""

    email: str
    start: int
    end: int
    booking_id: str


@dataclass(frozen=True)
class SourceFailure:
    """A source that could not be read: ``reason`` is an ErrorReason name without prefix."""

    source: Source
    reason: str
    message: str = ""


MAILBOX_NOT_FOUND = "MAILBOX_NOT_FOUND"


@dataclass(frozen=True)
class MailboxBusy:
    """A provider's answer for one mailbox: its blocking items."""

    items: tuple[ProviderBusy, ...] = ()


@dataclass(frozen=True, order=True)
class BusyPeriod:
    """A blocking period reported by GetFreeBusy."""

    start: int
    end: int
    source: Source = field(compare=False)
    status: BusyStatus = field(compare=False)
    booking_id: str = ""


@dataclass(frozen=True)
class MemberDiagnostics:
    """Why a member's availability is (not) known, and from what."""

    email: str
    status: MemberStatus
    access_mode: AccessMode | None = None
    provider: Provider | None = None
    connection_id: str = ""
    sources_used: tuple[Source, ...] = ()
    failures: tuple[SourceFailure, ...] = ()
