"""CreateBooking on fakes: the rules in order, each mode's delivery, and nothing done on refusal."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import timedelta

import pytest
from icalendar import Calendar

from kit.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from services.booking.domain.model import (
    ConferencingChoice,
    ConferencingService,
    ConferencingState,
    DeliveryMethod,
    DeliveryState,
    ResponseStatus,
)
from services.booking.domain.rules import AttendeeInput
from services.booking.ports import BusyTime

from .fakes import END, ORG, SENDER, START, World, a_request, provider_down, token_refused


@pytest.fixture
def world() -> World:
    return World()


def calendar_of(raw: bytes) -> Calendar:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(bytes(part.get_payload(decode=True)))


def nothing_happened(world: World) -> None:
    assert world.store.bookings == {}
    assert world.store.outbox == []
    assert world.events.calls == []
    assert world.meetings.created == []


async def test_an_email_mode_booking_commits_with_a_request_to_the_organizer_and_every_attendee(world):
    booking = await world.create(a_request())
    assert booking.delivery.method is DeliveryMethod.EMAIL_INVITE
    assert booking.delivery.state is DeliveryState.PENDING
    assert booking.delivery.sequence == 0
    assert booking.delivery.ical_uid == f"{booking.id}@mail.northwind.example"
    assert booking.organizer.display_name == "Frank Fisher"
    assert booking.organizer.response_status is ResponseStatus.NEEDS_ACTION
    assert booking.time_zone == "Europe/London"
    messages = world.store.messages("NEW")
    assert sorted(m.recipient for m in messages) == ["bob@example.org", "carol@example.org", "frank@fabrikam.example"]
    assert {m.sender for m in messages} == {SENDER}
    cal = calendar_of(messages[0].raw)
    assert cal["METHOD"] == "REQUEST"
    event = cal.walk("VEVENT")[0]
    assert str(event["UID"]) == booking.delivery.ical_uid
    attendees = {str(a).lower().removeprefix("mailto:"): a.params for a in event.get("ATTENDEE")}
    assert attendees["frank@fabrikam.example"]["ROLE"] == "CHAIR"
    assert attendees["carol@example.org"]["ROLE"] == "OPT-PARTICIPANT"
    assert world.events.calls == []
    assert world.woken == 1
    assert world.store.bookings[booking.id] == booking


async def test_a_zoom_meeting_is_created_before_the_invite_so_the_invite_carries_the_link(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.DEFAULT))
    assert booking.conferencing.state is ConferencingState.CREATED
    assert booking.conferencing.service is ConferencingService.ZOOM
    assert booking.conferencing.join_url == "https://zoom.example/j/1"
    assert booking.conferencing.connection_id == "conf-zoom"
    raw = world.store.messages("NEW")[0].raw
    assert b"zoom.example/j/1" in calendar_of(raw).walk("VEVENT")[0].to_ical()


async def test_an_explicit_service_picks_that_linked_connection(world):
    booking = await world.create(a_request("nora@noaccess.example", conferencing=ConferencingChoice.ZOOM))
    assert booking.conferencing.service is ConferencingService.ZOOM
    default = await world.create(a_request("nora@noaccess.example", conferencing=ConferencingChoice.DEFAULT,
                                           start=START + timedelta(hours=2), end=END + timedelta(hours=2)))
    assert default.conferencing.service is ConferencingService.WEBEX  # the first linked connection


async def test_no_linked_conferencing_is_failed_precondition_and_nothing_is_done(world):
    with pytest.raises(FailedPrecondition) as error:
        await world.create(a_request(conferencing=ConferencingChoice.WEBEX))
    assert error.value.reason == "CONFERENCING_NOT_CONNECTED"
    assert error.value.metadata == {"email": "frank@fabrikam.example", "conferencing": "WEBEX"}
    nothing_happened(world)


async def test_a_failing_conferencing_service_leaves_the_booking_pending_and_the_worker_sends_the_link_later(world):
    world.meetings.fail = [provider_down(), provider_down()]
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    assert booking.conferencing.state is ConferencingState.PENDING
    assert booking.conferencing.join_url == ""
    assert "503" in booking.conferencing.failure_message
    assert len(world.slept) == 1  # two inline tries
    invite = calendar_of(world.store.messages("NEW")[0].raw).walk("VEVENT")[0].to_ical()
    assert b"zoom.example" not in invite
    assert await world.work.run_due() == 0  # not due before its backoff
    world.later(60)
    assert await world.work.run_due() == 1
    after = await world.queries.get(ORG, booking.id)
    assert after.conferencing.state is ConferencingState.CREATED
    assert after.delivery.sequence == 1
    updates = world.store.messages("UPDATE")
    assert len(updates) == 3
    assert b"zoom.example/j/1" in calendar_of(updates[0].raw).walk("VEVENT")[0].to_ical()


async def test_conferencing_that_keeps_failing_ends_failed_and_never_claims_a_link(world):
    world.meetings.fail = [provider_down()] * 10
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    for _ in range(10):
        world.later(120)
        await world.work.run_due()
    after = await world.queries.get(ORG, booking.id)
    assert after.conferencing.state is ConferencingState.FAILED
    assert after.conferencing.join_url == ""
    assert after.conferencing.attempts == world.deps.policy.conferencing_max_attempts


async def test_google_read_write_creates_the_native_event_with_meet_and_reads_the_link_back(world):
    request = a_request("ada@northwind.example", conferencing=ConferencingChoice.DEFAULT,
                        room_emails=("room-orion@northwind.example",))
    booking = await world.create(request)
    assert booking.delivery.method is DeliveryMethod.PROVIDER_EVENT
    assert booking.delivery.state is DeliveryState.DELIVERED
    assert booking.delivery.provider_event_id == f"ev-{booking.id}"
    assert booking.conferencing.native and booking.conferencing.state is ConferencingState.CREATED
    assert booking.conferencing.join_url == f"https://meet.example/{booking.id}"
    assert [r.display_name for r in booking.rooms] == ["Orion"]
    assert world.events.events[f"ev-{booking.id}"]["rooms"] == ["room-orion@northwind.example"]
    assert booking.organizer.response_status is ResponseStatus.ACCEPTED
    assert world.store.outbox == []


async def test_a_pending_meet_link_is_read_again_by_the_worker(world):
    world.events.meet_pending = True
    booking = await world.create(a_request("ada@northwind.example", conferencing=ConferencingChoice.GOOGLE_MEET))
    assert booking.conferencing.state is ConferencingState.PENDING
    world.events.meet_pending = False
    world.later(60)
    await world.work.run_due()
    assert (await world.queries.get(ORG, booking.id)).conferencing.join_url == f"https://meet.example/{booking.id}"


async def test_a_provider_failure_after_the_decision_is_retrying_then_delivered_by_the_worker(world):
    world.events.fail = [provider_down()]
    booking = await world.create(a_request("megan@contoso.example", conferencing=ConferencingChoice.DEFAULT))
    assert booking.delivery.state is DeliveryState.RETRYING
    assert "503" in booking.delivery.last_error
    assert booking.delivery.attempt_count == 1
    assert booking.conferencing.state is ConferencingState.PENDING
    assert booking.conferencing.join_url == ""
    world.later(30)
    assert await world.work.run_due() == 1
    after = await world.queries.get(ORG, booking.id)
    assert after.delivery.state is DeliveryState.DELIVERED
    assert after.delivery.attempt_count == 2
    assert after.conferencing.state is ConferencingState.CREATED


async def test_a_token_the_provider_refuses_is_handed_back_to_identity_and_the_event_made_with_a_new_one(world):
    world.events.fail = [token_refused()]
    booking = await world.create(a_request("megan@contoso.example"))
    assert booking.delivery.state is DeliveryState.DELIVERED and booking.delivery.attempt_count == 1
    refused, fresh = world.events.tokens
    assert world.peers.rejected == [refused] and fresh != refused


async def test_a_second_refusal_of_the_new_token_is_retried_later_not_a_failure(world):
    world.events.fail = [token_refused(), token_refused()]
    booking = await world.create(a_request("megan@contoso.example"))
    assert booking.delivery.state is DeliveryState.RETRYING
    assert "refused the access token" in booking.delivery.last_error
    world.later(30)
    assert await world.work.run_due() == 1
    assert (await world.queries.get(ORG, booking.id)).delivery.state is DeliveryState.DELIVERED


async def test_a_refused_token_for_a_linked_meeting_is_replaced_too(world):
    world.meetings.fail = [token_refused()]
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    assert booking.conferencing.state is ConferencingState.CREATED and world.slept == []
    assert len(world.peers.rejected) == 1


async def test_a_provider_refusal_fails_the_delivery_and_the_native_conferencing(world):
    from .fakes import provider_refuses

    world.events.fail = [provider_refuses()]
    booking = await world.create(a_request("ada@northwind.example", conferencing=ConferencingChoice.DEFAULT))
    assert booking.delivery.state is DeliveryState.FAILED
    assert booking.conferencing.state is ConferencingState.FAILED
    world.later(3600)
    assert await world.work.run_due() == 0


async def test_the_same_request_id_returns_the_same_booking_and_sends_nothing_twice(world):
    first = await world.create(a_request(request_id="r-1"))
    again = await world.create(a_request(request_id="r-1"))
    assert again == first
    assert len(world.store.outbox) == 3
    assert len(world.store.bookings) == 1


async def test_the_same_request_id_with_another_payload_is_a_conflict(world):
    await world.create(a_request(request_id="r-1"))
    with pytest.raises(AlreadyExists) as error:
        await world.create(a_request(request_id="r-1", summary="Other"))
    assert error.value.reason == "REQUEST_ID_CONFLICT"


async def test_an_unverified_organizer_is_failed_precondition(world):
    world.peers.people["frank@fabrikam.example"].verified = False
    with pytest.raises(FailedPrecondition) as error:
        await world.create(a_request())
    assert error.value.reason == "ORGANIZER_NOT_VERIFIED"
    assert error.value.metadata["verification_reason"] == "EMAIL_NOT_CONFIRMED"
    nothing_happened(world)


async def test_an_unknown_unit_is_not_found(world):
    with pytest.raises(NotFound) as error:
        await world.create(a_request(org_unit_id="elsewhere"))
    assert error.value.reason == "ORGANIZATIONAL_UNIT_NOT_FOUND"
    nothing_happened(world)


async def test_rooms_in_an_email_mode_are_refused_naming_the_mode(world):
    with pytest.raises(FailedPrecondition) as error:
        await world.create(a_request("nora@noaccess.example", room_emails=("room-orion@northwind.example",)))
    assert error.value.reason == "ROOMS_NOT_SUPPORTED_IN_MODE"
    assert error.value.metadata == {"access_mode": "NO_ACCESS"}
    nothing_happened(world)


async def test_an_unknown_room_is_not_found(world):
    with pytest.raises(NotFound) as error:
        await world.create(a_request("ada@northwind.example", room_emails=("room-nowhere@northwind.example",)))
    assert error.value.reason == "ROOM_NOT_FOUND"
    nothing_happened(world)


async def test_a_busy_organizer_is_aborted_slot_unavailable(world):
    world.peers.people["frank@fabrikam.example"].busy = (BusyTime(START, END, "bk-other", "BOOKINGS"),)
    with pytest.raises(Aborted) as error:
        await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    assert error.value.reason == "SLOT_UNAVAILABLE"
    assert error.value.metadata == {"busy_emails": "frank@fabrikam.example", "booking_id": "bk-other"}
    nothing_happened(world)


async def test_free_busy_that_cannot_be_read_never_counts_as_free(world):
    world.peers.people["frank@fabrikam.example"].unreadable = True
    with pytest.raises(Aborted) as error:
        await world.create(a_request())
    assert error.value.metadata["unknown_emails"] == "frank@fabrikam.example"


async def test_the_database_refuses_an_overlap_availability_did_not_see_and_the_meeting_is_deleted(world):
    first = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    with pytest.raises(Aborted) as error:  # availability is a fake that does not know bookings
        await world.create(a_request(conferencing=ConferencingChoice.ZOOM, start=START + timedelta(minutes=15),
                                     end=END + timedelta(minutes=15)))
    assert error.value.reason == "SLOT_UNAVAILABLE"
    assert error.value.metadata["booking_id"] == first.id
    assert world.meetings.deleted == ["m2"]
    assert len(world.store.bookings) == 1


async def test_back_to_back_bookings_do_not_overlap(world):
    await world.create(a_request())
    later = await world.create(a_request(start=END, end=END + timedelta(minutes=30)))
    assert later.state.value == "CONFIRMED"


async def test_a_dependency_outage_is_unavailable_and_nothing_is_written(world):
    world.peers.directory_down = True
    with pytest.raises(Unavailable):
        await world.create(a_request())
    nothing_happened(world)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"end": START}, "end_time", "TIME_RANGE_INVALID"),
        ({"end": START - timedelta(hours=1)}, "end_time", "TIME_RANGE_INVALID"),
        ({"end": START + timedelta(seconds=30)}, "end_time", "DURATION_INVALID"),
        ({"end": START + timedelta(hours=24, seconds=1)}, "end_time", "DURATION_INVALID"),
        ({"start": None}, "start_time", "FIELD_INVALID"),
        ({"start": START.replace(microsecond=5)}, "start_time", "FIELD_INVALID"),
        ({"attendees": tuple(AttendeeInput(f"p{i}@example.org") for i in range(101))}, "attendees", "TOO_MANY_ATTENDEES"),
        ({"room_emails": tuple(f"r{i}@example.org" for i in range(11))}, "room_emails", "TOO_MANY_ROOMS"),
        ({"attendees": (AttendeeInput("not-an-email"),)}, "attendees[0].email", "FIELD_INVALID"),
        ({"attendees": (AttendeeInput("a@example.org"), AttendeeInput("A@Example.org"))}, "attendees[1].email",
         "DUPLICATE_ATTENDEE"),
        ({"attendees": (AttendeeInput("Frank@fabrikam.example"),)}, "attendees[0].email", "DUPLICATE_ATTENDEE"),
        ({"room_emails": ("bob@example.org",)}, "room_emails[0]", "DUPLICATE_ATTENDEE"),
        ({"summary": ""}, "summary", "FIELD_INVALID"),
        ({"summary": "x" * 1025}, "summary", "FIELD_INVALID"),
        ({"description": "x" * 8193}, "description", "FIELD_INVALID"),
        ({"location": "x" * 1025}, "location", "FIELD_INVALID"),
        ({"organizer_email": "frank"}, "organizer_email", "FIELD_INVALID"),
        ({"organizer_display_name": "x" * 257}, "organizer_display_name", "FIELD_INVALID"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "TIME_ZONE_UNKNOWN"),
        ({"request_id": "has space"}, "request_id", "FIELD_INVALID"),
        ({"org_unit_id": ""}, "org_unit_id", "FIELD_INVALID"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field_and_nothing_is_looked_up(world, changes, field, reason):
    with pytest.raises(InvalidArgument) as error:
        await world.create(replace(a_request(), **changes))
    assert error.value.reason == reason
    assert error.value.metadata["field"] == field
    assert field in {v.field for v in error.value.violations}
    assert world.peers.calls == []
    nothing_happened(world)


async def test_every_violation_of_one_request_is_reported_together(world):
    with pytest.raises(InvalidArgument) as error:
        await world.create(a_request(summary="", location="x" * 2000, end=START))
    assert {v.field for v in error.value.violations} == {"summary", "location", "end_time"}
