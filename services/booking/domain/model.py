"""The booking domain: a meeting held for an organizer (and rooms), delivered to calendars.

Pure Python: dataclasses and enums, no I/O, no clock (instants are handed in).

    Booking
    ├── organizer (a Party of kind ORGANIZER) and attendees (PERSON) and rooms (ROOM)
    ├── Conferencing   what was asked for, which service, its progress and the join link
    └── Delivery       how the latest version reaches calendars (provider event or emailed iMIP)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class BookingState(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class ResponseStatus(StrEnum):
    NEEDS_ACTION = "NEEDS_ACTION"
    ACCEPTED = "ACCEPTED"
    TENTATIVE = "TENTATIVE"
    DECLINED = "DECLINED"


class AccessMode(StrEnum):
    READ_WRITE = "READ_WRITE"
    FREE_BUSY = "FREE_BUSY"
    NO_ACCESS = "NO_ACCESS"

    @property
    def emails_invites(self) -> bool:
        """FREE_BUSY and NO_ACCESS deliver by iMIP mail; READ_WRITE by a native provider event."""
        return self is not AccessMode.READ_WRITE


class Provider(StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"
    ZOOM = "ZOOM"
    WEBEX = "WEBEX"


class ConferencingChoice(StrEnum):
    NONE = "NONE"
    DEFAULT = "DEFAULT"
    GOOGLE_MEET = "GOOGLE_MEET"
    MICROSOFT_TEAMS = "MICROSOFT_TEAMS"
    ZOOM = "ZOOM"
    WEBEX = "WEBEX"


class ConferencingService(StrEnum):
    NONE = "NONE"
    GOOGLE_MEET = "GOOGLE_MEET"
    MICROSOFT_TEAMS = "MICROSOFT_TEAMS"
    ZOOM = "ZOOM"
    WEBEX = "WEBEX"

    @property
    def label(self) -> str:
        return {"GOOGLE_MEET": "Google Meet", "MICROSOFT_TEAMS": "Microsoft Teams", "ZOOM": "Zoom",
                "WEBEX": "Webex"}.get(self.value, "")

    @property
    def scheduled(self) -> bool:
        """The service's meetings carry the booking's time and title, so a change moves them there
        too (Zoom, Webex, standalone Teams meetings). A Google Meet space has neither a time nor a
        title — a link that works whenever it is used — so there is nothing to move."""
        return self in (ConferencingService.ZOOM, ConferencingService.WEBEX, ConferencingService.MICROSOFT_TEAMS)


class ConferencingState(StrEnum):
    NOT_REQUESTED = "NOT_REQUESTED"
    PENDING = "PENDING"
    CREATED = "CREATED"
    FAILED = "FAILED"


class DeliveryMethod(StrEnum):
    PROVIDER_EVENT = "PROVIDER_EVENT"
    EMAIL_INVITE = "EMAIL_INVITE"


class DeliveryState(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


class PartyKind(StrEnum):
    ORGANIZER = "ORGANIZER"
    PERSON = "PERSON"
    ROOM = "ROOM"


@dataclass(frozen=True)
class Party:
    """Someone (or a room) a booking involves, with their latest answer.

    ``last_sequence``/``last_dtstamp`` remember the reply recorded last, so older replies are ignored.
    """

    email: str
    kind: PartyKind
    display_name: str = ""
    optional: bool = False
    response_status: ResponseStatus = ResponseStatus.NEEDS_ACTION
    comment: str = ""
    proposed_start: datetime | None = None
    proposed_end: datetime | None = None
    response_time: datetime | None = None
    last_sequence: int | None = None
    last_dtstamp: datetime | None = None

    def reset_response(self) -> Party:
        """A time change asks everyone again."""
        return dataclasses.replace(
            self, response_status=ResponseStatus.NEEDS_ACTION, comment="", proposed_start=None,
            proposed_end=None, response_time=None, last_sequence=None, last_dtstamp=None,
        )


@dataclass(frozen=True)
class Conferencing:
    """Conferencing asked for and its outcome; ``join_url`` is only ever set once it exists.

    A linked (not native) meeting that exists has its ``meeting_id``. Its ``state`` then says whether
    the meeting at the service matches the booking: CREATED when it does, PENDING while a change
    (time, title) is being moved there and retried (``failure_message`` says why it did not take yet),
    FAILED when the service refused the change for good — the meeting and its link stay, at the
    time the service last accepted, unless the service no longer knows it (then the link is gone).
    """

    requested: ConferencingChoice = ConferencingChoice.NONE
    service: ConferencingService = ConferencingService.NONE
    state: ConferencingState = ConferencingState.NOT_REQUESTED
    native: bool = False  # Meet/Teams created as part of the provider event (READ_WRITE)
    connection_id: str = ""
    credential_id: str = ""
    host_user_id: str = ""  # the conferencing service's id of the organizer (external_user_id)
    join_url: str = ""
    meeting_id: str = ""
    passcode: str = ""
    failure_message: str = ""
    attempts: int = 0
    next_attempt_time: datetime | None = None

    @property
    def linked_meeting(self) -> bool:
        """A meeting exists at a linked conferencing service (not a native Meet/Teams link)."""
        return not self.native and bool(self.meeting_id)

    @property
    def moving(self) -> bool:
        """The linked meeting exists and the booking's latest time and title are due there."""
        return self.linked_meeting and self.state is ConferencingState.PENDING

    @property
    def details(self) -> str:
        """A line for invites: meeting id and passcode when known."""
        parts = []
        if self.meeting_id and self.service in (ConferencingService.ZOOM, ConferencingService.WEBEX):
            parts.append(f"Meeting ID {self.meeting_id}")
        if self.passcode:
            parts.append(f"passcode {self.passcode}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Delivery:
    """Delivery of the booking's latest version (``version``) to calendars and inboxes."""

    method: DeliveryMethod
    state: DeliveryState = DeliveryState.PENDING
    provider_event_id: str = ""
    ical_uid: str = ""
    sequence: int = 0
    last_error: str = ""
    attempt_count: int = 0
    last_attempt_time: datetime | None = None
    deliver_time: datetime | None = None
    next_attempt_time: datetime | None = None


@dataclass(frozen=True)
class CalendarRoute:
    """How the organizer's calendar is reached: the connection serving their domain."""

    access_mode: AccessMode
    provider: Provider = Provider.UNSPECIFIED
    calendar_connection_id: str = ""
    credential_id: str = ""
    mailbox_user_id: str = ""  # the provider's id of the organizer (Microsoft object id), when known


@dataclass(frozen=True)
class Booking:
    id: str
    org_unit_id: str
    organizer: Party
    attendees: tuple[Party, ...]
    rooms: tuple[Party, ...]
    start: datetime
    end: datetime
    time_zone: str
    summary: str
    description: str
    location: str
    conferencing: Conferencing
    route: CalendarRoute
    delivery: Delivery
    invite_sender: str  # the unit's invite sender address when booked: the same for every message
    unit_name: str
    create_time: datetime
    update_time: datetime
    state: BookingState = BookingState.CONFIRMED
    cancel_reason: str = ""
    cancel_time: datetime | None = None
    request_id: str = ""
    request_hash: str = ""
    version: int = 1  # raised by every change that must reach calendars

    @property
    def meeting_terms(self) -> tuple[object, ...]:
        """What a scheduled conferencing meeting is given of the booking (time, zone, title, agenda)."""
        return (self.start, self.end, self.time_zone, self.summary, self.description)

    @property
    def calendar_keys(self) -> tuple[str, ...]:
        """Whose time the booking holds exclusively: the organizer and every room."""
        return (self.organizer.email, *(r.email for r in self.rooms))

    @property
    def parties(self) -> tuple[Party, ...]:
        return (self.organizer, *self.attendees, *self.rooms)

    @property
    def cancelled(self) -> bool:
        return self.state is BookingState.CANCELLED

    def party(self, email: str) -> Party | None:
        wanted = email.lower()
        return next((p for p in self.parties if p.email == wanted), None)

    def with_party(self, updated: Party) -> Booking:
        """The booking with ``updated`` replacing the party of the same email."""
        if updated.kind is PartyKind.ORGANIZER:
            return dataclasses.replace(self, organizer=updated)
        if updated.kind is PartyKind.ROOM:
            return dataclasses.replace(self, rooms=tuple(updated if r.email == updated.email else r for r in self.rooms))
        return dataclasses.replace(
            self, attendees=tuple(updated if a.email == updated.email else a for a in self.attendees)
        )


def overlaps(start_a: datetime, end_a: datetime, start_b: datetime, end_b: datetime) -> bool:
    """Half-open ranges ``[start, end)`` share an instant."""
    return start_a < end_b and start_b < end_a


def google_event_id(booking_id: str) -> str:
    """A Google event id derived from the booking id: base32hex (``[0-9a-v]``), stable, so a
    retried ``events.insert`` can never make a second event."""
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    bits = "".join(f"{byte:08b}" for byte in f"rdv{booking_id}".encode())
    bits += "0" * (-len(bits) % 5)
    return "".join(alphabet[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))
