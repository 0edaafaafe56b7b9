"""A booking moved or renamed moves its linked Zoom, Webex or Teams meeting too, through the retried
provider work; the conferencing state never says a meeting was moved when the service did not take it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.booking.domain.model import ConferencingChoice, ConferencingService, ConferencingState
from services.booking.domain.rules import AttendeeInput, UpdateInput
from services.booking.ports import ConferencingLink

from .fakes import END, ORG, START, World, a_request, provider_down, provider_refuses
from .test_create_booking import calendar_of

LATER = timedelta(hours=2)


@pytest.fixture
def world() -> World:
    return World()


def move(booking_id: str, by: timedelta = LATER, **more: object) -> UpdateInput:
    paths = ("start_time", "end_time", *more.pop("paths", ()))  # type: ignore[misc]
    return UpdateInput(org_unit_id=ORG, booking_id=booking_id, paths=paths, start=START + by, end=END + by,
                       **more)  # type: ignore[arg-type]


async def test_a_new_time_moves_the_zoom_meeting_and_the_invite_keeps_its_link(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    moved = await world.update(move(booking.id))
    assert world.meetings.meetings["m1"] == (START + LATER, booking.summary)
    assert moved.conferencing.state is ConferencingState.CREATED
    assert (moved.conferencing.meeting_id, moved.conferencing.join_url) == ("m1", booking.conferencing.join_url)
    update = calendar_of(world.store.messages("UPDATE")[0].raw).walk("VEVENT")[0].to_ical()
    assert booking.conferencing.join_url.encode() in update


async def test_a_new_title_moves_it_and_a_new_attendee_does_not(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    await world.update(UpdateInput(org_unit_id=ORG, booking_id=booking.id, paths=("attendees",),
                                   attendees=(AttendeeInput("dan@example.org"),)))
    assert world.meetings.updates == []
    await world.update(UpdateInput(org_unit_id=ORG, booking_id=booking.id, paths=("summary",), summary="Renamed"))
    assert world.meetings.updates == ["m1"] and world.meetings.meetings["m1"] == (START, "Renamed")


async def test_a_failing_service_leaves_the_move_pending_then_the_worker_moves_it(world):
    booking = await world.create(a_request("nora@noaccess.example", conferencing=ConferencingChoice.WEBEX))
    world.meetings.fail = [provider_down()]
    moved = await world.update(move(booking.id))
    conf = moved.conferencing
    assert conf.state is ConferencingState.PENDING
    assert "could not be moved" in conf.failure_message and "503" in conf.failure_message
    assert conf.join_url == booking.conferencing.join_url  # the meeting still exists, its link still works
    assert world.meetings.meetings["m1"][0] == START
    assert booking.conferencing.join_url.encode() in calendar_of(world.store.messages("UPDATE")[0].raw).to_ical()
    assert await world.work.run_due() == 0  # not due before its backoff
    world.later(30)
    assert await world.work.run_due() == 1
    after = await world.queries.get(ORG, booking.id)
    assert after.conferencing.state is ConferencingState.CREATED and after.conferencing.failure_message == ""
    assert world.meetings.meetings["m1"][0] == START + LATER
    assert world.meetings.updates == ["m1", "m1"]


async def test_a_refusal_ends_failed_with_the_reason_and_keeps_the_link(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    world.meetings.fail = [provider_refuses()]
    moved = await world.update(move(booking.id))
    assert moved.conferencing.state is ConferencingState.FAILED
    assert "refused" in moved.conferencing.failure_message
    assert moved.conferencing.join_url == booking.conferencing.join_url
    world.later(3600)
    assert await world.work.run_due() == 0  # not retried
    again = await world.update(move(booking.id, by=2 * LATER))  # a later move tries again
    assert again.conferencing.state is ConferencingState.CREATED
    assert world.meetings.meetings["m1"][0] == START + 2 * LATER


async def test_retries_are_bounded_by_the_policy(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    world.meetings.fail = [provider_down() for _ in range(10)]
    await world.update(move(booking.id))
    for _ in range(10):
        world.later(3600)
        await world.work.run_due()
    after = await world.queries.get(ORG, booking.id)
    assert after.conferencing.state is ConferencingState.FAILED
    assert after.conferencing.attempts == world.deps.policy.conferencing_max_attempts
    assert len(world.meetings.updates) == world.deps.policy.conferencing_max_attempts


async def test_a_meeting_the_service_no_longer_knows_fails_and_its_link_is_dropped(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    world.meetings.gone.add("m1")
    moved = await world.update(move(booking.id))
    assert moved.conferencing.state is ConferencingState.FAILED
    assert moved.conferencing.join_url == "" and moved.conferencing.meeting_id == ""
    assert "no longer exists" in moved.conferencing.failure_message


async def test_a_change_while_the_move_is_under_way_is_moved_afterwards(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))

    async def another_change() -> None:  # the first move holds the lease: this one is left due
        during = await world.update(move(booking.id, by=2 * LATER))
        assert during.conferencing.state is ConferencingState.PENDING

    world.meetings.during_update = another_change
    first = await world.update(move(booking.id))
    assert world.meetings.meetings["m1"][0] == START + LATER  # what the first move sent
    assert first.conferencing.state is ConferencingState.PENDING  # not claimed: the booking moved again
    assert await world.work.run_due() == 1
    after = await world.queries.get(ORG, booking.id)
    assert after.start == START + 2 * LATER and after.conferencing.state is ConferencingState.CREATED
    assert world.meetings.meetings["m1"][0] == START + 2 * LATER


async def test_a_google_meet_space_has_nothing_to_move(world):
    world.peers.people["frank@fabrikam.example"].links = (
        ConferencingLink("conf-meet", ConferencingService.GOOGLE_MEET, "cred-meet"),)
    booking = await world.create(a_request(conferencing=ConferencingChoice.GOOGLE_MEET))
    moved = await world.update(move(booking.id))
    assert world.meetings.updates == []
    assert moved.conferencing.state is ConferencingState.CREATED


async def test_new_conferencing_with_a_new_time_is_created_at_the_new_time(world):
    booking = await world.create(a_request("nora@noaccess.example", conferencing=ConferencingChoice.WEBEX))
    updated = await world.update(move(booking.id, paths=("conferencing",), conferencing=ConferencingChoice.ZOOM))
    assert updated.conferencing.meeting_id == "m2" and updated.conferencing.state is ConferencingState.CREATED
    assert world.meetings.meetings["m2"][0] == START + LATER
    assert world.meetings.updates == [] and world.meetings.deleted == ["m1"]


async def test_cancelling_while_a_move_is_due_deletes_the_meeting_and_stops_the_move(world):
    booking = await world.create(a_request(conferencing=ConferencingChoice.ZOOM))
    world.meetings.fail = [provider_down()]
    await world.update(move(booking.id))
    cancelled = await world.cancel(ORG, booking.id)
    assert world.meetings.deleted == ["m1"]
    assert cancelled.conferencing.state is ConferencingState.CREATED and cancelled.conferencing.next_attempt_time is None
    world.later(3600)
    assert await world.work.run_due() == 0
    assert world.meetings.updates == ["m1"]
