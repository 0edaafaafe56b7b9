"""Changing and cancelling a booking: the new version, what it resets, who is no longer invited."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.booking.domain.model import (
    AccessMode,
    Booking,
    BookingState,
    Conferencing,
    ConferencingState,
    DeliveryState,
    Party,
    ResponseStatus,
)


@dataclass(frozen=True)
class Changes:
    """New values; None leaves a field as it is. ``attendees``/``rooms`` replace the whole list."""

    summary: str | None = None
    description: str | None = None
    location: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    attendees: tuple[Party, ...] | None = None
    rooms: tuple[Party, ...] | None = None
    conferencing: Conferencing | None = None


@dataclass(frozen=True)
class Change:
    booking: Booking
    removed: tuple[Party, ...]  # attendees no longer invited (they get an UNINVITE by mail)
    changed: bool
    time_changed: bool


def _merge(old: tuple[Party, ...], new: tuple[Party, ...]) -> tuple[Party, ...]:
    """Parties kept by email keep their answers; names and optional flags come from ``new``."""
    by_email = {p.email: p for p in old}
    merged = []
    for party in new:
        before = by_email.get(party.email)
        merged.append(replace(before, display_name=party.display_name, optional=party.optional) if before else party)
    return tuple(merged)


def apply_changes(booking: Booking, changes: Changes, now: datetime, next_attempt: datetime | None) -> Change:
    """The booking's next version. A new time asks every party again (NEEDS_ACTION). Delivery starts
    over for the new version (emailed invites with SEQUENCE + 1); ``next_attempt`` is when background
    delivery of a provider event becomes due."""
    start = changes.start or booking.start
    end = changes.end or booking.end
    attendees = booking.attendees if changes.attendees is None else _merge(booking.attendees, changes.attendees)
    rooms = booking.rooms if changes.rooms is None else _merge(booking.rooms, changes.rooms)
    updated = replace(
        booking,
        summary=booking.summary if changes.summary is None else changes.summary,
        description=booking.description if changes.description is None else changes.description,
        location=booking.location if changes.location is None else changes.location,
        start=start,
        end=end,
        time_zone=booking.time_zone if changes.time_zone is None else (changes.time_zone or booking.time_zone),
        attendees=attendees,
        rooms=rooms,
        conferencing=changes.conferencing or booking.conferencing,
    )
    if changes.conferencing is None and needs_move(booking, updated):
        updated = move_meeting(updated, next_attempt)
    time_changed = (start, end) != (booking.start, booking.end)
    if time_changed:
        organizer = booking.organizer
        if booking.route.access_mode.emails_invites:
            organizer = organizer.reset_response()
        updated = replace(
            updated, organizer=organizer, attendees=tuple(a.reset_response() for a in updated.attendees),
            rooms=tuple(r.reset_response() for r in updated.rooms),
        )
    changed = _visible(updated) != _visible(booking)
    kept = {a.email for a in updated.attendees}
    removed = tuple(a for a in booking.attendees if a.email not in kept)
    if not changed:
        return Change(booking, (), False, False)
    return Change(_next_version(updated, now, next_attempt), removed, True, time_changed)


def needs_move(before: Booking, after: Booking) -> bool:
    """The booking's linked meeting must be given the booking's new time or title."""
    conf = after.conferencing
    return conf.linked_meeting and conf.service.scheduled and before.meeting_terms != after.meeting_terms


def move_meeting(booking: Booking, due: datetime | None) -> Booking:
    """The booking with its linked meeting's move to the booking's terms due at ``due`` (PENDING)."""
    return replace(booking, conferencing=replace(
        booking.conferencing, state=ConferencingState.PENDING, attempts=0, failure_message="", next_attempt_time=due))


def cancel(booking: Booking, reason: str, now: datetime, next_attempt: datetime | None) -> Booking:
    """The booking CANCELLED: its time is free again, the cancellation is the next version. A move
    of its linked meeting still due is dropped (the meeting is deleted instead)."""
    cancelled = replace(booking, state=BookingState.CANCELLED, cancel_reason=reason, cancel_time=now)
    if cancelled.conferencing.moving:
        cancelled = replace(cancelled, conferencing=replace(
            cancelled.conferencing, state=ConferencingState.CREATED, failure_message="", next_attempt_time=None))
    return _next_version(cancelled, now, next_attempt)


def _next_version(booking: Booking, now: datetime, next_attempt: datetime | None) -> Booking:
    d = booking.delivery
    email = booking.route.access_mode is not AccessMode.READ_WRITE
    delivery = replace(
        d, state=DeliveryState.PENDING, sequence=d.sequence + 1 if email else d.sequence, last_error="",
        attempt_count=0, deliver_time=None, next_attempt_time=None if email else next_attempt,
    )
    return replace(booking, version=booking.version + 1, delivery=delivery, update_time=now)


def _visible(b: Booking) -> tuple[object, ...]:
    return (
        b.summary, b.description, b.location, b.start, b.end, b.time_zone,
        tuple((a.email, a.display_name, a.optional) for a in b.attendees),
        tuple(r.email for r in b.rooms), b.conferencing.requested, b.conferencing.service,
        b.conferencing.connection_id,
    )


def answer(party: Party, status: ResponseStatus, *, comment: str, proposed: tuple[datetime, datetime] | None,
           at: datetime, sequence: int, dtstamp: datetime | None) -> Party:
    """A party's recorded answer. A COUNTER's proposed time is recorded, never applied; a later
    plain answer replaces it."""
    return replace(
        party, response_status=status, comment=comment,
        proposed_start=proposed[0] if proposed else None, proposed_end=proposed[1] if proposed else None,
        response_time=at, last_sequence=sequence, last_dtstamp=dtstamp,
    )
