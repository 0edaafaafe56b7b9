"""iCalendar bodies of the invites we send (RFC 5545 / iTIP RFC 5546), built with icalendar 7.

* ``request_ics(event, stamp=…)`` → METHOD:REQUEST (new invite, update, or a response report).
* ``cancel_ics(event, stamp=…)`` → METHOD:CANCEL of the whole event: STATUS:CANCELLED, every
  attendee listed.
* ``cancel_ics(event, stamp=…, removed=parties)`` → METHOD:CANCEL uninviting only ``removed``: only
  they are listed and STATUS is omitted (the others get a REQUEST with the same SEQUENCE).

The caller chooses SEQUENCE (``event.sequence``): bump it for an update and for either CANCEL.
DTSTAMP is ``stamp`` (the send time). ORGANIZER is ``mailto:`` the unit's invite mailbox with
CN = the human organizer's name and SENT-BY = the human; the human is also an ATTENDEE with
ROLE=CHAIR. Every other attendee carries RSVP and PARTSTAT from the booking's state.

Times: with ``time_zone`` empty DTSTART/DTEND are UTC (``…Z``) and no VTIMEZONE is needed — what
Google's own invites do for single events. With an IANA ``time_zone`` the times are written in that
zone with TZID and an inline VTIMEZONE (iMIP forbids references) limited to the calendar year(s)
the event touches: narrow enough to stay a few hundred bytes, wide enough that zones with DST carry
both a STANDARD and a DAYLIGHT observance, which Outlook maps to its own zones most reliably.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Conference, Event, Timezone, vCalAddress

from services.booking.invites.model import (
    CuType,
    EventStatus,
    InviteEvent,
    InviteMethod,
    InviteParty,
    PartStat,
    Role,
)

PRODID = "-//Rendezvous//Booking//EN"


def request_ics(event: InviteEvent, *, stamp: datetime) -> bytes:
    """METHOD:REQUEST for ``event`` as it stands (STATUS:CONFIRMED)."""
    check_event(event)
    parties = [_organizer_attendee(event, for_cancel=False)]
    parties += [_attendee(p, for_cancel=False) for p in event.attendees]
    return _calendar(event, InviteMethod.REQUEST, stamp, parties, EventStatus.CONFIRMED)


def cancel_ics(event: InviteEvent, *, stamp: datetime, removed: Sequence[InviteParty] | None = None) -> bytes:
    """METHOD:CANCEL: the whole event (``removed`` None) or uninviting ``removed`` only."""
    check_event(event)
    if removed is None:
        parties = [_organizer_attendee(event, for_cancel=True)]
        parties += [_attendee(p, for_cancel=True) for p in event.attendees]
        return _calendar(event, InviteMethod.CANCEL, stamp, parties, EventStatus.CANCELLED)
    if not removed:
        raise ValueError("an uninvite CANCEL needs at least one removed attendee")
    _check_parties(event, removed)
    return _calendar(event, InviteMethod.CANCEL, stamp, [_attendee(p, for_cancel=True) for p in removed], None)


def check_event(event: InviteEvent) -> None:
    """Raise ``ValueError`` for an event no invite may describe (a bug in the caller: the use case
    validates input first)."""
    for name, value in (("start", event.start), ("end", event.end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime")
    if event.end <= event.start:
        raise ValueError("end must be after start")
    if event.sequence < 0:
        raise ValueError("sequence must not be negative")
    if not event.uid:
        raise ValueError("uid is required")
    for field, address in (("organizer_mailbox", event.organizer_mailbox), ("organizer_email", event.organizer_email)):
        if "@" not in address:
            raise ValueError(f"{field} must be an email address")
    if event.organizer_mailbox.lower() == event.organizer_email.lower():
        raise ValueError("the organizer mailbox must not be the human organizer's own address")
    if event.time_zone:
        try:
            ZoneInfo(event.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {event.time_zone!r}") from exc
    _check_parties(event, event.attendees)
    emails = [p.email.lower() for p in event.attendees]
    if len(set(emails)) != len(emails):
        raise ValueError("duplicate attendee")


def _check_parties(event: InviteEvent, parties: Sequence[InviteParty]) -> None:
    own = {event.organizer_mailbox.lower(), event.organizer_email.lower()}
    for p in parties:
        if p.cutype is not CuType.INDIVIDUAL:
            raise ValueError(f"{p.email}: emailed invites cannot book a {p.cutype.value.lower()}")
        if "@" not in p.email:
            raise ValueError(f"{p.email!r} is not an email address")
        if p.email.lower() in own:
            raise ValueError(f"{p.email}: the organizer and the mailbox are not listed as ordinary attendees")


def _calendar(
    event: InviteEvent,
    method: InviteMethod,
    stamp: datetime,
    attendees: list[vCalAddress],
    status: EventStatus | None,
) -> bytes:
    if stamp.tzinfo is None:
        raise ValueError("stamp must be an aware datetime")
    start, end = _times(event)
    location = event.location or event.conference_url
    conferences = [_conference(event)] if event.conference_url else None
    ev = Event.new(
        uid=event.uid,
        sequence=event.sequence,
        stamp=stamp.astimezone(UTC),
        start=start,
        end=end,
        summary=event.summary,
        description=invite_description(event) or None,
        location=location or None,
        organizer=vCalAddress.new(
            event.organizer_mailbox,
            cn=_cn(event.organizer_name),
            sent_by=event.organizer_email if event.sent_by else None,
        ),
        attendees=attendees,
        conferences=conferences,
        status=status.value if status else None,  # type: ignore[arg-type]
        transparency="OPAQUE",  # type: ignore[arg-type]
    )
    if event.conference_url:
        ev.add("X-GOOGLE-CONFERENCE", event.conference_url)
    cal = Calendar.new(prodid=PRODID, method=method.value, subcomponents=[ev])
    del cal["UID"]  # Calendar.new adds a random VCALENDAR UID (RFC 7986); keep output deterministic
    if event.time_zone:
        # what cal.add_missing_timezones(first_date, last_date) does, with each VTIMEZONE made once
        for position, tzid in enumerate(sorted(cal.get_missing_tzids())):
            zone = _vtimezone(tzid, start.year, end.year + 1)
            if zone is not None:
                cal.subcomponents.insert(position, zone)
    return cal.to_ical()


@lru_cache(maxsize=512)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone | None:
    """The VTIMEZONE of ``tzid`` from 1 January ``first_year`` to 1 January ``last_year`` (None for
    a zone icalendar cannot describe). Cached: working out a zone's transitions costs more than the
    rest of an invite, and every invite of a unit uses the same few zones. The component is only
    ever serialized, never changed, so calendars can share it."""
    try:
        return Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1))
    except ValueError:
        return None


def _times(event: InviteEvent) -> tuple[datetime, datetime]:
    if event.time_zone:
        zone = ZoneInfo(event.time_zone)
        return event.start.astimezone(zone), event.end.astimezone(zone)
    return event.start.astimezone(UTC), event.end.astimezone(UTC)


def _conference(event: InviteEvent) -> Conference:
    label = event.conference_name or "Join the meeting"
    return Conference(event.conference_url, feature=["VIDEO"], label=label)


def invite_description(event: InviteEvent) -> str:
    """DESCRIPTION: the booking's text, then how to join (clients without CONFERENCE show this)."""
    parts = [event.description.strip()] if event.description.strip() else []
    if event.conference_url:
        join = f"Join {event.conference_name or 'the meeting'}: {event.conference_url}"
        if event.conference_details:
            join += f"\n{event.conference_details}"
        parts.append(join)
    return "\n\n".join(parts)


def _organizer_attendee(event: InviteEvent, *, for_cancel: bool) -> vCalAddress:
    needs_answer = event.organizer_partstat is PartStat.NEEDS_ACTION
    return vCalAddress.new(
        event.organizer_email,
        cn=_cn(event.organizer_name),
        cutype=CuType.INDIVIDUAL.value,
        role=Role.CHAIR.value,
        partstat=event.organizer_partstat.value,
        rsvp=True if needs_answer and not for_cancel else None,
    )


def _attendee(party: InviteParty, *, for_cancel: bool) -> vCalAddress:
    return vCalAddress.new(
        party.email,
        cn=_cn(party.name),
        cutype=party.cutype.value,
        role=party.role.value,
        partstat=party.partstat.value,
        rsvp=True if party.rsvp and not for_cancel else None,
    )


def _cn(name: str) -> str | None:
    """A CN every client shows as is: one line, and ' for " (RFC 6868's ^' escape is not universal)."""
    clean = " ".join(name.split()).replace('"', "'")
    return clean or None
