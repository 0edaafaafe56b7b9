"""Rows of the booking tables to domain objects and back (explicit, one place)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.booking.domain.model import (
    AccessMode,
    Booking,
    BookingState,
    CalendarRoute,
    Conferencing,
    ConferencingChoice,
    ConferencingService,
    ConferencingState,
    Delivery,
    DeliveryMethod,
    DeliveryState,
    Party,
    PartyKind,
    Provider,
    ResponseStatus,
)


def utc(value: datetime | None) -> datetime | None:
    """Stored instants are UTC; SQLite hands them back naive and takes them without a zone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def must_utc(value: datetime) -> datetime:
    result = utc(value)
    assert result is not None
    return result


def booking_values(b: Booking) -> dict[str, Any]:
    c, d, r = b.conferencing, b.delivery, b.route
    return {
        "id": b.id,
        "org_unit_id": b.org_unit_id,
        "organizer_email": b.organizer.email,
        "start_time": utc(b.start),
        "end_time": utc(b.end),
        "time_zone": b.time_zone,
        "summary": b.summary,
        "description": b.description,
        "location": b.location,
        "state": b.state.value,
        "cancel_reason": b.cancel_reason,
        "cancel_time": utc(b.cancel_time),
        "access_mode": r.access_mode.value,
        "calendar_provider": r.provider.value,
        "calendar_connection_id": r.calendar_connection_id,
        "credential_id": r.credential_id,
        "mailbox_user_id": r.mailbox_user_id,
        "invite_sender": b.invite_sender,
        "unit_name": b.unit_name,
        "request_id": b.request_id or None,
        "request_hash": b.request_hash,
        "version": b.version,
        "create_time": utc(b.create_time),
        "update_time": utc(b.update_time),
        "conf_requested": c.requested.value,
        "conf_service": c.service.value,
        "conf_state": c.state.value,
        "conf_native": c.native,
        "conf_connection_id": c.connection_id,
        "conf_credential_id": c.credential_id,
        "conf_host_user_id": c.host_user_id,
        "conf_join_url": c.join_url,
        "conf_meeting_id": c.meeting_id,
        "conf_passcode": c.passcode,
        "conf_failure": c.failure_message[:1024],
        "conf_attempts": c.attempts,
        "conf_next_attempt_time": utc(c.next_attempt_time),
        "dlv_method": d.method.value,
        "dlv_state": d.state.value,
        "dlv_event_id": d.provider_event_id,
        "dlv_ical_uid": d.ical_uid,
        "dlv_sequence": d.sequence,
        "dlv_last_error": d.last_error[:1024],
        "dlv_attempts": d.attempt_count,
        "dlv_last_attempt_time": utc(d.last_attempt_time),
        "dlv_deliver_time": utc(d.deliver_time),
        "dlv_next_attempt_time": utc(d.next_attempt_time),
    }


def party_values(booking_id: str, position: int, p: Party) -> dict[str, Any]:
    return {
        "booking_id": booking_id,
        "email": p.email,
        "position": position,
        "kind": p.kind.value,
        "display_name": p.display_name,
        "optional": p.optional,
        "response_status": p.response_status.value,
        "comment": p.comment[:2048],
        "proposed_start": utc(p.proposed_start),
        "proposed_end": utc(p.proposed_end),
        "response_time": utc(p.response_time),
        "last_sequence": p.last_sequence,
        "last_dtstamp": utc(p.last_dtstamp),
    }


def parties_values(b: Booking) -> list[dict[str, Any]]:
    return [party_values(b.id, i, p) for i, p in enumerate(b.parties)]


def party(row: Any) -> Party:
    return Party(
        email=row.email,
        kind=PartyKind(row.kind),
        display_name=row.display_name,
        optional=bool(row.optional),
        response_status=ResponseStatus(row.response_status),
        comment=row.comment,
        proposed_start=utc(row.proposed_start),
        proposed_end=utc(row.proposed_end),
        response_time=utc(row.response_time),
        last_sequence=row.last_sequence,
        last_dtstamp=utc(row.last_dtstamp),
    )


def booking(row: Any, parties: list[Party]) -> Booking:
    organizer = next(p for p in parties if p.kind is PartyKind.ORGANIZER)
    return Booking(
        id=row.id,
        org_unit_id=row.org_unit_id,
        organizer=organizer,
        attendees=tuple(p for p in parties if p.kind is PartyKind.PERSON),
        rooms=tuple(p for p in parties if p.kind is PartyKind.ROOM),
        start=must_utc(row.start_time),
        end=must_utc(row.end_time),
        time_zone=row.time_zone,
        summary=row.summary,
        description=row.description,
        location=row.location,
        conferencing=Conferencing(
            requested=ConferencingChoice(row.conf_requested),
            service=ConferencingService(row.conf_service),
            state=ConferencingState(row.conf_state),
            native=bool(row.conf_native),
            connection_id=row.conf_connection_id,
            credential_id=row.conf_credential_id,
            host_user_id=row.conf_host_user_id,
            join_url=row.conf_join_url,
            meeting_id=row.conf_meeting_id,
            passcode=row.conf_passcode,
            failure_message=row.conf_failure,
            attempts=row.conf_attempts,
            next_attempt_time=utc(row.conf_next_attempt_time),
        ),
        route=CalendarRoute(
            access_mode=AccessMode(row.access_mode),
            provider=Provider(row.calendar_provider),
            calendar_connection_id=row.calendar_connection_id,
            credential_id=row.credential_id,
            mailbox_user_id=row.mailbox_user_id,
        ),
        delivery=Delivery(
            method=DeliveryMethod(row.dlv_method),
            state=DeliveryState(row.dlv_state),
            provider_event_id=row.dlv_event_id,
            ical_uid=row.dlv_ical_uid,
            sequence=row.dlv_sequence,
            last_error=row.dlv_last_error,
            attempt_count=row.dlv_attempts,
            last_attempt_time=utc(row.dlv_last_attempt_time),
            deliver_time=utc(row.dlv_deliver_time),
            next_attempt_time=utc(row.dlv_next_attempt_time),
        ),
        invite_sender=row.invite_sender,
        unit_name=row.unit_name,
        create_time=must_utc(row.create_time),
        update_time=must_utc(row.update_time),
        state=BookingState(row.state),
        cancel_reason=row.cancel_reason,
        cancel_time=utc(row.cancel_time),
        request_id=row.request_id or "",
        request_hash=row.request_hash,
        version=row.version,
    )
