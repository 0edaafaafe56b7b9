"""The dispatcher's retry and settlement rules, on a scripted mail transport (no network)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from kit.clock import FixedClock
from services.booking.adapters.outbox_dispatcher import Backoff, OutboxDispatcher
from services.booking.invites.memory import InMemoryOutbox, OutboxState
from services.booking.invites.model import InviteMethod, OutgoingMessage
from services.booking.invites.ports import PermanentDeliveryError, TransientDeliveryError

from .test_mail_sink import until

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def message(n: int, booking_id: str = "bk-1") -> OutgoingMessage:
    return OutgoingMessage(
        message_id=f"<m{n}@mail.example>",
        booking_id=booking_id,
        recipient=f"guest{n}@example.org",
        sender="invites@mail.example",
        method=InviteMethod.REQUEST,
        sequence=0,
        raw=b"Subject: hi\r\n\r\nhello\r\n",
    )


class ScriptedTransport:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failures: dict[str, Exception] = {}
        self.open_error: Exception | None = None
        self.send_delay = 0.0
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.sessions = 0
        self.log: list[tuple[int, str]] = []  # (session number, recipient) in sending order
        self.abandoned: list[str] = []  # recipients whose transaction was given up before the end of data

    @asynccontextmanager
    async def session(self) -> AsyncIterator[ScriptedSession]:
        if self.open_error:
            raise self.open_error
        self.sessions += 1
        yield ScriptedSession(self, self.sessions)

    async def send(self, number: int, recipient: str, ready: Callable[[], Awaitable[None]] | None) -> None:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        failure = self.failures.get(recipient)
        if failure:
            raise failure
        if ready is not None:  # everything but the end of the data went out; the server holds nothing yet
            try:
                await ready()
            except BaseException:
                self.abandoned.append(recipient)
                raise
        self.sent.append(recipient)
        self.log.append((number, recipient))


class ScriptedSession:
    def __init__(self, transport: ScriptedTransport, number: int) -> None:
        self.transport, self.number = transport, number

    async def send(
        self, sender: str, recipient: str, raw: bytes, *, ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        await self.transport.send(self.number, recipient, ready)


class FlakyOutbox(InMemoryOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.mark_sent_fails = False
        self.lease_fails = False

    async def mark_sent(self, message_id: str, sent_at: datetime) -> None:
        if self.mark_sent_fails:
            raise ConnectionError("database unavailable")
        await super().mark_sent(message_id, sent_at)

    async def lease_due(self, limit: int, lease_seconds: float, now: datetime) -> list[OutgoingMessage]:
        if self.lease_fails:
            self.lease_calls += 1
            raise ConnectionError("database unavailable")
        return await super().lease_due(limit, lease_seconds, now)


def setup(
    n: int, bookings: int = 1, **kwargs: object
) -> tuple[FlakyOutbox, ScriptedTransport, OutboxDispatcher, FixedClock]:
    outbox, transport, clock = FlakyOutbox(), ScriptedTransport(), FixedClock(NOW)
    outbox.add([message(i, f"bk-{i % bookings}") for i in range(n)], at=NOW)
    options: dict[str, object] = {"clock": clock, "rng": random.Random(1), "poll_interval": 0.01}
    options.update(kwargs)
    return outbox, transport, OutboxDispatcher(outbox, transport, **options), clock  # type: ignore[arg-type]


def test_backoff_doubles_from_one_second_to_a_five_minute_cap_with_jitter_below() -> None:
    rng = random.Random(3)
    backoff = Backoff()
    for failures, full in [(1, 1), (2, 2), (3, 4), (5, 16), (9, 256), (10, 300), (50, 300), (10_000, 300)]:
        for _ in range(20):
            assert full * 0.8 <= backoff.delay(failures, rng) <= full


async def test_a_transient_failure_is_rescheduled_after_the_backoff_with_its_error() -> None:
    outbox, transport, dispatcher, clock = setup(2, backoff=Backoff(jitter=0))
    transport.failures["guest0@example.org"] = TransientDeliveryError("451 greylisted", code=451)
    result = await dispatcher.dispatch_once()
    assert (result.sent, result.rescheduled, result.server_unavailable) == (1, 1, False)
    row = outbox.rows["<m0@mail.example>"]
    assert (row.state, row.attempts, row.last_error) == (OutboxState.PENDING, 1, "451 greylisted")
    assert row.next_attempt_at == NOW + timedelta(seconds=1)
    assert row.lease_until is None
    # not due yet: nothing is leased; once due, the second failure waits twice as long
    assert (await dispatcher.dispatch_once()).leased == 0
    clock.advance(timedelta(seconds=1))
    await dispatcher.dispatch_once()
    assert row.attempts == 2 and row.next_attempt_at == NOW + timedelta(seconds=1) + timedelta(seconds=2)


async def test_a_permanent_failure_is_marked_failed_and_never_retried() -> None:
    outbox, transport, dispatcher, clock = setup(1)
    transport.failures["guest0@example.org"] = PermanentDeliveryError("550 no such user", code=550)
    await dispatcher.dispatch_once()
    clock.advance(timedelta(days=1))
    assert (await dispatcher.dispatch_once()).leased == 0
    row = outbox.rows["<m0@mail.example>"]
    assert (row.state, row.attempts, row.last_error) == (OutboxState.FAILED, 1, "550 no such user")


async def test_after_max_attempts_a_transient_failure_becomes_final() -> None:
    outbox, transport, dispatcher, clock = setup(1, max_attempts=3)
    transport.failures["guest0@example.org"] = TransientDeliveryError("421 busy", code=450)
    for _ in range(3):
        await dispatcher.dispatch_once()
        clock.advance(timedelta(hours=1))
    row = outbox.rows["<m0@mail.example>"]
    assert (row.state, row.attempts) == (OutboxState.FAILED, 3)
    assert row.last_error.startswith("gave up after 3 attempts")


async def test_an_unreachable_server_reschedules_the_whole_batch_with_the_reason() -> None:
    outbox, transport, dispatcher, _ = setup(3)
    transport.open_error = TransientDeliveryError("cannot connect to SMTP: refused")
    result = await dispatcher.dispatch_once()
    assert result.server_unavailable and result.rescheduled == 3
    for row in outbox.rows.values():
        assert row.state is OutboxState.PENDING and row.attempts == 1
        assert row.last_error == "mail server unavailable: cannot connect to SMTP: refused"
        assert row.next_attempt_at > NOW


async def test_a_connection_lost_mid_batch_stops_the_batch_and_reschedules_the_rest() -> None:
    outbox, transport, dispatcher, _ = setup(4)
    transport.failures["guest1@example.org"] = TransientDeliveryError("connection lost", code=0)
    result = await dispatcher.dispatch_once()
    assert transport.sent == ["guest0@example.org"]
    assert (result.sent, result.rescheduled) == (1, 3)
    assert outbox.rows["<m3@mail.example>"].last_error.startswith("mail server unavailable")


async def test_an_unexpected_error_while_sending_never_drops_the_message() -> None:
    outbox, transport, dispatcher, _ = setup(1)
    transport.failures["guest0@example.org"] = RuntimeError("bug")
    await dispatcher.dispatch_once()
    row = outbox.rows["<m0@mail.example>"]
    assert row.state is OutboxState.PENDING and "RuntimeError: bug" in row.last_error


async def test_when_mark_sent_keeps_failing_the_batch_stops_to_avoid_duplicates() -> None:
    outbox, transport, dispatcher, _ = setup(5, mark_sent_retry_pauses=(0.01, 0.01))
    outbox.mark_sent_fails = True
    result = await dispatcher.dispatch_once()
    assert transport.sent == ["guest0@example.org"]  # one message at risk of a repeat, not five
    assert transport.abandoned == ["guest1@example.org"]  # started while guest0 was being marked, never finished
    assert result.repository_failed and result.released == 4
    assert all(r.state is OutboxState.PENDING and r.lease_until is None for r in list(outbox.rows.values())[1:])
    # the accepted one keeps its lease, so it is re-sent only after the lease expires (same Message-ID)
    assert outbox.rows["<m0@mail.example>"].lease_until is not None


async def test_a_batch_stops_sending_before_its_lease_can_expire() -> None:
    outbox, transport, dispatcher, _ = setup(10, lease_seconds=0.1)
    transport.send_delay = 0.03
    result = await dispatcher.dispatch_once()
    assert 1 <= result.sent <= 2
    assert result.released == 10 - result.sent
    assert len(outbox.in_state(OutboxState.SENT)) == result.sent


async def test_stop_finishes_the_message_in_flight_and_gives_the_rest_back() -> None:
    outbox, transport, dispatcher, _ = setup(5)
    transport.gate = asyncio.Event()
    dispatcher.start()
    await transport.started.wait()
    stopping = asyncio.create_task(dispatcher.stop())
    await asyncio.sleep(0.01)
    transport.gate.set()
    await stopping
    assert transport.sent == ["guest0@example.org"]
    assert outbox.rows["<m0@mail.example>"].state is OutboxState.SENT
    assert all(r.lease_until is None and r.attempts == 0 for r in list(outbox.rows.values())[1:])


async def test_the_loop_survives_a_failing_repository_and_recovers() -> None:
    outbox, transport, dispatcher, _ = setup(2)
    outbox.lease_fails = True
    dispatcher.start()
    try:
        await until(lambda: outbox.lease_calls >= 3, 5)
        outbox.lease_fails = False
        await until(lambda: len(transport.sent) >= 2, 5)
    finally:
        await dispatcher.stop()
    assert sorted(transport.sent) == ["guest0@example.org", "guest1@example.org"]


@pytest.mark.parametrize("connections", [1, 4])
async def test_several_connections_share_one_batch_without_repeats(connections: int) -> None:
    outbox, transport, dispatcher, _ = setup(30, bookings=6, connections=connections, batch_size=30)
    transport.send_delay = 0.001
    await dispatcher.dispatch_once()
    assert sorted(transport.sent) == sorted(f"guest{i}@example.org" for i in range(30))
    assert transport.sessions == connections


async def test_one_bookings_messages_go_over_one_connection_in_order() -> None:
    outbox, transport, dispatcher, _ = setup(12, bookings=3, connections=3, batch_size=12)
    transport.send_delay = 0.001
    await dispatcher.dispatch_once()
    by_booking: dict[int, list[tuple[int, str]]] = {}
    for session, recipient in transport.log:
        by_booking.setdefault(int(recipient[5:].split("@")[0]) % 3, []).append((session, recipient))
    for b, sent in by_booking.items():
        assert len({session for session, _ in sent}) == 1  # one connection per booking
        assert [r for _, r in sent] == [f"guest{i}@example.org" for i in range(b, 12, 3)]  # in queue order
