"""Ports of the booking service: what its use cases need from the outside world.

Peers (identity, directory, availability) answer in the small dataclasses below; providers
(calendars, conferencing) raise ``kit.errors.Unavailable`` for failures worth retrying and any
other ``RendezvousError`` for refusals that retrying will not fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from kit.errors import Unavailable
from services.booking.domain.model import (
    AccessMode,
    Booking,
    BookingState,
    CalendarRoute,
    ConferencingService,
    Party,
)
from services.booking.invites.model import OutgoingMessage

# ----------------------------------------------------------------------------------------- peers


@dataclass(frozen=True)
class OrgUnit:
    id: str
    display_name: str
    invite_sender_address: str


@dataclass(frozen=True)
class Verification:
    verified: bool
    reason: str = ""  # ErrorReason name without prefix when not verified
    method: str = ""
    access_mode: AccessMode | None = None


@dataclass(frozen=True)
class ConferencingLink:
    """A conferencing account with the organizer's email on an ACTIVE conferencing connection."""

    connection_id: str
    service: ConferencingService
    credential_id: str
    external_user_id: str = ""


@dataclass(frozen=True)
class Account:
    email: str
    display_name: str = ""
    time_zone: str = ""
    external_id: str = ""
    active: bool = True


@dataclass(frozen=True)
class Room:
    email: str
    display_name: str = ""


@dataclass(frozen=True)
class Resolution:
    """Directory's routing answer for one email; parts that do not exist are None / empty."""

    account: Account | None = None
    route: CalendarRoute | None = None
    route_active: bool = False
    route_state: str = ""
    links: tuple[ConferencingLink, ...] = ()
    room: Room | None = None


@dataclass(frozen=True)
class BusyTime:
    start: datetime
    end: datetime
    booking_id: str = ""
    source: str = ""  # BOOKINGS, PROVIDER_FREE_BUSY or AVAILABILITY_RULES


@dataclass(frozen=True)
class FreeBusy:
    """One person's (or room's) busy time from availability; ``known`` False means it could not be
    read, which never counts as free (``reason`` says why)."""

    email: str
    busy: tuple[BusyTime, ...] = ()
    known: bool = True
    reason: str = ""


class TokenRejected(Unavailable):
    """The provider refused the access token itself (HTTP 401). Retryable: the caller asks identity
    once more, naming the refused token (``rejected``), and tries again."""


class Identity(Protocol):
    """The identity service: organizer verification and provider access tokens."""

    async def verify_organizer(self, org_unit_id: str, email: str) -> Verification: ...

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        """A bearer token for ``credential_id``; ``subject`` is the user an organization-wide
        credential acts for (ignored for credentials that act for one user). ``rejected``: a token
        the provider just refused (401), which identity must not hand out again."""
        ...


class Directory(Protocol):
    """The directory service: units and routing (ORGANIZATIONAL_UNIT_NOT_FOUND when unknown)."""

    async def get_unit(self, org_unit_id: str) -> OrgUnit: ...
    async def resolve(self, org_unit_id: str, email: str) -> Resolution: ...


class Availability(Protocol):
    """The availability service: merged busy time of one email in a window."""

    async def free_busy(self, org_unit_id: str, email: str, start: datetime, end: datetime) -> FreeBusy: ...


# ------------------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class ProviderEvent:
    """What the calendar provider answered for the booking's native event."""

    event_id: str
    ical_uid: str = ""
    join_url: str = ""
    conference_id: str = ""
    conference_pending: bool = False  # Meet still being created; read the event again later


@dataclass(frozen=True)
class Meeting:
    """A conferencing meeting created at a linked conferencing service."""

    service: ConferencingService
    meeting_id: str
    join_url: str
    passcode: str = ""


class CalendarEvents(Protocol):
    """Native events in the organizer's calendar (READ_WRITE), by ``booking.route.provider``.

    Every call is safe to repeat: create uses a stable id derived from the booking.
    """

    async def create(self, booking: Booking, token: str) -> ProviderEvent: ...
    async def update(self, booking: Booking, token: str) -> ProviderEvent: ...
    async def delete(self, booking: Booking, token: str) -> None: ...
    async def get(self, booking: Booking, token: str) -> ProviderEvent: ...


class ConferencingMeetings(Protocol):
    """Meetings at a linked conferencing service (Meet spaces, Teams online meetings, Zoom, Webex)."""

    async def create(self, booking: Booking, token: str) -> Meeting: ...

    async def update(self, booking: Booking, token: str) -> Meeting | None:
        """Give the booking's existing meeting (``conferencing.meeting_id``) the booking's time and
        title; the meeting as it is now, or None when the service no longer knows it. Safe to repeat.
        Only asked for services whose meetings carry a time (``ConferencingService.scheduled``)."""
        ...

    async def delete(self, booking: Booking, token: str) -> None:
        """Delete the booking's meeting where the service can; one already gone is no error."""
        ...


