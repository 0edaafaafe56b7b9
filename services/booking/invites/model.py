"""The email side of booking: invites out (iMIP REQUEST/CANCEL), replies in (iTIP REPLY/COUNTER).

Pure data; no I/O. Everything here is a frozen dataclass or a ``StrEnum`` whose values are the
iCalendar spellings, so they can be stored as text and compared with what arrives in mail.

How the pieces fit (the booking core owns state; this package only builds and reads mail):

Outgoing::

    event = InviteEvent(uid=..., sequence=booking_sequence, start=..., end=..., summary=...,
                        organizer_mailbox=unit.invite_sender_address, organizer_name="Alice",
                        organizer_email="alice@corp.example",
                        attendees=(InviteParty("bob@x.example", "Bob"), ...))
    msgs = mime.invite_messages(event, kind=InviteKind.NEW, stamp=clock.now(), unit_name=unit.display_name,
                                booking_id=booking.id, ids=ids)          # -> list[OutgoingMessage]
    # store ``msgs`` in the outbox in the same transaction as the booking row;
    # adapters.outbox_dispatcher delivers them (see invites.ports.OutboxRepository).

* The caller owns SEQUENCE: pass the number to write. 0 at creation; +1 on every change that is
  sent and on a cancellation (``InviteKind.UPDATE`` / ``CANCEL``). Reporting an attendee's answer back
  to the organizer (``InviteKind.RESPONSE``) keeps the SEQUENCE (only DTSTAMP moves).
* ``organizer_mailbox`` is the ORGANIZER (a mailbox Rendezvous reads, From/Reply-To/Sender of every
  message). The human organizer (``organizer_email``) is listed as ATTENDEE ROLE=CHAIR PARTSTAT from
  ``organizer_partstat`` (ACCEPTED by default) and receives a copy like everyone else.
* ``attendees`` holds people only (no organizer, no rooms: email modes refuse rooms, and the builders
  raise ``ValueError`` on a ROOM/RESOURCE party, a duplicate, or the mailbox itself as an attendee).
* ``time_zone`` empty → DTSTART/DTEND in UTC (``...Z``), no VTIMEZONE. Non-empty IANA zone → local
  times with TZID and an inline VTIMEZONE covering only the event's dates (narrow range).

Incoming::

    parsed = replies.parse_itip_message(raw_bytes)    # ItipResponse | MessageRejected, never raises
    if isinstance(parsed, MessageRejected): ...       # log; IngestEmail answers REJECTED parsed.reason
    state = BookingReplyState(...)                    # looked up by parsed.uid (None when unknown)
    decision = replies.decide(state, parsed, received_at=clock.now())   # ReplyDecision, pure
    # APPLIED → store decision.partstat/comment/proposal/responded_at/sequence for the attendee and,
    #   if decision.report_to_organizer, queue an InviteKind.RESPONSE REQUEST to the human organizer;
    #   if decision.resend_latest (REFRESH), queue the latest REQUEST to that attendee only.
    # IGNORED_STALE / REJECTED → log decision.reason; nothing changes.

Reasons are ErrorReason names without the prefix (protos/rendezvous/common/v1/error_reason.proto).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """ATTENDEE;ROLE=…"""

    CHAIR = "CHAIR"
    REQ = "REQ-PARTICIPANT"
    OPT = "OPT-PARTICIPANT"
    NON = "NON-PARTICIPANT"


class CuType(StrEnum):
    """ATTENDEE;CUTYPE=… (ROOM/RESOURCE exist for completeness; email invites refuse them)."""

    INDIVIDUAL = "INDIVIDUAL"
    ROOM = "ROOM"
    RESOURCE = "RESOURCE"


class PartStat(StrEnum):
    """ATTENDEE;PARTSTAT=… for a VEVENT."""

    NEEDS_ACTION = "NEEDS-ACTION"
    ACCEPTED = "ACCEPTED"
    TENTATIVE = "TENTATIVE"
    DECLINED = "DECLINED"
    DELEGATED = "DELEGATED"


class EventStatus(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class InviteMethod(StrEnum):
    """METHOD of mail we send."""

    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


class InviteKind(StrEnum):
    """Why a message is sent; decides METHOD, Subject and which parties are mailed."""

    NEW = "NEW"  # REQUEST, "Invitation: …", organizer + every attendee
    UPDATE = "UPDATE"  # REQUEST (higher SEQUENCE), "Updated invitation: …", organizer + attendees
    RESPONSE = "RESPONSE"  # REQUEST (same SEQUENCE) carrying new PARTSTATs, to the human organizer only
    CANCEL = "CANCEL"  # CANCEL whole event, STATUS:CANCELLED, "Canceled: …", organizer + attendees
    UNINVITE = "UNINVITE"  # CANCEL listing only removed attendees, no STATUS, "Canceled: …", to them


class ResponseMethod(StrEnum):
    """METHOD of iTIP mail an attendee sends us."""

    REPLY = "REPLY"
    COUNTER = "COUNTER"
    REFRESH = "REFRESH"


class RejectReason(StrEnum):
    """Why an inbound message or reply was not applied (ErrorReason names without prefix)."""

    MESSAGE_MALFORMED = "MESSAGE_MALFORMED"
    MESSAGE_NOT_A_REPLY = "MESSAGE_NOT_A_REPLY"
    BOOKING_NOT_FOUND = "BOOKING_NOT_FOUND"
    ATTENDEE_NOT_FOUND = "ATTENDEE_NOT_FOUND"
    REPLY_STALE = "REPLY_STALE"


class ReplyOutcome(StrEnum):
    """IngestEmailResponse.Result without the prefix."""

    APPLIED = "APPLIED"
    IGNORED_STALE = "IGNORED_STALE"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class InviteParty:
    """One attendee as the invite lists it. ``email`` is compared case-insensitively."""

    email: str
    name: str = ""
    role: Role = Role.REQ
    cutype: CuType = CuType.INDIVIDUAL
    partstat: PartStat = PartStat.NEEDS_ACTION
    rsvp: bool = True


@dataclass(frozen=True)
class InviteEvent:
    """One booking as its invites describe it (the latest version; SEQUENCE chosen by the caller)."""

    uid: str
    sequence: int
    start: datetime  # aware; written in UTC unless time_zone is set
    end: datetime
    summary: str
    organizer_mailbox: str  # the unit's invite sender address: ORGANIZER, From, Reply-To, Sender
    organizer_name: str  # the human organizer's name: ORGANIZER;CN=…, From display name
    organizer_email: str  # the human organizer: ATTENDEE;ROLE=CHAIR and ORGANIZER;SENT-BY
    attendees: tuple[InviteParty, ...] = ()
    time_zone: str = ""  # IANA zone for local times + VTIMEZONE; "" = UTC
    description: str = ""
    location: str = ""
    conference_url: str = ""
    conference_details: str = ""  # e.g. "Meeting ID 123 456 789, passcode 4242"
    conference_name: str = ""  # e.g. "Zoom", "Google Meet" (CONFERENCE;LABEL=…)
    status: EventStatus = EventStatus.CONFIRMED
    organizer_partstat: PartStat = PartStat.ACCEPTED
    sent_by: bool = True  # write SENT-BY="mailto:<organizer_email>" on ORGANIZER


@dataclass(frozen=True)
class OutgoingMessage:
    """One RFC 5322 message for one recipient, ready for the outbox.

    ``message_id`` is the Message-ID header value including angle brackets (``<…@mailbox-domain>``);
    it is unique and the outbox's key. ``sender`` is the SMTP envelope MAIL FROM (the organizer
    mailbox, so bounces reach us). ``attempts`` is how many delivery attempts were made before
    (the repository fills it when leasing; 0 for a new message).
    """

    message_id: str
    booking_id: str
    recipient: str
    sender: str
    method: InviteMethod
    sequence: int
    raw: bytes
    attempts: int = 0


@dataclass(frozen=True)
class ItipResponse:
    """An attendee's iTIP message, as parsed from inbound mail (nothing here came from From:)."""

    method: ResponseMethod
    uid: str
    sequence: int
    dtstamp: datetime | None  # aware UTC; None if the message had none
    attendee_email: str  # lower case, without mailto:
    partstat: PartStat | None  # None when absent or unknown (COUNTER/REFRESH often omit it)
    comment: str = ""
    proposed_start: datetime | None = None  # COUNTER only, aware UTC
    proposed_end: datetime | None = None
    attendee_name: str = ""
    sent_by: str = ""  # delegate that answered for the attendee, lower case, when SENT-BY is present


