"""gRPC edge of the booking service: protobuf in, use cases, protobuf out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from kit.convert import from_timestamp, to_timestamp
from kit.errors import InvalidArgument
from rendezvous.booking.v1 import booking_resources_pb2 as res
from rendezvous.booking.v1 import booking_service_pb2 as pb
from rendezvous.booking.v1 import booking_service_pb2_grpc as pb_grpc
from rendezvous.common.v1 import common_pb2
from services.booking.adapters.peers import enum_name
from services.booking.domain.model import Booking, BookingState, ConferencingChoice, Party
from services.booking.domain.rules import AttendeeInput, BookingInput, UpdateInput
from services.booking.invites.model import ReplyOutcome
from services.booking.usecases.change import CancelBooking, UpdateBooking
from services.booking.usecases.create import CreateBooking
from services.booking.usecases.queries import BookingQueries
from services.booking.usecases.replies import IngestEmail

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["BookingService"].full_name
MAX_RAW_MESSAGE = 3 * 1024 * 1024


def _choice(value: int) -> ConferencingChoice:
    name = enum_name(res.ConferencingChoice, value, "CONFERENCING_CHOICE_")
    return ConferencingChoice(name) if name in ConferencingChoice.__members__ else ConferencingChoice.NONE


def _time(message: object, field: str) -> datetime | None:
    return from_timestamp(getattr(message, field), present=message.HasField(field))  # type: ignore[attr-defined]


def _window(message: object, field: str) -> tuple[datetime | None, datetime | None] | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    window = getattr(message, field)
    return _time(window, "start_time"), _time(window, "end_time")


def _value(wrapper: Any, prefix: str, name: str) -> Any:
    """The enum number of ``prefix + name``; 0 (unspecified) for names the contract lacks."""
    try:
        return wrapper.Value(prefix + name)
    except ValueError:
        return 0


def _response(party: Party) -> int:
    return int(res.ResponseStatus.Value(f"RESPONSE_STATUS_{party.response_status.value}"))


def booking_to_pb(b: Booking) -> res.Booking:
    c, d = b.conferencing, b.delivery
    message = res.Booking(
        id=b.id,
        org_unit_id=b.org_unit_id,
        organizer=res.Organizer(email=b.organizer.email, display_name=b.organizer.display_name,
                                response_status=_response(b.organizer)),  # type: ignore[arg-type]
        attendees=[
            res.Attendee(
                email=a.email, display_name=a.display_name, optional=a.optional, response_status=_response(a),  # type: ignore[arg-type]
                comment=a.comment, response_time=to_timestamp(a.response_time),
                proposed_time=common_pb2.TimeRange(start_time=to_timestamp(a.proposed_start),
                                                   end_time=to_timestamp(a.proposed_end))
                if a.proposed_start and a.proposed_end else None,
            )
            for a in b.attendees
        ],
        rooms=[res.RoomAttendee(email=r.email, display_name=r.display_name, response_status=_response(r))  # type: ignore[arg-type]
               for r in b.rooms],
        start_time=to_timestamp(b.start),
        end_time=to_timestamp(b.end),
        time_zone=b.time_zone,
        summary=b.summary,
        description=b.description,
        location=b.location,
        conferencing=res.Conferencing(
            requested=res.ConferencingChoice.Value(f"CONFERENCING_CHOICE_{c.requested.value}"),
            service=_value(common_pb2.ConferencingService, "CONFERENCING_SERVICE_", c.service.value),
            state=res.Conferencing.State.Value(f"STATE_{c.state.value}"),
            conferencing_connection_id=c.connection_id,
            join_url=c.join_url,
            meeting_id=c.meeting_id,
            passcode=c.passcode,
            failure_message=c.failure_message,
        ),
        state=res.Booking.State.Value(f"STATE_{b.state.value}"),
        cancel_reason=b.cancel_reason,
        delivery=res.Delivery(
            method=res.Delivery.Method.Value(f"METHOD_{d.method.value}"),
            state=res.Delivery.State.Value(f"STATE_{d.state.value}"),
            provider_event_id=d.provider_event_id,
            ical_uid=d.ical_uid,
            sequence=d.sequence,
            last_error=d.last_error,
            attempt_count=d.attempt_count,
            last_attempt_time=to_timestamp(d.last_attempt_time),
            deliver_time=to_timestamp(d.deliver_time),
        ),
        access_mode=common_pb2.CalendarAccessMode.Value(f"CALENDAR_ACCESS_MODE_{b.route.access_mode.value}"),
        calendar_provider=_value(common_pb2.Provider, "PROVIDER_", b.route.provider.value),
        request_id=b.request_id,
        create_time=to_timestamp(b.create_time),
        update_time=to_timestamp(b.update_time),
        cancel_time=to_timestamp(b.cancel_time),
    )
    return message


class BookingServicer(pb_grpc.BookingServiceServicer):
    def __init__(self, create: CreateBooking, update: UpdateBooking, cancel: CancelBooking,
                 queries: BookingQueries, ingest: IngestEmail) -> None:
        self._create = create
        self._update = update
        self._cancel = cancel
        self._queries = queries
        self._ingest = ingest

    async def CreateBooking(self, request: pb.CreateBookingRequest, context: grpc.aio.ServicerContext) -> pb.CreateBookingResponse:
        booking = await self._create(BookingInput(
            org_unit_id=request.org_unit_id,
            organizer_email=request.organizer_email,
            organizer_display_name=request.organizer_display_name,
            attendees=tuple(AttendeeInput(a.email, a.display_name, a.optional) for a in request.attendees),
            room_emails=tuple(request.room_emails),
            start=_time(request, "start_time"),
            end=_time(request, "end_time"),
            time_zone=request.time_zone,
            summary=request.summary,
            description=request.description,
            location=request.location,
            conferencing=_choice(request.conferencing),
            request_id=request.request_id,
        ))
        return pb.CreateBookingResponse(booking=booking_to_pb(booking))

    async def GetBooking(self, request: pb.GetBookingRequest, context: grpc.aio.ServicerContext) -> pb.GetBookingResponse:
        return pb.GetBookingResponse(booking=booking_to_pb(await self._queries.get(request.org_unit_id, request.booking_id)))

    async def ListBookings(self, request: pb.ListBookingsRequest, context: grpc.aio.ServicerContext) -> pb.ListBookingsResponse:
        state_name = enum_name(res.Booking.State, request.state, "STATE_")
        page = await self._queries.list_bookings(
            request.org_unit_id, request.organizer_email, _window(request, "window"),
            BookingState(state_name) if state_name in BookingState.__members__ else None,
            request.page_size, request.page_token,
        )
        return pb.ListBookingsResponse(bookings=[booking_to_pb(b) for b in page.items], next_page_token=page.next_page_token)

    async def UpdateBooking(self, request: pb.UpdateBookingRequest, context: grpc.aio.ServicerContext) -> pb.UpdateBookingResponse:
        given = request.booking
        booking = await self._update(UpdateInput(
            org_unit_id=request.org_unit_id,
            booking_id=request.booking_id,
            paths=tuple(request.update_mask.paths),
            summary=given.summary,
            description=given.description,
            location=given.location,
            start=_time(given, "start_time"),
            end=_time(given, "end_time"),
            time_zone=given.time_zone,
            attendees=tuple(AttendeeInput(a.email, a.display_name, a.optional) for a in given.attendees),
            room_emails=tuple(r.email for r in given.rooms),
            conferencing=_choice(given.conferencing.requested),
            request_id=request.request_id,
        ))
        return pb.UpdateBookingResponse(booking=booking_to_pb(booking))

    async def CancelBooking(self, request: pb.CancelBookingRequest, context: grpc.aio.ServicerContext) -> pb.CancelBookingResponse:
        booking = await self._cancel(request.org_unit_id, request.booking_id, request.reason, request.request_id)
        return pb.CancelBookingResponse(booking=booking_to_pb(booking))

    async def ListBusyPeriods(
        self, request: pb.ListBusyPeriodsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBusyPeriodsResponse:
        page = await self._queries.busy_periods(
            request.org_unit_id, list(request.emails), _window(request, "window"), request.page_size, request.page_token)
        return pb.ListBusyPeriodsResponse(
            busy_periods=[pb.BusyPeriod(email=p.email, start_time=to_timestamp(p.start), end_time=to_timestamp(p.end),
                                        booking_id=p.booking_id) for p in page.items],
            next_page_token=page.next_page_token,
        )

    async def IngestEmail(self, request: pb.IngestEmailRequest, context: grpc.aio.ServicerContext) -> pb.IngestEmailResponse:
        raw = bytes(request.raw_message)
        if not raw:
            raise InvalidArgument.field("raw_message", "is required")
        if len(raw) > MAX_RAW_MESSAGE:
            raise InvalidArgument.field("raw_message", f"must be at most {MAX_RAW_MESSAGE} bytes")
        result = await self._ingest(raw, source="rpc")
        return pb.IngestEmailResponse(
            result=pb.IngestEmailResponse.Result.Value(f"RESULT_{result.outcome.value}"),
            booking_id=result.booking_id,
            attendee_email=result.attendee_email,
            response_status=_value(res.ResponseStatus, "RESPONSE_STATUS_", result.response_status.value)
            if result.response_status and result.outcome is ReplyOutcome.APPLIED else _value(res.ResponseStatus, "", ""),
            reason=result.reason,
        )
