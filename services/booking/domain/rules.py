"""What a booking request must satisfy before anything is read, written, sent or created.

Every check names the request field (``attendees[3].email``) and the most specific reason from the
error catalogue; all violations of one request are reported together.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from kit.errors import FieldViolation, InvalidArgument
from kit.validation import is_email, is_time_zone, normalize_email
from services.booking.domain.model import ConferencingChoice

MAX_ATTENDEES = 100
MAX_ROOMS = 10
MAX_EMAIL = 320
MAX_NAME = 256
MAX_SUMMARY = 1024
MAX_DESCRIPTION = 8192
MAX_LOCATION = 1024
MAX_REASON = 1024
MAX_ID = 64
MIN_LENGTH = timedelta(minutes=1)
MAX_LENGTH = timedelta(hours=24)
MAX_LIST_WINDOW = timedelta(days=366)
MAX_BUSY_WINDOW = timedelta(days=42)
MAX_BUSY_EMAILS = 50
_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-_.~]{1,128}$")


@dataclass(frozen=True)
class AttendeeInput:
    email: str
    display_name: str = ""
    optional: bool = False


@dataclass(frozen=True)
class BookingInput:
    """A CreateBooking request as the use case receives it (already out of protobuf)."""

    org_unit_id: str
    organizer_email: str
    start: datetime | None
    end: datetime | None
    summary: str
    organizer_display_name: str = ""
    attendees: tuple[AttendeeInput, ...] = ()
    room_emails: tuple[str, ...] = ()
    time_zone: str = ""
    description: str = ""
    location: str = ""
    conferencing: ConferencingChoice = ConferencingChoice.NONE
    request_id: str = ""


@dataclass(frozen=True)
class ValidBooking:
    """A request that passed every check: emails lower-cased, times present."""

    org_unit_id: str
    organizer_email: str
    organizer_display_name: str
    attendees: tuple[AttendeeInput, ...]
    room_emails: tuple[str, ...]
    start: datetime
    end: datetime
    time_zone: str
    summary: str
    description: str
    location: str
    conferencing: ConferencingChoice
    request_id: str

    def fingerprint(self) -> str:
        """A digest of the payload, to tell a retry (same) from a reused request_id (different)."""
        body = {
            "org": self.org_unit_id,
            "organizer": [self.organizer_email, self.organizer_display_name],
            "attendees": [[a.email, a.display_name, a.optional] for a in self.attendees],
            "rooms": list(self.room_emails),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "tz": self.time_zone,
            "text": [self.summary, self.description, self.location],
            "conferencing": self.conferencing.value,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class Problems:
    """Collects violations with their reasons; raises INVALID_ARGUMENT with the first reason."""

    items: list[tuple[FieldViolation, str, dict[str, str]]] = field(default_factory=list)

    def add(self, path: str, description: str, reason: str = "FIELD_INVALID", **metadata: str) -> None:
        self.items.append((FieldViolation(path, description), reason, metadata))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first, reason, metadata = self.items[0]
        summary = "; ".join(f"{v.field}: {v.description}" for v, _, _ in self.items)
        raise InvalidArgument(
            summary, reason=reason, metadata={"field": first.field, **metadata},
            violations=[v for v, _, _ in self.items],
        )


def check_text(problems: Problems, path: str, value: str, maximum: int, *, required: bool = False) -> str:
    if required and not value.strip():
        problems.add(path, "is required")
    elif len(value) > maximum:
        problems.add(path, f"must be at most {maximum} characters")
    return value


def check_email(problems: Problems, path: str, value: str, *, required: bool = True) -> str:
    email = normalize_email(value)
    if not email:
        if required:
            problems.add(path, "is required")
    elif len(email) > MAX_EMAIL or not is_email(email):
        problems.add(path, "is not a valid email address")
    return email


def check_id(problems: Problems, path: str, value: str) -> str:
    if not value:
        problems.add(path, "is required")
    elif len(value) > MAX_ID:
        problems.add(path, f"must be at most {MAX_ID} characters")
    return value


def check_request_id(problems: Problems, value: str) -> str:
    if value and not _REQUEST_ID.match(value):
        problems.add("request_id", "must be 1 to 128 letters, digits, '-', '_', '.' or '~'")
    return value


def check_times(problems: Problems, start: datetime | None, end: datetime | None) -> None:
    """Both present, whole seconds, end after start, a length of 1 minute to 24 hours."""
    if start is None:
        problems.add("start_time", "is required")
    elif start.microsecond:
        problems.add("start_time", "must be in whole seconds")
    if end is None:
        problems.add("end_time", "is required")
    elif end.microsecond:
        problems.add("end_time", "must be in whole seconds")
    if start is None or end is None:
        return
    if end <= start:
        problems.add("end_time", "must be after start_time", "TIME_RANGE_INVALID")
    elif not MIN_LENGTH <= end - start <= MAX_LENGTH:
        problems.add("end_time", "must be 1 minute to 24 hours after start_time", "DURATION_INVALID")


def check_time_zone(problems: Problems, path: str, value: str) -> str:
    if value and not is_time_zone(value):
        problems.add(path, f"{value!r} is not a known IANA time zone", "TIME_ZONE_UNKNOWN", time_zone=value)
    return value


def check_people(
    problems: Problems,
    organizer: str,
    attendees: Sequence[AttendeeInput],
    rooms: Sequence[str],
    *,
    attendees_path: str = "attendees",
    rooms_path: str = "room_emails",
    room_suffix: str = "",
) -> tuple[tuple[AttendeeInput, ...], tuple[str, ...]]:
    """Attendees and rooms, normalized; limits and duplicates (the organizer listed again included)."""
    if len(attendees) > MAX_ATTENDEES:
        problems.add(attendees_path, f"at most {MAX_ATTENDEES} attendees", "TOO_MANY_ATTENDEES", max=str(MAX_ATTENDEES))
    if len(rooms) > MAX_ROOMS:
        problems.add(rooms_path, f"at most {MAX_ROOMS} rooms", "TOO_MANY_ROOMS", max=str(MAX_ROOMS))
    seen = {organizer} if organizer else set()
    people = []
    for i, attendee in enumerate(attendees):
        path = f"{attendees_path}[{i}]"
        email = check_email(problems, f"{path}.email", attendee.email)
        check_text(problems, f"{path}.display_name", attendee.display_name, MAX_NAME)
        if email and email in seen:
            problems.add(f"{path}.email", f"{email} is listed twice (or is the organizer)", "DUPLICATE_ATTENDEE", email=email)
        seen.add(email)
        people.append(AttendeeInput(email, attendee.display_name.strip(), attendee.optional))
    room_emails = []
    for i, room in enumerate(rooms):
        path = f"{rooms_path}[{i}]{room_suffix}"
        email = check_email(problems, path, room)
        if email and email in seen:
            problems.add(path, f"{email} is listed twice (or is the organizer)", "DUPLICATE_ATTENDEE", email=email)
        seen.add(email)
        room_emails.append(email)
    return tuple(people), tuple(room_emails)


def validate_booking(request: BookingInput) -> ValidBooking:
    """Every check of CreateBooking (INVALID_ARGUMENT naming the fields); nothing is looked up."""
    p = Problems()
    check_id(p, "org_unit_id", request.org_unit_id)
    organizer = check_email(p, "organizer_email", request.organizer_email)
    check_text(p, "organizer_display_name", request.organizer_display_name, MAX_NAME)
    attendees, rooms = check_people(p, organizer, request.attendees, request.room_emails)
    check_times(p, request.start, request.end)
    check_time_zone(p, "time_zone", request.time_zone)
    check_text(p, "summary", request.summary, MAX_SUMMARY, required=True)
    check_text(p, "description", request.description, MAX_DESCRIPTION)
    check_text(p, "location", request.location, MAX_LOCATION)
    check_request_id(p, request.request_id)
    p.raise_if_any()
    assert request.start is not None and request.end is not None
    return ValidBooking(
        org_unit_id=request.org_unit_id,
        organizer_email=organizer,
        organizer_display_name=request.organizer_display_name.strip(),
        attendees=attendees,
        room_emails=rooms,
        start=request.start,
        end=request.end,
        time_zone=request.time_zone,
        summary=request.summary,
        description=request.description,
        location=request.location,
        conferencing=request.conferencing,
        request_id=request.request_id,
    )


UPDATABLE = frozenset(
    {"summary", "description", "location", "start_time", "end_time", "time_zone", "attendees", "rooms", "conferencing"}
)


@dataclass(frozen=True)
class UpdateInput:
    """An UpdateBooking request: only the fields named in ``paths`` are read."""

    org_unit_id: str
    booking_id: str
    paths: tuple[str, ...]
    summary: str = ""
    description: str = ""
    location: str = ""
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str = ""
    attendees: tuple[AttendeeInput, ...] = ()
    room_emails: tuple[str, ...] = ()
    conferencing: ConferencingChoice = ConferencingChoice.NONE
    request_id: str = ""

    def has(self, path: str) -> bool:
        return path in self.paths

    def fingerprint(self) -> str:
        body = {
            "paths": sorted(self.paths),
            "text": [self.summary, self.description, self.location, self.time_zone],
            "times": [self.start.isoformat() if self.start else "", self.end.isoformat() if self.end else ""],
            "attendees": [[a.email.lower(), a.display_name, a.optional] for a in self.attendees],
            "rooms": [r.lower() for r in self.room_emails],
            "conferencing": self.conferencing.value,
        }
        return hashlib.sha256(json.dumps({"booking": self.booking_id, **body}, sort_keys=True).encode()).hexdigest()


def validate_update(
    request: UpdateInput, organizer: str, start: datetime, end: datetime,
    attendees: Sequence[AttendeeInput], rooms: Sequence[str],
) -> UpdateInput:
    """Every check of UpdateBooking against the booking's current organizer, time, attendees and
    rooms; field paths as in the request (``booking.attendees[2].email``). Returns it normalized."""
    p = Problems()
    check_id(p, "org_unit_id", request.org_unit_id)
    check_id(p, "booking_id", request.booking_id)
    unknown = sorted(set(request.paths) - UPDATABLE)
    if not request.paths or unknown:
        p.add("update_mask", "must name some of " + ", ".join(sorted(UPDATABLE))
              + (f"; not {', '.join(unknown)}" if unknown else ""))
    if request.has("summary"):
        check_text(p, "booking.summary", request.summary, MAX_SUMMARY, required=True)
    if request.has("description"):
        check_text(p, "booking.description", request.description, MAX_DESCRIPTION)
    if request.has("location"):
        check_text(p, "booking.location", request.location, MAX_LOCATION)
    if request.has("time_zone"):
        check_time_zone(p, "booking.time_zone", request.time_zone)
    new_start = request.start if request.has("start_time") else start
    new_end = request.end if request.has("end_time") else end
    times = Problems()
    check_times(times, new_start, new_end)
    for violation, reason, metadata in times.items:
        p.add(f"booking.{violation.field}", violation.description, reason, **metadata)
    people, room_emails = check_people(
        p, organizer,
        request.attendees if request.has("attendees") else tuple(attendees),
        request.room_emails if request.has("rooms") else tuple(rooms),
        attendees_path="booking.attendees", rooms_path="booking.rooms", room_suffix=".email",
    )
    check_request_id(p, request.request_id)
    p.raise_if_any()
    return replace(
        request,
        attendees=people if request.has("attendees") else (),
        room_emails=room_emails if request.has("rooms") else (),
    )


def validate_cancel(org_unit_id: str, booking_id: str, reason: str, request_id: str) -> None:
    p = Problems()
    check_id(p, "org_unit_id", org_unit_id)
    check_id(p, "booking_id", booking_id)
    check_text(p, "reason", reason, MAX_REASON)
    check_request_id(p, request_id)
    p.raise_if_any()