@dataclass(frozen=True)
class MessageRejected:
    """An inbound message that carries nothing usable; ``detail`` is for the log (no secrets)."""

    reason: RejectReason  # MESSAGE_MALFORMED or MESSAGE_NOT_A_REPLY
    detail: str
    method: str = ""  # the iTIP METHOD found, if any (metadata of MESSAGE_NOT_A_REPLY)


@dataclass(frozen=True)
class AttendeeReplyState:
    """What the booking holds for one party that may answer (attendees and the human organizer)."""

    email: str
    partstat: PartStat = PartStat.NEEDS_ACTION
    last_sequence: int | None = None  # SEQUENCE of the reply recorded last; None = no reply yet
    last_dtstamp: datetime | None = None  # DTSTAMP of the reply recorded last


@dataclass(frozen=True)
class BookingReplyState:
    """The booking a reply's UID names, as much as ``replies.decide`` needs."""

    booking_id: str
    uid: str
    sequence: int  # the SEQUENCE most recently sent
    parties: tuple[AttendeeReplyState, ...]
    cancelled: bool = False
    organizer_email: str = ""  # answers from the human organizer are not reported back to them


@dataclass(frozen=True)
class ReplyDecision:
    """What to do with one parsed response (``replies.decide``)."""

    outcome: ReplyOutcome
    reason: str = ""  # RejectReason value for IGNORED_STALE/REJECTED; "" when APPLIED
    booking_id: str = ""
    attendee_email: str = ""
    partstat: PartStat | None = None  # the status to store (unchanged one for a COUNTER without it)
    comment: str = ""
    proposed_start: datetime | None = None
    proposed_end: datetime | None = None
    responded_at: datetime | None = None  # the reply's DTSTAMP (or received_at without one)
    sequence: int = 0  # SEQUENCE to store as last_sequence (never above the booking's)
    report_to_organizer: bool = False  # queue an InviteKind.RESPONSE REQUEST to the human organizer
    resend_latest: bool = False  # REFRESH: queue the latest REQUEST to this attendee only
