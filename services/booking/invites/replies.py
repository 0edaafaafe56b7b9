"""Inbound iTIP: read a REPLY / COUNTER / REFRESH out of raw mail, and decide what it changes.

``parse_itip_message(raw)`` never raises. It looks at every ``text/calendar`` part and every
``.ics``/``application/ics`` attachment at any depth of the MIME tree and in any transfer encoding,
and returns the first usable iTIP response (an ``ItipResponse``) or a ``MessageRejected`` with
``MESSAGE_MALFORMED`` (not RFC 5322, or a calendar part that is not valid iCalendar, or a reply
without UID or a single identifiable ATTENDEE) or ``MESSAGE_NOT_A_REPLY`` (no calendar part, or only
REQUEST/CANCEL/PUBLISH/…, or no VEVENT). The answering person is the reply's single ATTENDEE, compared
case-insensitively; the From header is never used (delegates, aliases and Apple Mail's wrong-account
replies make it unreliable).

``decide(state, response, received_at=…)`` is the pure policy (``BookingReplyState`` is the booking
the UID names, ``None`` when unknown):

* unknown UID → REJECTED ``BOOKING_NOT_FOUND``; ATTENDEE not on the booking (forwarded invite,
  forgery: a "party crasher") → REJECTED ``ATTENDEE_NOT_FOUND``. We never add party crashers.
* cancelled booking, or SEQUENCE older than the booking's latest → IGNORED_STALE ``REPLY_STALE``.
* per attendee, replies are ordered by (SEQUENCE, DTSTAMP): one not newer than the recorded one
  (older, or a repeat) → IGNORED_STALE ``REPLY_STALE``. A reply without DTSTAMP is stamped
  ``received_at``; a SEQUENCE above the booking's (a confused client) counts as the booking's.
* REPLY → APPLIED with its PARTSTAT (absent = NEEDS-ACTION, the RFC default). COUNTER → APPLIED,
  the proposal recorded, PARTSTAT kept unless the COUNTER carries one. Both report to the organizer
  unless the organizer answered. REFRESH → APPLIED with ``resend_latest`` and nothing to record.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from typing import Any

from icalendar import Calendar, Component

from services.booking.invites.model import (
    BookingReplyState,
    ItipResponse,
    MessageRejected,
    PartStat,
    RejectReason,
    ReplyDecision,
    ReplyOutcome,
    ResponseMethod,
)

log = logging.getLogger("rendezvous.booking.replies")

MAX_MESSAGE_BYTES = 3 * 1024 * 1024  # IngestEmailRequest.raw_message limit
MAX_CALENDAR_PARTS = 20
MAX_COMMENT_CHARS = 2000
_LINE_END = re.compile(r"\r*\n|\r")
_CALENDAR_TYPES = {"text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics"}


class _Malformed(Exception):
    pass


def parse_itip_message(raw: bytes) -> ItipResponse | MessageRejected:
    """The iTIP response carried by ``raw`` (RFC 5322 bytes), or why there is none. Never raises."""
    try:
        return _parse(raw)
    except Exception as exc:  # the parsers below are defensive; this is the last line
        log.warning("inbound mail could not be parsed", exc_info=True)
        return MessageRejected(RejectReason.MESSAGE_MALFORMED, f"unreadable message ({type(exc).__name__})")


def _parse(raw: bytes) -> ItipResponse | MessageRejected:
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        return MessageRejected(RejectReason.MESSAGE_MALFORMED, "empty message")
    if len(raw) > MAX_MESSAGE_BYTES:
        return MessageRejected(RejectReason.MESSAGE_MALFORMED, f"message larger than {MAX_MESSAGE_BYTES} bytes")
    # compat32 parses lazily and leniently; header values are not needed, only the MIME tree.
    msg = message_from_bytes(bytes(raw), policy=compat32)
    if not msg.keys() and not msg.is_multipart():
        return MessageRejected(RejectReason.MESSAGE_MALFORMED, "no RFC 5322 header")
    malformed: str | None = None
    methods_seen: list[str] = []
    for text in _calendar_texts(msg):
        try:
            calendars = Calendar.from_ical(text, multiple=True)
        except Exception as exc:
            malformed = malformed or f"calendar part is not valid iCalendar ({type(exc).__name__})"
            continue
        for cal in calendars:
            method = str(cal.get("METHOD", "")).strip().upper()
            methods_seen.append(method)
            if method not in ResponseMethod.__members__:
                continue
            try:
                return _response(ResponseMethod(method), cal)
            except _Malformed as exc:
                malformed = malformed or str(exc)
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
                malformed = malformed or f"{method} is not valid iCalendar ({type(exc).__name__})"
    if malformed:
        return MessageRejected(RejectReason.MESSAGE_MALFORMED, malformed)
    found = next((m for m in methods_seen if m), "")
    if not methods_seen:
        return MessageRejected(RejectReason.MESSAGE_NOT_A_REPLY, "no calendar part")
    return MessageRejected(RejectReason.MESSAGE_NOT_A_REPLY, f"METHOD {found or '(none)'} is not a reply", found)


def _calendar_texts(msg: Message) -> list[str]:
    texts: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type().lower()
        filename = (part.get_filename() or part.get_param("name") or "") if ctype != "text/calendar" else ""
        name = filename if isinstance(filename, str) else ""
        if ctype not in _CALENDAR_TYPES and not name.lower().endswith((".ics", ".ical", ".ifb", ".vcs")):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        text = _decode(payload, part.get_content_charset())
        # Mail gateways mangle line ends (bare LF, CR CR LF); iCalendar wants CRLF.
        texts.append(_LINE_END.sub("\r\n", text))
        if len(texts) >= MAX_CALENDAR_PARTS:
            break
    return texts


def _decode(payload: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def _response(method: ResponseMethod, cal: Component) -> ItipResponse:
    events = [c for c in cal.subcomponents if c.name == "VEVENT"]
    if not events:
        raise _Malformed(f"{method.value} carries no VEVENT")
    # A booking is one event; prefer the master over an instance (RECURRENCE-ID) if both are sent.
    event = next((e for e in events if "RECURRENCE-ID" not in e), events[0])
    uid = str(event.get("UID", "")).strip()
    if not uid:
        raise _Malformed(f"{method.value} has no UID")
    sequence = _sequence(event)
    attendee = _answering_attendee(method, event)
    email = _email(attendee)
    params = attendee.params
    partstat = _partstat(params.get("PARTSTAT"))
    comment = _comment(event, params)
    start = end = None
    if method is ResponseMethod.COUNTER:
        start, end = _proposal(event)
    return ItipResponse(
        method=method,
        uid=uid,
        sequence=sequence,
        dtstamp=_instant(event.get("DTSTAMP")),
        attendee_email=email,
        partstat=partstat,
        comment=comment,
        proposed_start=start,
        proposed_end=end,
        attendee_name=str(params.get("CN", "")).strip()[:256],
        sent_by=_strip_mailto(str(params.get("SENT-BY", ""))).lower(),
    )


def _sequence(event: Component) -> int:
    value = event.get("SEQUENCE")
    if value is None:
        return 0
    try:
        sequence = int(str(value).strip())
    except ValueError as exc:
        raise _Malformed("SEQUENCE is not an integer") from exc
    if not 0 <= sequence < 2**31:
        raise _Malformed("SEQUENCE out of range")
    return sequence


def _answering_attendee(method: ResponseMethod, event: Component) -> Any:
    raw = event.get("ATTENDEE")
    attendees = [] if raw is None else raw if isinstance(raw, list) else [raw]
    if len(attendees) == 1:
        return attendees[0]
    if not attendees:
        raise _Malformed(f"{method.value} has no ATTENDEE")
    # RFC 5546 wants exactly one; some clients echo everyone. Only a single answered entry is usable.
    answered = [a for a in attendees if _partstat(a.params.get("PARTSTAT")) not in (None, PartStat.NEEDS_ACTION)]
    if len(answered) == 1:
        return answered[0]
    raise _Malformed(f"{method.value} has {len(attendees)} ATTENDEEs and no single answer")


def _strip_mailto(value: str) -> str:
    value = value.strip().strip('"').strip()
    if value[:7].lower() == "mailto:":
        value = value[7:]
    return value.strip()


def _email(attendee: object) -> str:
    email = _strip_mailto(str(attendee)).lower()
    local, _, domain = email.rpartition("@")
    if not local or not domain or len(email) > 320 or any(c.isspace() for c in email):
        raise _Malformed("ATTENDEE is not a mailto: address")
    return email


def _partstat(value: object) -> PartStat | None:
    if value is None:
        return None
    try:
        return PartStat(str(value).strip().upper())
    except ValueError:
        return None


def _comment(event: Component, params: object) -> str:
    raw = event.get("COMMENT")
    items = [] if raw is None else raw if isinstance(raw, list) else [raw]
    texts = [str(c).strip() for c in items if str(c).strip()]
    google = getattr(params, "get", lambda _k, _d=None: None)("X-RESPONSE-COMMENT")
    if google and str(google).strip() and not texts:
        texts.append(str(google).strip())  # Google puts the RSVP note in an ATTENDEE parameter
    return "\n".join(texts)[:MAX_COMMENT_CHARS]


def _proposal(event: Component) -> tuple[datetime | None, datetime | None]:
    start = _instant(event.get("DTSTART"))
    if start is None:
        return None, None
    end = _instant(event.get("DTEND"))
    if end is None and event.get("DURATION") is not None:
        duration = event.decoded("DURATION")
        if isinstance(duration, timedelta):
            end = start + duration
    if end is not None and end <= start:
        raise _Malformed("COUNTER proposes an end before its start")
    return start, end


def _instant(prop: object) -> datetime | None:
    """An aware UTC instant from a DATE-TIME property; None for absent or all-day values.
    Floating times (no Z, no TZID) are read as UTC: the best guess for a machine-written reply."""
    value = getattr(prop, "dt", None)
    if not isinstance(value, datetime):
        if prop is not None and not isinstance(value, date):
            raise _Malformed("a date-time property is not a date-time")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def decide(state: BookingReplyState | None, response: ItipResponse, *, received_at: datetime) -> ReplyDecision:
    """What ``response`` changes on the booking ``state`` (see the module docstring). Pure."""
    email = response.attendee_email.lower()
    if state is None:
        return ReplyDecision(ReplyOutcome.REJECTED, RejectReason.BOOKING_NOT_FOUND.value, attendee_email=email)
    party = next((p for p in state.parties if p.email.lower() == email), None)
    if party is None:
        return ReplyDecision(
            ReplyOutcome.REJECTED, RejectReason.ATTENDEE_NOT_FOUND.value, state.booking_id, attendee_email=email
        )
    stale = ReplyDecision(
        ReplyOutcome.IGNORED_STALE, RejectReason.REPLY_STALE.value, state.booking_id, attendee_email=email
    )
    if state.cancelled:
        return stale
    if response.method is ResponseMethod.REFRESH:
        return ReplyDecision(
            ReplyOutcome.APPLIED, "", state.booking_id, email, partstat=party.partstat, resend_latest=True
        )
    if response.sequence < state.sequence:
        return stale
    sequence = min(response.sequence, state.sequence)
    stamp = _utc(response.dtstamp or received_at)
    if party.last_sequence is not None:
        last_stamp = _utc(party.last_dtstamp) if party.last_dtstamp else datetime.min.replace(tzinfo=UTC)
        if (sequence, stamp) <= (party.last_sequence, last_stamp):
            return stale
    if response.method is ResponseMethod.COUNTER:
        partstat = response.partstat or party.partstat
    else:
        partstat = response.partstat or PartStat.NEEDS_ACTION
    return ReplyDecision(
        ReplyOutcome.APPLIED,
        "",
        state.booking_id,
        email,
        partstat=partstat,
        comment=response.comment,
        proposed_start=response.proposed_start,
        proposed_end=response.proposed_end,
        responded_at=stamp,
        sequence=sequence,
        report_to_organizer=email != state.organizer_email.lower(),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
