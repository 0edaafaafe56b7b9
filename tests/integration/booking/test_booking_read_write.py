"""READ_WRITE through the sandbox over HTTP: native Google and Microsoft events, rooms, Meet and Teams."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from kit.convert import to_timestamp
from rendezvous.booking.v1 import booking_resources_pb2 as res
from rendezvous.booking.v1 import booking_service_pb2 as pb
from services.booking.domain.model import google_event_id

from .booking_env import AUTH, END, ORG, START, Env, booking_env


@pytest.fixture
async def env(database_url):
    async with booking_env(database_url) as env:
        yield env


async def test_google_read_write_creates_the_event_with_send_updates_the_room_and_the_meet_link(env: Env):
    booking = await env.create("ada@northwind.example", conferencing=res.CONFERENCING_CHOICE_DEFAULT,
                               room_emails=["room-orion@resource.calendar.google.com"])
    assert booking.delivery.method == res.Delivery.METHOD_PROVIDER_EVENT
    assert booking.delivery.state == res.Delivery.STATE_DELIVERED
    assert booking.delivery.provider_event_id == google_event_id(booking.id)
    assert booking.conferencing.state == res.Conferencing.STATE_CREATED
    assert booking.conferencing.join_url.startswith("https://meet.google.com/")
    inserts = await env.admin.requests(route="google.events.insert")
    assert len(inserts) == 1
    assert inserts[0]["query"]["sendUpdates"] == "all"
    assert inserts[0]["query"]["conferenceDataVersion"] == "1"
    body = inserts[0]["json"]
    assert body["conferenceData"]["createRequest"]["requestId"] == google_event_id(booking.id)
    assert {"email": "room-orion@resource.calendar.google.com", "resource": True, "displayName": "Orion"} in body["attendees"]
    created = (await env.admin.created("google"))["events"]
    event = next(e for e in created if e["eventId"] == booking.delivery.provider_event_id)["event"]
    assert event["hangoutLink"] == booking.conferencing.join_url
    assert {a["email"] for a in event["attendees"]} >= {"bob@example.org", "room-orion@resource.calendar.google.com"}
    assert env.sink.count() == 0  # Google invites the attendees itself


async def test_microsoft_read_write_creates_the_event_with_teams_and_a_transaction_id(env: Env):
    booking = await env.create("megan@contoso.example", conferencing=res.CONFERENCING_CHOICE_DEFAULT,
                               room_emails=["room-orion@contoso.example"])
    assert booking.delivery.state == res.Delivery.STATE_DELIVERED
    assert booking.conferencing.join_url.startswith("https://teams.microsoft.com/")
    creates = await env.admin.requests(route="microsoft.events.create")
    assert len(creates) == 1
    sent = creates[0]["json"]
    assert sent["isOnlineMeeting"] is True and sent["onlineMeetingProvider"] == "teamsForBusiness"
    assert sent["transactionId"] == booking.id
    assert {"emailAddress": {"address": "room-orion@contoso.example", "name": "Orion (Contoso)"}, "type": "resource"} \
        in sent["attendees"]
    assert "/users/aaaaaaaa-0000-4000-8000-000000000001/events" in creates[0]["path"]


async def test_update_and_cancel_in_read_write_patch_and_delete_the_provider_event(env: Env):
    booking = await env.create("ada@northwind.example")
    moved = (await env.stub.UpdateBooking(pb.UpdateBookingRequest(
        org_unit_id=ORG, booking_id=booking.id,
        booking=res.Booking(summary="Moved", start_time=to_timestamp(START + timedelta(hours=1)),
                            end_time=to_timestamp(END + timedelta(hours=1))),
        update_mask=FieldMask(paths=["summary", "start_time", "end_time"])), metadata=AUTH)).booking
    assert moved.delivery.state == res.Delivery.STATE_DELIVERED
    patches = await env.admin.requests(route="google.events.patch")
    assert len(patches) == 1 and patches[0]["query"]["sendUpdates"] == "all"
    assert patches[0]["json"]["summary"] == "Moved"
    cancelled = (await env.stub.CancelBooking(pb.CancelBookingRequest(org_unit_id=ORG, booking_id=booking.id),
                                              metadata=AUTH)).booking
    assert cancelled.state == res.Booking.STATE_CANCELLED
    assert cancelled.delivery.state == res.Delivery.STATE_DELIVERED
    deletes = await env.admin.requests(route="google.events.delete")
    assert len(deletes) == 1 and deletes[0]["query"]["sendUpdates"] == "all"
    again = (await env.stub.CancelBooking(pb.CancelBookingRequest(org_unit_id=ORG, booking_id=booking.id),
                                          metadata=AUTH)).booking
    assert again == cancelled
    assert len(await env.admin.requests(route="google.events.delete")) == 1


async def test_update_and_cancel_in_microsoft_read_write(env: Env):
    booking = await env.create("megan@contoso.example")
    await env.stub.UpdateBooking(pb.UpdateBookingRequest(
        org_unit_id=ORG, booking_id=booking.id, booking=res.Booking(location="Room 7"),
        update_mask=FieldMask(paths=["location"])), metadata=AUTH)
    patches = await env.admin.requests(route="microsoft.events.patch")
    assert len(patches) == 1 and patches[0]["json"]["location"]["displayName"] == "Room 7"
    await env.stub.CancelBooking(pb.CancelBookingRequest(org_unit_id=ORG, booking_id=booking.id), metadata=AUTH)
    assert len(await env.admin.requests(route="microsoft.events.delete")) == 1


async def test_a_token_revoked_at_the_provider_is_handed_back_to_identity_and_the_event_still_lands(env: Env):
    first = await env.create("megan@contoso.example")
    assert first.delivery.state == res.Delivery.STATE_DELIVERED
    (refused,) = env.standins.identity.tokens.values()
    assert await env.admin.revoke_token(refused) == 1  # Microsoft forgets it before it expires
    second = await env.create("megan@contoso.example", start=START + timedelta(hours=2), end=END + timedelta(hours=2))
    assert second.delivery.state == res.Delivery.STATE_DELIVERED and second.delivery.attempt_count == 1
    assert env.standins.identity.rejected == [refused]
    assert [r["status"] for r in await env.admin.requests(route="microsoft.events.create")] == [201, 401, 201]


async def test_a_provider_5xx_after_the_decision_is_retrying_then_delivered_by_the_background_retry(env: Env):
    await env.admin.add_fault(route="google.events.insert", kind="status", status=503, times=2)
    booking = await env.create("ada@northwind.example", conferencing=res.CONFERENCING_CHOICE_GOOGLE_MEET)
    assert booking.delivery.state == res.Delivery.STATE_RETRYING
    assert booking.delivery.last_error
    assert booking.conferencing.state == res.Conferencing.STATE_PENDING
    assert booking.conferencing.join_url == ""
    settled = await env.settled(booking.id)
    assert settled.delivery.state == res.Delivery.STATE_DELIVERED
    assert settled.delivery.attempt_count == 3
    assert settled.conferencing.join_url.startswith("https://meet.google.com/")
    inserts = await env.admin.requests(route="google.events.insert")
    assert [r["status"] for r in inserts] == [503, 503, 200]
    events = [e for e in (await env.admin.created("google"))["events"] if e["eventId"] == google_event_id(booking.id)]
    assert len(events) == 1
