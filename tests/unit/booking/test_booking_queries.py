"""GetBooking, ListBookings and ListBusyPeriods on fakes: filters, order and paging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kit.errors import InvalidArgument
from services.booking.domain.model import BookingState
from services.booking.domain.rules import AttendeeInput

from .fakes import END, ORG, START, World, a_request


@pytest.fixture
async def world() -> World:
    w = World()
    for hour in range(5):
        shift = timedelta(hours=hour)
        await w.create(a_request(start=START + shift, end=END + shift, summary=f"Meeting {hour}",
                                 attendees=(AttendeeInput("bob@example.org"),)))
    return w


async def test_bookings_are_listed_by_start_time_page_by_page(world):
    seen, token = [], ""
    while True:
        page = await world.queries.list_bookings(ORG, "", None, None, 2, token)
        seen += [b.summary for b in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"Meeting {h}" for h in range(5)]


async def test_list_filters_by_window_state_and_organizer(world):
    first = (await world.queries.list_bookings(ORG, "", None, None, 0, "")).items[0]
    await world.cancel(ORG, first.id)
    window = (START + timedelta(minutes=10), START + timedelta(hours=2))
    page = await world.queries.list_bookings(ORG, "frank@fabrikam.example", window, BookingState.CONFIRMED, 0, "")
    assert [b.summary for b in page.items] == ["Meeting 1"]
    assert (await world.queries.list_bookings(ORG, "nobody@example.org", None, None, 0, "")).items == []


async def test_a_page_token_for_another_query_is_refused(world):
    page = await world.queries.list_bookings(ORG, "", None, None, 2, "")
    with pytest.raises(InvalidArgument) as error:
        await world.queries.list_bookings(ORG, "frank@fabrikam.example", None, None, 2, page.next_page_token)
    assert error.value.metadata["field"] == "page_token"


async def test_busy_periods_are_ordered_by_email_then_start_and_paged(world):
    window = (START, START + timedelta(days=1))
    page = await world.queries.busy_periods(ORG, ["frank@fabrikam.example", "bob@example.org"], window, 3, "")
    assert [(p.email, p.start) for p in page.items] == [
        ("bob@example.org", START), ("bob@example.org", START + timedelta(hours=1)),
        ("bob@example.org", START + timedelta(hours=2))]
    rest = await world.queries.busy_periods(ORG, ["frank@fabrikam.example", "bob@example.org"], window, 100,
                                            page.next_page_token)
    assert len(rest.items) == 7 and rest.next_page_token == ""


@pytest.mark.parametrize(
    ("emails", "window", "field", "reason"),
    [
        ([], (START, END), "emails", "FIELD_INVALID"),
        ([f"p{i}@example.org" for i in range(51)], (START, END), "emails", "TOO_MANY_PARTICIPANTS"),
        (["bob@example.org"], (END, START), "window.end_time", "TIME_RANGE_INVALID"),
        (["bob@example.org"], (START, START + timedelta(days=43)), "window", "TIME_RANGE_TOO_LONG"),
        (["bob@example.org"], None, "window", "FIELD_INVALID"),
        (["not an email"], (START, END), "emails[0]", "FIELD_INVALID"),
    ],
)
async def test_bad_busy_period_requests_name_the_field(world, emails, window, field, reason):
    with pytest.raises(InvalidArgument) as error:
        await world.queries.busy_periods(ORG, emails, window, 0, "")
    assert (error.value.metadata["field"], error.value.reason) == (field, reason)
