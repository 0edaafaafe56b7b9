"""The booking database adapters on SQLite and PostgreSQL: slots, leases, and the outbox repository
that the dispatcher uses (leasing without sharing, delivery state kept with the booking)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kit.clock import SequentialIds
from kit.db import create_engine, is_postgres, is_sqlite, session_factory
from kit.migrations import upgrade
from services.booking.adapters.outbox_sql import SqlOutboxRepository
from services.booking.adapters.sql import BookingUnitOfWork, serialize_sqlite_writes
from services.booking.bootstrap import MIGRATIONS
from services.booking.domain.model import (
    AccessMode,
    Booking,
    CalendarRoute,
    Conferencing,
    Delivery,
    DeliveryMethod,
    DeliveryState,
    Party,
    PartyKind,
    Provider,
)
from services.booking.invites.model import InviteKind
from services.booking.ports import SlotUnavailable
from services.booking.usecases.mail import ImipComposer

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url):
    await upgrade(MIGRATIONS, database_url)
    engine = create_engine(database_url)
    if is_sqlite(database_url):
        serialize_sqlite_writes(engine)
    sessions = session_factory(engine)
    postgres = is_postgres(database_url)

    def uow(*, write: bool = False) -> BookingUnitOfWork:
        return BookingUnitOfWork(sessions, postgres=postgres, write=write)

    outbox = SqlOutboxRepository(sessions, postgres=postgres)
    yield uow, outbox
    await outbox.close()
    await engine.dispose()


def a_booking(booking_id: str, start: datetime = START, *, organizer: str = "ada@example.org",
              rooms: tuple[str, ...] = (), method: DeliveryMethod = DeliveryMethod.EMAIL_INVITE) -> Booking:
    return Booking(
        id=booking_id, org_unit_id="org-1",
        organizer=Party(organizer, PartyKind.ORGANIZER, "Ada"),
        attendees=(Party("bob@example.org", PartyKind.PERSON, "Bob"),),
        rooms=tuple(Party(r, PartyKind.ROOM, r) for r in rooms),
        start=start, end=start + timedelta(minutes=30), time_zone="UTC", summary="S", description="", location="",
        conferencing=Conferencing(), route=CalendarRoute(AccessMode.NO_ACCESS, Provider.UNSPECIFIED, "cal"),
        delivery=Delivery(method, ical_uid=f"{booking_id}@example.org"), invite_sender="invites@example.org",
        unit_name="Unit", create_time=NOW, update_time=NOW,
    )


async def add(uow, booking: Booking, *, mail: bool = False) -> None:
    async with uow(write=True) as u:
        await u.bookings.add(booking)
        if mail:
            messages = ImipComposer(SequentialIds(f"m-{booking.id}")).compose(booking, "NEW", NOW)
            await u.outbox.add(messages, NOW, kind=InviteKind.NEW.value, counts=True)
        await u.commit()


async def test_a_booking_reads_back_as_written(store):
    uow, _ = store
    booking = a_booking("b1", rooms=("room@example.org",))
    await add(uow, booking)
    async with uow() as u:
        assert await u.bookings.get("org-1", "b1") == booking
        assert await u.bookings.get("org-2", "b1") is None
        assert await u.bookings.by_ical_uid("b1@example.org") == booking


async def test_overlapping_slots_of_one_organizer_or_room_are_refused_by_the_database(store):
    uow, _ = store
    await add(uow, a_booking("b1", rooms=("room@example.org",)))
    with pytest.raises(SlotUnavailable):
        await add(uow, a_booking("b2", START + timedelta(minutes=10)))
    with pytest.raises(SlotUnavailable):
        await add(uow, a_booking("b3", START + timedelta(minutes=10), organizer="zed@example.org",
                                 rooms=("room@example.org",)))
    await add(uow, a_booking("b4", START + timedelta(minutes=10), organizer="zed@example.org"))
    await add(uow, a_booking("b5", START + timedelta(minutes=30)))
    async with uow() as u:
        assert await u.bookings.get("org-1", "b2") is None


async def test_concurrent_writers_confirm_only_one_of_overlapping_bookings(store):
    uow, _ = store
    results = await asyncio.gather(*(add(uow, a_booking(f"c{i}", START + timedelta(minutes=i))) for i in range(10)),
                                   return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, SlotUnavailable) for r in results if r is not None)


async def test_a_cancelled_booking_frees_its_slot(store):
    uow, _ = store
    booking = a_booking("b1")
    await add(uow, booking)
    async with uow(write=True) as u:
        current = await u.bookings.get("org-1", "b1")
        assert current is not None
        from services.booking.domain.changes import cancel

        await u.bookings.save(cancel(current, "", NOW, None))
        await u.commit()
    await add(uow, a_booking("b2"))


async def test_provider_work_is_leased_to_one_caller_at_a_time(store):
    uow, _ = store
    due = replace(a_booking("b1", method=DeliveryMethod.PROVIDER_EVENT),
                  delivery=Delivery(DeliveryMethod.PROVIDER_EVENT, next_attempt_time=NOW))
    await add(uow, due)
    async with uow(write=True) as u:
        assert await u.bookings.lease_due("delivery", NOW, NOW + timedelta(seconds=30), 10) == ["b1"]
        assert await u.bookings.lease_due("delivery", NOW, NOW + timedelta(seconds=30), 10) == []
        assert not await u.bookings.try_lease("delivery", "b1", NOW, NOW + timedelta(seconds=30))
        assert await u.bookings.try_lease("delivery", "b1", NOW + timedelta(seconds=31), NOW + timedelta(seconds=60))
        await u.bookings.release("delivery", "b1")
        assert await u.bookings.lease_due("conferencing", NOW, NOW + timedelta(seconds=30), 10) == []
        await u.commit()


async def test_the_outbox_leases_each_message_to_one_dispatcher_and_reports_delivery_on_the_booking(store):
    uow, outbox = store
    await add(uow, a_booking("b1"), mail=True)
    first, second = await asyncio.gather(outbox.lease_due(10, 30, NOW), outbox.lease_due(10, 30, NOW))
    leased = first + second
    assert sorted(m.recipient for m in leased) == ["ada@example.org", "bob@example.org"]
    assert not {m.message_id for m in first} & {m.message_id for m in second}
    assert await outbox.lease_due(10, 30, NOW) == []
    ada, bob = sorted(leased, key=lambda m: m.recipient)
    await outbox.reschedule(bob.message_id, NOW + timedelta(seconds=5), "451 try later")
    await outbox.mark_sent(ada.message_id, NOW)
    async with uow() as u:
        delivery = (await u.bookings.get("org-1", "b1")).delivery
    assert (delivery.state, delivery.last_error, delivery.attempt_count) == (DeliveryState.RETRYING, "451 try later", 1)
    assert await outbox.lease_due(10, 30, NOW) == []
    again = await outbox.lease_due(10, 30, NOW + timedelta(seconds=6))
    assert [(m.message_id, m.attempts) for m in again] == [(bob.message_id, 1)]
    await outbox.mark_sent(bob.message_id, NOW + timedelta(seconds=6))
    await outbox.mark_sent(bob.message_id, NOW + timedelta(seconds=7))  # idempotent
    async with uow() as u:
        delivery = (await u.bookings.get("org-1", "b1")).delivery
    assert (delivery.state, delivery.attempt_count) == (DeliveryState.DELIVERED, 2)
    assert delivery.deliver_time == NOW + timedelta(seconds=6)


async def test_a_refused_message_fails_the_delivery_and_released_leases_are_due_again(store):
    uow, outbox = store
    await add(uow, a_booking("b1"), mail=True)
    ada, bob = sorted(await outbox.lease_due(10, 30, NOW), key=lambda m: m.recipient)
    await outbox.release([ada.message_id])
    assert [m.message_id for m in await outbox.lease_due(10, 30, NOW)] == [ada.message_id]
    await outbox.mark_failed(bob.message_id, "550 no such user", NOW)
    async with uow() as u:
        delivery = (await u.bookings.get("org-1", "b1")).delivery
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, "550 no such user")
