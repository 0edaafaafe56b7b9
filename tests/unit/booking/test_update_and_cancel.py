"""UpdateBooking and CancelBooking on fakes: new versions, who is told, what is checked again."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from kit.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.booking.domain.model import (
    BookingState,
    ConferencingChoice,
    ConferencingService,
    DeliveryState,
    ResponseStatus,
)
from services.booking.domain.rules import AttendeeInput, UpdateInput
from services.booking.ports import BusyTime

from .fakes import END, ORG, START, World, a_request, provider_down
from .test_create_booking import calendar_of


@pytest.fixture
def world() -> World:
    return World()


def change(booking_id: str, *paths: str, **values: object) -> UpdateInput:
    return UpdateInput(org_unit_id=ORG, booking_id=booking_id, paths=paths, **values)  # type: ignore[arg-type]


async def accepted(world: World, booking_id: str, email: str) -> None:
    booking = world.store.bookings[booking_id]
    party = booking.party(email)
    assert party is not None
    world.store.bookings[booking_id] = booking.with_party(replace(party, response_status=ResponseStatus.ACCEPTED))


async def test_a_new_title_by_mail_is_a_request_with_a_higher_sequence_keeping_answers(world):
    booking = await world.create(a_request())
    await accepted(world, booking.id, "bob@example.org")
    updated = await world.update(change(booking.id, "summary", summary="Planning, take two"))
    assert updated.delivery.sequence == 1
    assert updated.delivery.state is DeliveryState.PENDING
    assert updated.party("bob@example.org").response_status is ResponseStatus.ACCEPTED
    updates = world.store.messages("UPDATE")
    assert sorted(m.recipient for m in updates) == ["bob@example.org", "carol@example.org", "frank@fabrikam.example"]
    event = calendar_of(updates[0].raw).walk("VEVENT")[0]
    assert event["SEQUENCE"] == 1
    assert str(event["SUMMARY"]) == "Planning, take two"


async def test_a_new_time_checks_the_slot_without_the_booking_itself_and_resets_every_answer(world):
    booking = await world.create(a_request())
    await accepted(world, booking.id, "bob@example.org")
    world.peers.people["frank@fabrikam.example"].busy = (BusyTime(START, END, booking.id, "BOOKINGS"),)
    moved = await world.update(change(booking.id, "start_time", "end_time",
                                      start=START + timedelta(minutes=15), end=END + timedelta(minutes=15)))
    assert moved.start == START + timedelta(minutes=15)
    assert {p.response_status for p in moved.parties} == {ResponseStatus.NEEDS_ACTION}


async def test_a_new_time_that_is_busy_is_aborted_and_nothing_is_sent(world):
    booking = await world.create(a_request())
    world.peers.people["frank@fabrikam.example"].busy = (BusyTime(END, END + timedelta(hours=1), "", "PROVIDER_FREE_BUSY"),)
    sent = len(world.store.outbox)
    with pytest.raises(Aborted):
        await world.update(change(booking.id, "end_time", end=END + timedelta(minutes=30)))
    assert len(world.store.outbox) == sent
    assert world.store.bookings[booking.id].end == END


async def test_the_provider_copy_of_the_event_itself_does_not_block_moving_it(world):
    booking = await world.create(a_request("ada@northwind.example"))
    world.peers.people["ada@northwind.example"].busy = (BusyTime(START, END, "", "PROVIDER_FREE_BUSY"),)
    moved = await world.update(change(booking.id, "start_time", "end_time",
                                      start=START + timedelta(minutes=10), end=END + timedelta(minutes=10)))
    assert moved.delivery.state is DeliveryState.DELIVERED
    assert world.events.events[f"ev-{booking.id}"]["start"] == START + timedelta(minutes=10)


async def test_removed_attendees_get_a_cancel_and_new_ones_the_request(world):
    booking = await world.create(a_request())
    await world.update(change(booking.id, "attendees", attendees=(
        AttendeeInput("bob@example.org", "Bob Brown"), AttendeeInput("dan@example.org", "Dan"))))
    assert sorted(m.recipient for m in world.store.messages("UPDATE")) == [
        "bob@example.org", "dan@example.org", "frank@fabrikam.example"]
    uninvite = world.store.messages("UNINVITE")
    assert [m.recipient for m in uninvite] == ["carol@example.org"]
    assert calendar_of(uninvite[0].raw)["METHOD"] == "CANCEL"


async def test_read_write_changes_patch_the_provider_event(world):
    booking = await world.create(a_request("megan@contoso.example"))
    updated = await world.update(change(booking.id, "summary", summary="Renamed"))
    assert ("update", booking.id) in world.events.calls
    assert world.events.events[f"ev-{booking.id}"]["summary"] == "Renamed"
    assert updated.delivery.state is DeliveryState.DELIVERED
    assert updated.version == 2


async def test_a_patch_that_fails_is_retried_by_the_worker(world):
    booking = await world.create(a_request("megan@contoso.example"))
    world.events.fail = [provider_down()]
    updated = await world.update(change(booking.id, "summary", summary="Renamed"))
    assert updated.delivery.state is DeliveryState.RETRYING
    world.later(30)
    await world.work.run_due()
    assert (await world.queries.get(ORG, booking.id)).delivery.state is DeliveryState.DELIVERED
    assert world.events.events[f"ev-{booking.id}"]["summary"] == "Renamed"


async def test_adding_rooms_in_an_email_mode_is_refused(world):
    booking = await world.create(a_request())
    with pytest.raises(FailedPrecondition) as error:
        await world.update(change(booking.id, "rooms", room_emails=("room-orion@northwind.example",)))
    assert error.value.reason == "ROOMS_NOT_SUPPORTED_IN_MODE"


async def test_switching_conferencing_creates_the_new_meeting_and_deletes_the_old(world):
    booking = await world.create(a_request("nora@noaccess.example", conferencing=ConferencingChoice.WEBEX))
    updated = await world.update(change(booking.id, "conferencing", conferencing=ConferencingChoice.ZOOM))
    assert updated.conferencing.service is ConferencingService.ZOOM
    assert world.meetings.deleted == ["m1"]
    assert b"zoom.example/j/2" in calendar_of(world.store.messages("UPDATE")[0].raw).walk("VEVENT")[0].to_ical()


async def test_an_update_without_a_change_sends_nothing(world):
    booking = await world.create(a_request())
    sent = len(world.store.outbox)
    same = await world.update(change(booking.id, "summary", summary=booking.summary))
    assert same.delivery.sequence == 0
    assert len(world.store.outbox) == sent


async def test_an_update_repeated_with_its_request_id_sends_nothing_twice(world):
    booking = await world.create(a_request())
    await world.update(change(booking.id, "summary", summary="A", request_id="u-1"))
    sent = len(world.store.outbox)
    again = await world.update(change(booking.id, "summary", summary="A", request_id="u-1"))
    assert again.delivery.sequence == 1
    assert len(world.store.outbox) == sent
    with pytest.raises(AlreadyExists):
        await world.update(change(booking.id, "summary", summary="B", request_id="u-1"))


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        ({"paths": ("organizer",)}, "update_mask", "FIELD_INVALID"),
        ({"paths": ()}, "update_mask", "FIELD_INVALID"),
        ({"paths": ("summary",), "summary": ""}, "booking.summary", "FIELD_INVALID"),
        ({"paths": ("end_time",), "end": START}, "booking.end_time", "TIME_RANGE_INVALID"),
        ({"paths": ("attendees",), "attendees": (AttendeeInput("frank@fabrikam.example"),)},
         "booking.attendees[0].email", "DUPLICATE_ATTENDEE"),
        ({"paths": ("time_zone",), "time_zone": "Nowhere/Land"}, "booking.time_zone", "TIME_ZONE_UNKNOWN"),
    ],
)
async def test_bad_updates_are_invalid_argument_and_change_nothing(world, request_, field, reason):
    booking = await world.create(a_request())
    sent = len(world.store.outbox)
    with pytest.raises(InvalidArgument) as error:
        await world.update(UpdateInput(org_unit_id=ORG, booking_id=booking.id, **request_))
    assert (error.value.reason, error.value.metadata["field"]) == (reason, field)
    assert len(world.store.outbox) == sent
    assert world.store.bookings[booking.id] == booking


async def test_another_units_booking_is_not_found(world):
    booking = await world.create(a_request())
    with pytest.raises(NotFound) as error:
        await world.update(UpdateInput(org_unit_id="org-2", booking_id=booking.id, paths=("summary",), summary="x"))
    assert error.value.reason == "BOOKING_NOT_FOUND"
    with pytest.raises(NotFound):
        await world.cancel("org-2", booking.id)
    with pytest.raises(NotFound):
        await world.queries.get("org-2", booking.id)


async def test_cancelling_by_mail_sends_a_cancel_with_a_higher_sequence_to_everyone(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    cancelled = await world.cancel(ORG, booking.id, "Double-booked")
    assert cancelled.state is BookingState.CANCELLED
    assert cancelled.cancel_reason == "Double-booked"
    assert cancelled.delivery.sequence == 1
    messages = world.store.messages("CANCEL")
    assert sorted(m.recipient for m in messages) == ["bob@example.org", "carol@example.org", "frank@fabrikam.example"]
    cal = calendar_of(messages[0].raw)
    assert cal["METHOD"] == "CANCEL"
    assert cal.walk("VEVENT")[0]["SEQUENCE"] == 1
    assert world.meetings.deleted == ["m1"]


async def test_cancelling_twice_changes_and_sends_nothing(world):
    booking = await world.create(a_request())
    first = await world.cancel(ORG, booking.id)
    sent = len(world.store.outbox)
    again = await world.cancel(ORG, booking.id)
    assert again == first
    assert len(world.store.outbox) == sent


async def test_a_cancelled_booking_frees_its_time_and_cannot_be_changed(world):
    booking = await world.create(a_request())
    await world.cancel(ORG, booking.id)
    await world.create(a_request())  # the same time again
    with pytest.raises(FailedPrecondition) as error:
        await world.update(change(booking.id, "summary", summary="x"))
    assert error.value.reason == "BOOKING_CANCELLED"


async def test_cancelling_in_read_write_deletes_the_provider_event(world):
    booking = await world.create(a_request("ada@northwind.example"))
    cancelled = await world.cancel(ORG, booking.id)
    assert world.events.events[f"ev-{booking.id}"]["deleted"] is True
    assert cancelled.delivery.state is DeliveryState.DELIVERED
    assert world.store.outbox == []
