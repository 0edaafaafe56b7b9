"""The rules through gRPC on a real database: bad input does nothing anywhere, exactly-once creation,
overlaps refused by the database, unit scoping, listing."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import grpc
import pytest
from grpc_status import rpc_status

from kit.convert import to_timestamp
from kit.grpc_errors import unpack_error
from rendezvous.booking.v1 import booking_resources_pb2 as res
from rendezvous.booking.v1 import booking_service_pb2 as pb
from rendezvous.common.v1 import common_pb2

from .booking_env import AUTH, END, ORG, START, Env, booking_env, booking_request


@pytest.fixture
async def env(database_url):
    async with booking_env(database_url) as env:
        yield env


async def failure(call):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    error, violations = unpack_error(await rpc_status.aio.from_call(call))
    assert error is not None and error.domain == "booking.rendezvous"
    return info.value.code(), error, [f for f, _ in violations]


async def nothing_anywhere(env: Env) -> None:
    await asyncio.sleep(0.2)  # give a wrongly queued message the chance to go out
    assert await env.admin.requests() == []
    assert env.sink.count() == 0
    listed = await env.stub.ListBookings(pb.ListBookingsRequest(org_unit_id=ORG), metadata=AUTH)
    assert list(listed.bookings) == []


BAD = [
    ({"end": START}, "end_time", "TIME_RANGE_INVALID"),
    ({"end": START + timedelta(seconds=20)}, "end_time", "DURATION_INVALID"),
    ({"end": START + timedelta(hours=25)}, "end_time", "DURATION_INVALID"),
    ({"attendees": [(f"p{i}@example.org", "") for i in range(101)]}, "attendees", "TOO_MANY_ATTENDEES"),
    ({"attendees": [("bob@example.org", ""), ("BOB@example.org", "")]}, "attendees[1].email", "DUPLICATE_ATTENDEE"),
    ({"attendees": [("ada@northwind.example", "")]}, "attendees[0].email", "DUPLICATE_ATTENDEE"),
    ({"attendees": [("not-an-address", "")]}, "attendees[0].email", "FIELD_INVALID"),
    ({"room_emails": [f"r{i}@resource.calendar.google.com" for i in range(11)]}, "room_emails", "TOO_MANY_ROOMS"),
    ({"summary": "x" * 1025}, "summary", "FIELD_INVALID"),
    ({"description": "x" * 9000}, "description", "FIELD_INVALID"),
    ({"time_zone": "Europe/Atlantis"}, "time_zone", "TIME_ZONE_UNKNOWN"),
]


@pytest.mark.parametrize(("fields", "field", "reason"), BAD, ids=[b[2] + ":" + b[1] for b in BAD])
async def test_bad_input_is_invalid_argument_naming_the_field_and_nothing_is_written_sent_or_created(env, fields, field, reason):
    code, error, violations = await failure(env.stub.CreateBooking(
        booking_request("ada@northwind.example", conferencing=res.CONFERENCING_CHOICE_DEFAULT, **fields), metadata=AUTH))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.reason, error.metadata["field"]) == (reason, field)
    assert field in violations
    assert env.world.calls == []
    await nothing_anywhere(env)


@pytest.mark.parametrize(
    ("organizer", "fields", "code", "reason", "metadata"),
    [
        ("ada@northwind.example", {"org_unit_id": "nope"}, grpc.StatusCode.NOT_FOUND, "ORGANIZATIONAL_UNIT_NOT_FOUND", {}),
        ("stranger@example.org", {}, grpc.StatusCode.FAILED_PRECONDITION, "ORGANIZER_NOT_VERIFIED",
         {"email": "stranger@example.org"}),
        ("cgrant@fabrikam.example", {"room_emails": ["room-orion@contoso.example"]}, grpc.StatusCode.FAILED_PRECONDITION,
         "ROOMS_NOT_SUPPORTED_IN_MODE", {"access_mode": "FREE_BUSY"}),
        ("grace@northwind.example", {"room_emails": ["room-orion@contoso.example"]}, grpc.StatusCode.FAILED_PRECONDITION,
         "ROOMS_NOT_SUPPORTED_IN_MODE", {"access_mode": "NO_ACCESS"}),
        ("ada@northwind.example", {"room_emails": ["room-nowhere@resource.calendar.google.com"]},
         grpc.StatusCode.NOT_FOUND, "ROOM_NOT_FOUND", {}),
        ("cgrant@fabrikam.example", {"conferencing": res.CONFERENCING_CHOICE_WEBEX}, grpc.StatusCode.FAILED_PRECONDITION,
         "CONFERENCING_NOT_CONNECTED", {"conferencing": "WEBEX"}),
        ("ada@northwind.example", {"conferencing": res.CONFERENCING_CHOICE_ZOOM}, grpc.StatusCode.FAILED_PRECONDITION,
         "CONFERENCING_NOT_CONNECTED", {"conferencing": "ZOOM"}),
    ],
)
async def test_refused_bookings_name_the_reason_and_do_nothing(env, organizer, fields, code, reason, metadata):
    got_code, error, _ = await failure(env.stub.CreateBooking(booking_request(organizer, **fields), metadata=AUTH))
    assert (got_code, error.reason) == (code, reason)
    assert metadata.items() <= dict(error.metadata).items()
    await nothing_anywhere(env)


async def test_a_busy_organizer_is_aborted_with_the_busy_emails(env: Env):
    env.world.busy["ada@northwind.example"] = [(START - timedelta(minutes=15), START + timedelta(minutes=15))]
    code, error, _ = await failure(env.stub.CreateBooking(booking_request("ada@northwind.example"), metadata=AUTH))
    assert (code, error.reason, error.metadata["busy_emails"]) == (
        grpc.StatusCode.ABORTED, "SLOT_UNAVAILABLE", "ada@northwind.example")
    await nothing_anywhere(env)


async def test_the_same_request_id_returns_the_same_booking_and_sends_nothing_twice(env: Env):
    request = booking_request("cgrant@fabrikam.example", request_id="req-1", conferencing=res.CONFERENCING_CHOICE_ZOOM)
    first = (await env.stub.CreateBooking(request, metadata=AUTH)).booking
    again = (await env.stub.CreateBooking(request, metadata=AUTH)).booking
    assert again.id == first.id and again.request_id == "req-1"
    await env.sink.wait_for(3)
    await asyncio.sleep(0.3)
    assert env.sink.count() == 3
    assert len(await env.admin.requests(route="zoom.meetings.create")) == 1
    request.summary = "Something else"
    code, error, _ = await failure(env.stub.CreateBooking(request, metadata=AUTH))
    assert (code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_CONFLICT")


async def test_concurrent_retries_of_one_request_id_make_one_booking(env: Env):
    request = booking_request("cgrant@fabrikam.example", request_id="req-many")
    answers = await asyncio.gather(*(env.stub.CreateBooking(request, metadata=AUTH) for _ in range(8)))
    assert len({a.booking.id for a in answers}) == 1
    await env.sink.wait_for(3)
    await asyncio.sleep(0.3)
    assert env.sink.count() == 3


async def test_the_database_refuses_an_overlap_the_availability_stand_in_did_not_see(env: Env):
    first = await env.create("cgrant@fabrikam.example")
    code, error, _ = await failure(env.stub.CreateBooking(booking_request(
        "cgrant@fabrikam.example", start=START + timedelta(minutes=29), end=END + timedelta(hours=1)), metadata=AUTH))
    assert (code, error.reason) == (grpc.StatusCode.ABORTED, "SLOT_UNAVAILABLE")
    assert error.metadata["booking_id"] == first.id
    assert error.metadata["busy_emails"] == "cgrant@fabrikam.example"
    adjacent = await env.create("cgrant@fabrikam.example", start=END, end=END + timedelta(minutes=30))
    assert adjacent.state == res.Booking.STATE_CONFIRMED


async def test_another_units_booking_is_not_found(env: Env):
    booking = await env.create("cgrant@fabrikam.example")
    code, error, _ = await failure(env.stub.GetBooking(pb.GetBookingRequest(org_unit_id="org-2", booking_id=booking.id),
                                                       metadata=AUTH))
    assert (code, error.reason) == (grpc.StatusCode.NOT_FOUND, "BOOKING_NOT_FOUND")
    code, _, _ = await failure(env.stub.CancelBooking(pb.CancelBookingRequest(org_unit_id="org-2", booking_id=booking.id),
                                                      metadata=AUTH))
    assert code == grpc.StatusCode.NOT_FOUND
    assert (await env.get(booking.id)).state == res.Booking.STATE_CONFIRMED


async def test_bookings_and_busy_periods_are_listed_page_by_page(env: Env):
    ids = []
    for i in range(5):
        shift = timedelta(hours=i)
        ids.append((await env.create("cgrant@fabrikam.example", start=START + shift, end=END + shift)).id)
    seen, token = [], ""
    while True:
        page = await env.stub.ListBookings(pb.ListBookingsRequest(org_unit_id=ORG, page_size=2, page_token=token), metadata=AUTH)
        seen += [b.id for b in page.bookings]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids
    window = common_pb2.TimeRange(start_time=to_timestamp(START), end_time=to_timestamp(START + timedelta(days=1)))
    busy, token = [], ""
    while True:
        page = await env.stub.ListBusyPeriods(pb.ListBusyPeriodsRequest(
            org_unit_id=ORG, emails=["bob@example.org", "cgrant@fabrikam.example"], window=window, page_size=3,
            page_token=token), metadata=AUTH)
        busy += [(p.email, p.booking_id) for p in page.busy_periods]
        token = page.next_page_token
        if not token:
            break
    assert busy == [("bob@example.org", i) for i in ids] + [("cgrant@fabrikam.example", i) for i in ids]
    other = await env.stub.ListBusyPeriods(pb.ListBusyPeriodsRequest(
        org_unit_id="org-2", emails=["bob@example.org"], window=window), metadata=AUTH)
    assert list(other.busy_periods) == []


async def test_concurrent_overlapping_bookings_confirm_exactly_one_on_either_database(env: Env):
    calls = [env.stub.CreateBooking(booking_request(
        "cgrant@fabrikam.example", start=START + timedelta(minutes=i), end=END + timedelta(minutes=i)), metadata=AUTH)
        for i in range(20)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert {o.code() for o in outcomes if isinstance(o, grpc.aio.AioRpcError)} == {grpc.StatusCode.ABORTED}


async def test_one_hundred_concurrent_bookings_of_one_organizer_confirm_exactly_one(postgres_url):
    async with booking_env(postgres_url) as env:
        calls = [
            env.stub.CreateBooking(booking_request(
                "cgrant@fabrikam.example", start=START + timedelta(minutes=i % 20), end=END + timedelta(minutes=i % 20),
                summary=f"Race {i}"), metadata=AUTH)
            for i in range(100)
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        confirmed = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(confirmed) == 1
        assert len(refused) == 99
        assert Counter(o.code() for o in refused) == Counter({grpc.StatusCode.ABORTED: 99})
        for o in refused[:5]:
            error, _ = unpack_error(rpc_status.from_call(o))
            assert error is not None and error.reason == "SLOT_UNAVAILABLE"
            assert error.metadata["booking_id"] == confirmed[0].booking.id
        listed = await env.stub.ListBookings(pb.ListBookingsRequest(org_unit_id=ORG, page_size=500), metadata=AUTH)
        assert [b.id for b in listed.bookings] == [confirmed[0].booking.id]
        await env.sink.wait_for(3)
        await asyncio.sleep(0.3)
        assert env.sink.count() == 3