class InviteComposer(Protocol):
    """Builds the iMIP messages of one booking version (pure; no I/O)."""

    def compose(
        self, booking: Booking, kind: str, stamp: datetime, *, only: Sequence[str] = (),
        removed: Sequence[Party] = (), responder: str = "", note: str = "",
    ) -> list[OutgoingMessage]:
        """``kind`` is an ``invites.model.InviteKind`` value; ``only`` limits the recipients
        (RESPONSE to the organizer, REFRESH answers); ``removed`` are the people an UNINVITE cancels;
        ``responder``/``note`` describe an attendee's answer reported to the organizer."""
        ...


# ----------------------------------------------------------------------------------- persistence


@dataclass(frozen=True)
class Conflict:
    calendar_key: str
    booking_id: str


@dataclass(frozen=True)
class BusyPeriod:
    email: str
    start: datetime
    end: datetime
    booking_id: str


@dataclass(frozen=True)
class ReplyLogEntry:
    received_at: datetime
    outcome: str
    reason: str
    detail: str
    size: int
    digest: str
    booking_id: str = ""
    attendee_email: str = ""
    method: str = ""
    source: str = ""  # "smtp" or "rpc"


class SlotUnavailable(Exception):
    """The database refused a booking whose organizer or room time overlaps a confirmed one."""

    def __init__(self, calendar_keys: Sequence[str] = (), booking_id: str = "") -> None:
        super().__init__("the time is held by another confirmed booking")
        self.calendar_keys = tuple(calendar_keys)
        self.booking_id = booking_id


class RequestIdTaken(Exception):
    """Another booking with the same (org_unit_id, request_id) was committed meanwhile."""


class Bookings(Protocol):
    """Bookings with their parties and the slots they hold (organizer and rooms).

    ``add`` and ``save`` raise :class:`SlotUnavailable` when a CONFIRMED booking's slot overlaps
    another CONFIRMED one of the same organizer or room (checked by the database, not by a read).
    """

    async def add(self, booking: Booking) -> None: ...
    async def save(self, booking: Booking) -> None:
        """Rewrite the booking, its parties and its slots."""
        ...
    async def save_row(self, booking: Booking) -> None:
        """Rewrite only the booking's own fields (delivery, conferencing, version, times of change)."""
        ...
    async def save_party(self, booking: Booking, email: str) -> None:
        """Rewrite one party's answer and the booking's update_time."""
        ...
    async def get(self, org_unit_id: str, booking_id: str) -> Booking | None: ...
    async def by_id(self, booking_id: str) -> Booking | None: ...
    async def by_request_id(self, org_unit_id: str, request_id: str) -> Booking | None: ...
    async def by_ical_uid(self, uid: str) -> Booking | None: ...
    async def conflicts(
        self, org_unit_id: str, keys: Sequence[str], start: datetime, end: datetime, exclude: str = ""
    ) -> list[Conflict]: ...
    async def search(
        self, org_unit_id: str, organizer: str, window: tuple[datetime, datetime] | None,
        state: BookingState | None, after: tuple[str, str] | None, limit: int,
    ) -> list[Booking]: ...
    async def busy_periods(
        self, org_unit_id: str, emails: Sequence[str], start: datetime, end: datetime,
        after: tuple[str, str, str] | None, limit: int,
    ) -> list[BusyPeriod]: ...
    async def lease_due(self, work: str, now: datetime, lease_until: datetime, limit: int) -> list[str]:
        """Claim up to ``limit`` bookings whose ``work`` ("delivery" or "conferencing") is due and
        unleased; returns their ids, held until ``lease_until``."""
        ...
    async def try_lease(self, work: str, booking_id: str, now: datetime, lease_until: datetime) -> bool: ...
    async def release(self, work: str, booking_id: str) -> None: ...


class Outbox(Protocol):
    """Mail committed with the booking; ``counts`` marks the messages of the booking's latest version
    whose delivery Booking.delivery reports."""

    async def add(self, messages: Sequence[OutgoingMessage], now: datetime, *, kind: str, counts: bool) -> None: ...


class ReplyLog(Protocol):
    async def add(self, entry: ReplyLogEntry) -> None: ...


class RequestLog(Protocol):
    """Request ids of UpdateBooking/CancelBooking: (unit, rpc, request_id) → payload digest, booking."""

    async def get(self, org_unit_id: str, rpc: str, request_id: str) -> tuple[str, str] | None: ...
    async def add(self, org_unit_id: str, rpc: str, request_id: str, digest: str, booking_id: str, now: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction; rolls back unless committed. ``write`` transactions are serialized where the
    database needs it (SQLite ``BEGIN IMMEDIATE``)."""

    bookings: Bookings
    outbox: Outbox
    replies: ReplyLog
    requests: RequestLog

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = False) -> UnitOfWork: ...
