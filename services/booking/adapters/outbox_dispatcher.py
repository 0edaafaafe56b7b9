"""The outbox dispatcher: delivers queued invites over SMTP, with retries, never losing a message.

One asyncio task per service replica (``start()`` / ``stop()``); the use cases call ``wake()`` after
committing mail so it goes out at once, otherwise the outbox is polled every ``poll_interval``.
Each cycle leases a batch (``OutboxRepository.lease_due``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so replicas never share a message), sends it over ``connections`` SMTP connections, and settles every
message on its own as soon as the server answered:

* 250 → ``mark_sent`` at once (before the next message is sent);
* transient (4xx, cannot connect, connection lost) → ``reschedule`` with exponential backoff and
  jitter (1 s, 2 s, 4 s … capped at 5 min by default); when the server itself is unreachable the
  rest of the batch is rescheduled too and the dispatcher pauses (its own backoff) before leasing more;
* permanent (5xx) → ``mark_failed``; also after ``max_attempts`` transient failures if one is set.

**Delivery guarantee: at least once, duplicates minimised, never lost.** A message is settled only
after the server's answer, so a crash, a lost connection after DATA, or a database outage between the
server's 250 and ``mark_sent`` means the lease expires and the message is sent again. That window is
one message wide (we mark each message before sending the next, retry ``mark_sent`` briefly, and
stop the batch when it keeps failing), and a repeat carries the same Message-ID, so receiving MTAs
and clients that de-duplicate by Message-ID — and calendars, which key on UID + SEQUENCE + DTSTAMP —
show it once. A batch stops sending when half its lease is spent and gives the rest back, so a slow
server never lets a lease expire under a message still being sent (the other way duplicates could
arise) — provided ``lease_seconds`` is at least twice the longest one send can take (``SmtpTransport``:
about 4 × ``timeout_seconds``, i.e. ≥ 80 s with the 10 s default; 120 s is a good setting).

``mark_sent`` is deliberately not batched across the messages of a session: marking k accepted
messages together would widen the window above from one message to k (a crash or a database outage
before the batch is written re-sends all k). Throughput comes from the settlement being cheap (one
statement, one round trip on PostgreSQL: ``adapters.outbox_sql``) and from doing it while the next
message travels: while message n is being marked sent, the same connection already sends message
n+1's envelope and content, but holds back the end of its data — the point where the server takes
the message — until n is marked (``MailSession.send(ready=…)``). If n cannot be marked, n+1 is
abandoned mid-DATA (the server discards it) and given back, so a connection still never has more
than one accepted, unmarked message.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from kit.clock import Clock, SystemClock
from services.booking.invites.model import OutgoingMessage
from services.booking.invites.ports import (
    MailSession,
    MailTransport,
    OutboxRepository,
    PermanentDeliveryError,
    TransientDeliveryError,
)

log = logging.getLogger("rendezvous.booking.outbox")


class _Withheld(Exception):
    """A message's end of data was held back for good: the message before it could not be marked."""


