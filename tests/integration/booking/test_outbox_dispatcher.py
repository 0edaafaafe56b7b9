"""The outbox dispatcher against a real SMTP server and the in-memory outbox: every message
arrives exactly once, through outages, refusals and two dispatchers racing.

The core engineer runs the same scenarios against the database repository (same Protocol).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kit.clock import SequentialIds
from services.booking.adapters.outbox_dispatcher import Backoff, OutboxDispatcher
from services.booking.adapters.smtp import SmtpTransport
from services.booking.invites.memory import InMemoryOutbox, OutboxState
from services.booking.invites.mime import invite_messages
from services.booking.invites.model import InviteEvent, InviteKind, InviteParty, OutgoingMessage

from .test_mail_sink import SmtpSink, running_sink, until

FAST = Backoff(base_seconds=0.05, cap_seconds=0.2, jitter=0.2)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


def bookings(n: int, attendees: int = 3) -> list[OutgoingMessage]:
    """``n`` bookings' invites: (attendees + 1) messages each."""
    ids = SequentialIds("msg")
    out: list[OutgoingMessage] = []
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    for b in range(n):
        event = InviteEvent(
            uid=f"bk-{b}@rendezvous.example",
            sequence=0,
            start=start + timedelta(hours=b),
            end=start + timedelta(hours=b, minutes=30),
            summary=f"Meeting {b}",
            organizer_mailbox="invites@mail.northwind.example",
            organizer_name="Alice Adams",
            organizer_email="alice@northwind.example",
            attendees=tuple(InviteParty(f"guest{i}@fabrikam.example") for i in range(attendees)),
        )
        out += invite_messages(
            event, kind=InviteKind.NEW, stamp=datetime.now(UTC), unit_name="Northwind", booking_id=f"bk-{b}", ids=ids
        )
    return out


def queued(messages: list[OutgoingMessage]) -> InMemoryOutbox:
    outbox = InMemoryOutbox()
    outbox.add(messages, at=datetime.now(UTC))
    return outbox


def dispatcher(outbox: InMemoryOutbox, sink: SmtpSink, **kwargs: object) -> OutboxDispatcher:
    options: dict[str, object] = {"poll_interval": 0.05, "backoff": FAST, "rng": random.Random(7)}
    options.update(kwargs)
    return OutboxDispatcher(outbox, SmtpTransport(sink.host, sink.port, timeout_seconds=5), **options)  # type: ignore[arg-type]


async def test_every_message_is_delivered_exactly_once(smtp_sink: SmtpSink) -> None:
    messages = bookings(15)  # 60 messages
    outbox = queued(messages)
    d = dispatcher(outbox, smtp_sink, batch_size=25, connections=3)
    d.start()
    try:
        await until(lambda: len(outbox.in_state(OutboxState.SENT)) == len(messages))
    finally:
        await d.stop()
    assert smtp_sink.message_ids() == Counter({m.message_id: 1 for m in messages})
    for received in smtp_sink.received:
        row = outbox.rows[received.message_id]
        assert received.rcpt_tos == (row.message.recipient,)
        assert received.mail_from == "invites@mail.northwind.example"
        assert row.attempts == 1 and row.last_error == ""


async def test_an_smtp_outage_during_delivery_delays_but_never_loses_or_repeats_a_message(smtp_sink: SmtpSink) -> None:
    messages = bookings(20)  # 80 messages
    outbox = queued(messages)
    d = dispatcher(outbox, smtp_sink, batch_size=10)
    d.start()
    try:
        await smtp_sink.wait_for(10)
        await asyncio.to_thread(smtp_sink.stop)
        # while it is down, the outbox says so: retried messages carry the error and their attempts
        await until(lambda: any(r.last_error and r.state is OutboxState.PENDING for r in outbox.rows.values()))
        assert len(outbox.in_state(OutboxState.SENT)) < len(messages)
        await asyncio.sleep(0.3)  # several retry rounds against the stopped server
        await asyncio.to_thread(smtp_sink.start)
        await until(lambda: len(outbox.in_state(OutboxState.SENT)) == len(messages))
    finally:
        await d.stop()
    assert smtp_sink.message_ids() == Counter({m.message_id: 1 for m in messages})
    assert any(r.attempts > 1 for r in outbox.rows.values())
    assert not outbox.in_state(OutboxState.FAILED)


async def test_a_server_that_is_down_from_the_start_gets_everything_once_it_comes_up(smtp_sink: SmtpSink) -> None:
    smtp_sink.stop()
    messages = bookings(3)
    outbox = queued(messages)
    d = dispatcher(outbox, smtp_sink)
    d.start()
    try:
        await until(lambda: all(r.attempts >= 2 for r in outbox.rows.values()))
        assert all("unavailable" in r.last_error or "connect" in r.last_error for r in outbox.rows.values())
        await asyncio.to_thread(smtp_sink.start)
        await until(lambda: len(outbox.in_state(OutboxState.SENT)) == len(messages))
    finally:
        await d.stop()
    assert smtp_sink.message_ids() == Counter({m.message_id: 1 for m in messages})


