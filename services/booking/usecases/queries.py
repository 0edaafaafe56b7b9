"""GetBooking, ListBookings and ListBusyPeriods (for the availability service)."""

from __future__ import annotations

from datetime import datetime

from kit.errors import InvalidArgument
from kit.paging import Page, PageRequest, next_page_token, page_request
from services.booking.domain.model import Booking, BookingState
from services.booking.domain.rules import (
    MAX_BUSY_EMAILS,
    MAX_BUSY_WINDOW,
    MAX_LIST_WINDOW,
    Problems,
    check_email,
    check_id,
)
from services.booking.ports import BusyPeriod
from services.booking.usecases.common import Deps, booking_not_found


def _check_window(p: Problems, path: str, window: tuple[datetime | None, datetime | None] | None,
                  maximum_days: int, *, required: bool) -> tuple[datetime, datetime] | None:
    if window is None:
        if required:
            p.add(path, "is required")
        return None
    start, end = window
    if start is None or end is None:
        p.add(path, "needs start_time and end_time")
        return None
    if end <= start:
        p.add(f"{path}.end_time", "must be after start_time", "TIME_RANGE_INVALID")
    elif (end - start).total_seconds() > maximum_days * 86400:
        p.add(path, f"must span at most {maximum_days} days", "TIME_RANGE_TOO_LONG", max_duration=f"{maximum_days * 24}h")
    return start, end


def _page(page_size: int, page_token: str, *, default: int, maximum: int, query: str) -> PageRequest:
    """kit paging, with the ``field`` metadata every INVALID_ARGUMENT of ours carries."""
    try:
        return page_request(page_size, page_token, default=default, maximum=maximum, query=query)
    except InvalidArgument as exc:
        field = exc.violations[0].field if exc.violations else "page_token"
        raise InvalidArgument(exc.message, reason=exc.reason, metadata={"field": field, **exc.metadata},
                              violations=exc.violations) from None


class BookingQueries:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    async def get(self, org_unit_id: str, booking_id: str) -> Booking:
        p = Problems()
        check_id(p, "org_unit_id", org_unit_id)
        check_id(p, "booking_id", booking_id)
        p.raise_if_any()
        async with self._d.uow() as uow:
            booking = await uow.bookings.get(org_unit_id, booking_id)
        if booking is None:
            raise booking_not_found(booking_id)
        return booking

    async def list_bookings(
        self, org_unit_id: str, organizer_email: str, window: tuple[datetime | None, datetime | None] | None,
        state: BookingState | None, page_size: int, page_token: str,
    ) -> Page[Booking]:
        """A unit's bookings by start time, then id; filters by organizer, overlapping window, state."""
        p = Problems()
        check_id(p, "org_unit_id", org_unit_id)
        organizer = check_email(p, "organizer_email", organizer_email, required=False)
        span = _check_window(p, "window", window, MAX_LIST_WINDOW.days, required=False)
        p.raise_if_any()
        query = f"{org_unit_id}|{organizer}|{span}|{state}"
        page = _page(page_size, page_token, default=50, maximum=500, query=query)
        after = tuple(page.after) if page.after else None
        async with self._d.uow() as uow:
            items = await uow.bookings.search(org_unit_id, organizer, span, state, after, page.size + 1)
        more = len(items) > page.size
        items = items[: page.size]
        token = next_page_token([items[-1].start.isoformat(), items[-1].id], query=query) if more else ""
        return Page(items, token)

    async def busy_periods(
        self, org_unit_id: str, emails: list[str], window: tuple[datetime | None, datetime | None] | None,
        page_size: int, page_token: str,
    ) -> Page[BusyPeriod]:
        """Time CONFIRMED bookings hold for these emails (organizer, non-declining attendee, room),
        by email then start time; bookings overlapping the window are reported whole."""
        p = Problems()
        check_id(p, "org_unit_id", org_unit_id)
        if not emails:
            p.add("emails", "is required")
        elif len(emails) > MAX_BUSY_EMAILS:
            p.add("emails", f"at most {MAX_BUSY_EMAILS}", "TOO_MANY_PARTICIPANTS", max=str(MAX_BUSY_EMAILS))
        wanted = sorted({check_email(p, f"emails[{i}]", e) for i, e in enumerate(emails[:MAX_BUSY_EMAILS])})
        span = _check_window(p, "window", window, MAX_BUSY_WINDOW.days, required=True)
        p.raise_if_any()
        assert span is not None
        query = f"{org_unit_id}|{','.join(wanted)}|{span}"
        page = _page(page_size, page_token, default=1000, maximum=5000, query=query)
        after = tuple(page.after) if page.after else None
        async with self._d.uow() as uow:
            items = await uow.bookings.busy_periods(org_unit_id, wanted, span[0], span[1], after, page.size + 1)
        more = len(items) > page.size
        items = items[: page.size]
        last = items[-1] if items else None
        token = next_page_token([last.email, last.start.isoformat(), last.booking_id], query=query) if more and last else ""
        return Page(items, token)