async def _after(previous: asyncio.Task[bool] | None) -> None:
    """Settlements of one connection stay in order: wait for the one still running."""
    if previous is not None:
        await previous


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1 after n failures: ``base * factor**(n-1)`` capped at ``cap``, then
    reduced by up to ``jitter`` (a fraction) at random so retries of a burst spread out."""

    base_seconds: float = 1.0
    factor: float = 2.0
    cap_seconds: float = 300.0
    jitter: float = 0.2

    def delay(self, failures: int, rng: random.Random) -> float:
        exponent = min(max(failures, 1) - 1, 64)
        seconds = min(self.cap_seconds, self.base_seconds * self.factor**exponent)
        return seconds * (1.0 - self.jitter * rng.random())


@dataclass
class CycleResult:
    """What one ``dispatch_once`` did (for tests, logs and the benchmark)."""

    leased: int = 0
    sent: int = 0
    rescheduled: int = 0
    failed: int = 0
    released: int = 0
    server_unavailable: bool = False
    outage_error: str = ""
    repository_failed: bool = False
    errors: list[str] = field(default_factory=list)


class OutboxDispatcher:
    def __init__(
        self,
        repository: OutboxRepository,
        transport: MailTransport,
        *,
        clock: Clock | None = None,
        batch_size: int = 100,
        lease_seconds: float = 120.0,
        poll_interval: float = 2.0,
        connections: int = 1,
        backoff: Backoff | None = None,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
        mark_sent_retry_pauses: tuple[float, ...] = (0.2, 1.0),
    ) -> None:
        self._repo = repository
        self._transport = transport
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._connections = max(1, connections)
        self._backoff = backoff or Backoff()
        self._max_attempts = max_attempts
        self._rng = rng or random.Random()
        self._mark_sent_pauses = mark_sent_retry_pauses
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outages = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run the loop as a background task on the current event loop."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(self.run(), name="booking-outbox")

    def wake(self) -> None:
        """Dispatch now (call after committing new mail); cheap, safe to call often."""
        self._wake.set()

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Finish the message being sent, give back the rest of the batch, end the loop."""
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, grace_seconds)
        except TimeoutError:
            log.warning("outbox dispatcher did not stop in %.1fs; cancelled", grace_seconds)

    async def run(self) -> None:
        """Dispatch until ``stop()``; never raises (errors are logged and retried)."""
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                result = await self.dispatch_once()
            except Exception:  # a bug; keep the loop alive
                log.exception("outbox cycle failed")
                result = CycleResult(repository_failed=True)
            if self._stopping.is_set():
                break
            if result.server_unavailable:
                self._outages += 1
                await self._pause(self._backoff.delay(self._outages, self._rng), wakeable=False)
                continue
            self._outages = 0
            if result.repository_failed:
                await self._pause(self._poll_interval, wakeable=False)
            elif result.leased < self._batch_size or result.released:
                await self._pause(self._poll_interval, wakeable=True)

    # -- one cycle ---------------------------------------------------------------------------
    async def dispatch_once(self) -> CycleResult:
        """Lease one batch and settle every message in it."""
        result = CycleResult()
        try:
            batch = await self._repo.lease_due(self._batch_size, self._lease_seconds, self._clock.now())
        except Exception as exc:
            log.warning("outbox lease failed: %s", exc)
            result.repository_failed = True
            result.errors.append(str(exc))
            return result
        result.leased = len(batch)
        if not batch:
            return result
        loop = asyncio.get_running_loop()
        send_until = loop.time() + self._lease_seconds / 2
        # One booking's messages go over one connection, one after another: their settlements lock the
        # same booking row, so spreading them over connections would only make them wait for each other.
        groups: dict[str, deque[OutgoingMessage]] = {}
        for message in batch:
            groups.setdefault(message.booking_id, deque()).append(message)
        queue = deque(groups.values())
        leftover: list[OutgoingMessage] = []
        workers = [
            self._worker(queue, leftover, result, send_until) for _ in range(min(self._connections, len(queue)))
        ]
        await asyncio.gather(*workers)
        leftover += [m for group in queue for m in group]
        if leftover and result.server_unavailable:
            await self._reschedule_all(leftover, result)
        elif leftover:
            try:
                await self._repo.release([m.message_id for m in leftover])
                result.released += len(leftover)
            except Exception as exc:  # the leases expire on their own
                log.warning("outbox release failed: %s", exc)
        return result

    async def _worker(
        self,
        queue: deque[deque[OutgoingMessage]],
        leftover: list[OutgoingMessage],
        result: CycleResult,
        send_until: float,
    ) -> None:
        loop = asyncio.get_running_loop()

        def may_send() -> bool:
            return not (
                self._stopping.is_set()
                or result.server_unavailable
                or result.repository_failed
                or loop.time() >= send_until
            )

        if not (queue and may_send()):
            return
        group: deque[OutgoingMessage] = deque()
        marking: asyncio.Task[bool] | None = None  # mark_sent of the message this connection sent last
        try:
            async with self._transport.session() as session:
                while queue and may_send():
                    group = queue.popleft()
                    while group and may_send():
                        message = group.popleft()
                        marking, withheld = await self._deliver(session, message, result, marking)
                        if withheld:
                            group.appendleft(message)
                    leftover.extend(group)
                    group.clear()
        except TransientDeliveryError as exc:  # could not open (or lost) the session
            result.server_unavailable = True
            result.outage_error = result.outage_error or str(exc)
            result.errors.append(str(exc))
        except Exception as exc:  # bug in the transport; treat like an unreachable server
            log.exception("mail transport failed")
            result.server_unavailable = True
            result.outage_error = result.outage_error or f"{type(exc).__name__}: {exc}"
            result.errors.append(result.outage_error)
        finally:
            if marking is not None:
                await marking  # never raises: _settle_sent reports its failure in result
            leftover.extend(group)  # a group interrupted by an exception

    async def _deliver(
        self, session: MailSession, message: OutgoingMessage, result: CycleResult, previous: asyncio.Task[bool] | None
    ) -> tuple[asyncio.Task[bool] | None, bool]:
        """Send ``message`` while ``previous`` (marking the connection's last message sent) runs; the
        server gets the end of the data only once ``previous`` succeeded. Returns this message's
        ``mark_sent`` (started, not awaited) and whether the message was withheld (not sent, because
        the previous one could not be marked)."""

        async def previous_marked() -> None:
            if previous is not None and not await previous:
                raise _Withheld()

        try:
            await session.send(message.sender, message.recipient, message.raw,
                               ready=previous_marked if previous is not None else None)
        except _Withheld:
            return None, True
        except PermanentDeliveryError as exc:
            await _after(previous)
            await self._settle_failed(message, str(exc), result)
            return None, False
        except TransientDeliveryError as exc:
            if exc.code in (0, 421):
                result.server_unavailable = True  # the rest of the batch would fail the same way
                result.outage_error = result.outage_error or str(exc)
            await _after(previous)
            await self._retry_later(message, str(exc), result)
            return None, False
        except Exception as exc:  # unexpected: never drop the message
            log.exception("sending %s failed unexpectedly", message.message_id)
            await _after(previous)
            await self._retry_later(message, f"{type(exc).__name__}: {exc}", result)
            return None, False
        return asyncio.create_task(self._settle_sent(message, result)), False

    async def _settle_sent(self, message: OutgoingMessage, result: CycleResult) -> bool:
        """Mark an accepted message sent (retried briefly); False when that kept failing."""
        error: Exception | None = None
        for pause in (0.0, *self._mark_sent_pauses):
            if pause:
                await asyncio.sleep(pause)
            try:
                await self._repo.mark_sent(message.message_id, self._clock.now())
                result.sent += 1
                return True
            except Exception as exc:
                error = exc
        log.error(
            "message %s was accepted by the mail server but could not be marked sent (%s); it will be "
            "sent again with the same Message-ID when its lease expires",
            message.message_id,
            error,
        )
        result.repository_failed = True  # stop this batch: every further send would risk a duplicate
        result.errors.append(str(error))
        return False

    async def _retry_later(self, message: OutgoingMessage, error: str, result: CycleResult) -> None:
        failures = message.attempts + 1
        if self._max_attempts is not None and failures >= self._max_attempts:
            await self._settle_failed(message, f"gave up after {failures} attempts: {error}", result)
            return
        delay = self._backoff.delay(failures, self._rng)
        try:
            await self._repo.reschedule(message.message_id, self._clock.now() + timedelta(seconds=delay), error)
            result.rescheduled += 1
        except Exception as exc:  # the lease expires and the message is tried again
            log.warning("outbox reschedule of %s failed: %s", message.message_id, exc)
            result.repository_failed = True
        result.errors.append(error)

    async def _settle_failed(self, message: OutgoingMessage, error: str, result: CycleResult) -> None:
        log.warning("message %s to %s failed permanently: %s", message.message_id, message.recipient, error)
        try:
            await self._repo.mark_failed(message.message_id, error, self._clock.now())
            result.failed += 1
        except Exception as exc:
            log.warning("outbox mark_failed of %s failed: %s", message.message_id, exc)
            result.repository_failed = True
        result.errors.append(error)

    async def _reschedule_all(self, messages: list[OutgoingMessage], result: CycleResult) -> None:
        error = "mail server unavailable: " + (result.outage_error or "unknown")
        for message in messages:
            await self._retry_later(message, error, result)

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if wakeable:
            waiters.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