async def test_a_refused_recipient_fails_for_good_and_the_others_are_delivered(smtp_sink: SmtpSink) -> None:
    messages = bookings(2)
    smtp_sink.rcpt_answers["guest1@fabrikam.example"] = "550 5.1.1 No such user"
    outbox = queued(messages)
    d = dispatcher(outbox, smtp_sink)
    d.start()
    try:
        await until(lambda: not outbox.in_state(OutboxState.PENDING))
    finally:
        await d.stop()
    failed = outbox.in_state(OutboxState.FAILED)
    assert [r.message.recipient for r in failed] == ["guest1@fabrikam.example"] * 2
    assert all("550" in r.last_error and r.attempts == 1 for r in failed)
    assert smtp_sink.count() == len(messages) - 2
    assert all(count == 1 for count in smtp_sink.message_ids().values())


async def test_a_recipient_deferred_with_4xx_is_retried_and_delivered_once(smtp_sink: SmtpSink) -> None:
    messages = bookings(1)
    smtp_sink.rcpt_answers["guest0@fabrikam.example"] = "451 4.7.1 Greylisted, try again"
    outbox = queued(messages)
    d = dispatcher(outbox, smtp_sink)
    d.start()
    try:
        deferred = next(r for r in outbox.rows.values() if r.message.recipient == "guest0@fabrikam.example")
        await until(lambda: deferred.attempts >= 2)
        assert "451" in deferred.last_error and deferred.state is OutboxState.PENDING
        smtp_sink.rcpt_answers.clear()
        await until(lambda: len(outbox.in_state(OutboxState.SENT)) == len(messages))
    finally:
        await d.stop()
    assert smtp_sink.message_ids() == Counter({m.message_id: 1 for m in messages})


async def test_wake_dispatches_at_once_without_waiting_for_the_poll(smtp_sink: SmtpSink) -> None:
    outbox = InMemoryOutbox()
    d = dispatcher(outbox, smtp_sink, poll_interval=3600)
    d.start()
    try:
        await until(lambda: outbox.lease_calls >= 1)  # first (empty) poll done; now sleeping for an hour
        messages = bookings(1)
        outbox.add(messages, at=datetime.now(UTC))
        d.wake()
        await smtp_sink.wait_for(len(messages), timeout=10)
    finally:
        await d.stop()
    assert len(outbox.in_state(OutboxState.SENT)) == len(messages)


async def test_two_dispatchers_on_one_outbox_never_send_a_message_twice(smtp_sink: SmtpSink) -> None:
    messages = bookings(25)  # 100 messages
    outbox = queued(messages)
    first = dispatcher(outbox, smtp_sink, batch_size=7, connections=2)
    second = dispatcher(outbox, smtp_sink, batch_size=7, connections=2)
    first.start()
    second.start()
    try:
        await until(lambda: len(outbox.in_state(OutboxState.SENT)) == len(messages))
    finally:
        await first.stop()
        await second.stop()
    assert smtp_sink.message_ids() == Counter({m.message_id: 1 for m in messages})


class _MarkingOutbox(InMemoryOutbox):
    """mark_sent waits for ``gate`` (and then fails while ``failing``), counting what the server has then."""

    def __init__(self, sink: SmtpSink) -> None:
        super().__init__()
        self.sink, self.gate, self.failing = sink, asyncio.Event(), False
        self.received_while_marking: list[int] = []

    async def mark_sent(self, message_id: str, sent_at: datetime) -> None:
        await asyncio.sleep(0.2)  # the connection meanwhile sends the next message's envelope and content
        self.received_while_marking.append(self.sink.count())
        await self.gate.wait()
        if self.failing:
            raise ConnectionError("database unavailable")
        await super().mark_sent(message_id, sent_at)


async def test_the_next_message_is_accepted_only_after_the_previous_one_was_marked_sent(smtp_sink: SmtpSink) -> None:
    messages = bookings(1)  # 4 messages of one booking: one connection, in order
    outbox = _MarkingOutbox(smtp_sink)
    outbox.add(messages, at=datetime.now(UTC))
    outbox.gate.set()
    await dispatcher(outbox, smtp_sink, connections=1).dispatch_once()
    assert outbox.received_while_marking == [1, 2, 3, 4]  # never a second unmarked message at the server
    assert smtp_sink.message_ids() == Counter({m.message_id: 1 for m in messages})
    assert len(outbox.in_state(OutboxState.SENT)) == len(messages)


async def test_when_a_message_cannot_be_marked_the_next_one_never_reaches_the_server(smtp_sink: SmtpSink) -> None:
    messages = bookings(1)
    outbox = _MarkingOutbox(smtp_sink)
    outbox.add(messages, at=datetime.now(UTC))
    outbox.failing = True
    outbox.gate.set()
    result = await dispatcher(outbox, smtp_sink, connections=1, mark_sent_retry_pauses=(0.01,)).dispatch_once()
    await asyncio.sleep(0.3)
    assert smtp_sink.message_ids() == Counter({messages[0].message_id: 1})
    assert result.repository_failed and result.released == 3
    rest = [outbox.rows[m.message_id] for m in messages[1:]]
    assert all(r.state is OutboxState.PENDING and r.attempts == 0 and r.lease_until is None for r in rest)
