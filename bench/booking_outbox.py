"""Outbox delivery throughput: queued invites → dispatcher → SMTP server on this machine.

    PYTHONPATH=libs:. .venv/bin/python -m bench.booking_outbox [--messages 3000] [--connections 4]
        [--repository package.module:factory]

An aiosmtpd server runs as a separate process and records every Message-ID it accepts. Email-mode
bookings with 4 attendees (5 real iMIP messages each: organizer + attendees) are queued first, then
the dispatcher (``services.booking.adapters.outbox_dispatcher``) delivers them over ``--connections``
SMTP connections; the figure is messages accepted by the server per second, from the first lease
to the last ``mark_sent``. Afterwards the server's log must hold every Message-ID exactly once.

``--repository`` picks the outbox:

* ``postgres`` (default, as ``make bench`` runs it): the booking core's ``SqlOutboxRepository`` on a fresh
  database created on the server of ``bench._report.postgres_url()`` (``RENDEZVOUS_BENCH_POSTGRES_URL``,
  else ``RENDEZVOUS_TEST_POSTGRES_URL``, else ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``),
  migrated with the service's Alembic history, one email-mode booking row per 5 messages (so every
  settlement also updates its booking's delivery, as in production), dropped afterwards;
* ``memory``: ``invites.memory.InMemoryOutbox`` — the dispatcher and SMTP path alone;
* ``package.module:factory``: any async factory returning the ``OutboxRepository`` methods plus
  ``enqueue(messages, at)`` and ``close()``.

Target: at least 300 messages/s (on PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from bench._report import postgres_url, report

BENCH = "booking_outbox"
TARGET = 300.0


class BenchOutbox(Protocol):
    async def lease_due(self, limit: int, lease_seconds: float, now: datetime) -> list[Any]: ...
    async def mark_sent(self, message_id: str, sent_at: datetime) -> None: ...
    async def reschedule(self, message_id: str, next_attempt_at: datetime, error: str) -> None: ...
    async def mark_failed(self, message_id: str, error: str, failed_at: datetime) -> None: ...
    async def release(self, message_ids: Sequence[str]) -> None: ...
    async def enqueue(self, messages: Sequence[Any], at: datetime) -> None: ...
    async def close(self) -> None: ...


class _MemoryBenchOutbox:
    """The in-memory outbox with the two extra bench methods."""

    def __init__(self) -> None:
        from services.booking.invites.memory import InMemoryOutbox

        self.inner = InMemoryOutbox()
        self.lease_due = self.inner.lease_due
        self.mark_sent = self.inner.mark_sent
        self.reschedule = self.inner.reschedule
        self.mark_failed = self.inner.mark_failed
        self.release = self.inner.release

    async def enqueue(self, messages: Sequence[Any], at: datetime) -> None:
        self.inner.add(messages, at=at)

    async def close(self) -> None:
        pass


async def memory_outbox() -> BenchOutbox:
    return _MemoryBenchOutbox()


class _PostgresBenchOutbox:
    """The core's SQL outbox on a throwaway, migrated PostgreSQL database."""

    async def open(self, base_url: str) -> None:
        import asyncpg
        from sqlalchemy.engine import make_url

        from kit.db import create_engine, session_factory
        from kit.migrations import upgrade
        from services.booking.adapters.outbox_sql import SqlOutboxRepository
        from services.booking.bootstrap import MIGRATIONS

        base = make_url(base_url)
        self._admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
        self._name = f"rdv_bench_outbox_{os.getpid()}"
        conn = await asyncpg.connect(self._admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{self._name}"')
        finally:
            await conn.close()
        url = base.set(drivername="postgresql+asyncpg", database=self._name).render_as_string(hide_password=False)
        await upgrade(MIGRATIONS, url)
        self.engine = create_engine(url)
        self.repository = repository = SqlOutboxRepository(session_factory(self.engine), postgres=True)
        self.lease_due = repository.lease_due
        self.mark_sent = repository.mark_sent
        self.reschedule = repository.reschedule
        self.mark_failed = repository.mark_failed
        self.release = repository.release

    async def enqueue(self, messages: Sequence[Any], at: datetime) -> None:
        from sqlalchemy import Boolean, DateTime, Integer, insert

        from services.booking.adapters.tables import bookings, outbox_messages

        def booking_row(i: int, booking_id: str) -> dict[str, Any]:
            # Every NOT NULL column gets a neutral value of its type; times and the organizer differ
            # per booking so no overlap rule can object; delivery is an email invite of version 0.
            row: dict[str, Any] = {}
            for column in bookings.columns:
                kind = column.type
                if isinstance(kind, DateTime):
                    row[column.name] = at + timedelta(hours=i, minutes=30 if column.name.startswith("end") else 0)
                elif not column.nullable:
                    row[column.name] = 0 if isinstance(kind, Integer) else False if isinstance(kind, Boolean) else ""
            row.update(id=booking_id, organizer_email=f"organizer{i}@bench.example", state="CONFIRMED",
                       access_mode="FREE_BUSY", dlv_method="EMAIL_INVITE", dlv_state="PENDING", dlv_sequence=0)
            return {k: v for k, v in row.items() if k in bookings.c}

        booking_ids = list(dict.fromkeys(m.booking_id for m in messages))
        async with self.engine.begin() as conn:
            await conn.execute(insert(bookings), [booking_row(i, b) for i, b in enumerate(booking_ids)])
            await conn.execute(insert(outbox_messages), [
                {"message_id": m.message_id, "booking_id": m.booking_id, "recipient": m.recipient, "sender": m.sender,
                 "method": m.method.value, "kind": "NEW", "sequence": m.sequence, "counts": True, "raw": m.raw,
                 "create_time": at, "next_attempt_at": at, "lease_until": None, "attempts": 0, "last_error": "",
                 "sent_at": None, "failed_at": None}
                for m in messages
            ])

    async def close(self) -> None:
        import asyncpg

        await self.repository.close()
        await self.engine.dispose()
        conn = await asyncpg.connect(self._admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
        finally:
            await conn.close()


async def postgres_outbox() -> BenchOutbox:
    outbox = _PostgresBenchOutbox()
    await outbox.open(postgres_url())
    return outbox


class _Counting:
    """Delegates to the repository and tells when ``total`` messages were marked sent."""

    def __init__(self, inner: BenchOutbox, total: int) -> None:
        self.inner, self.total, self.sent, self.failed = inner, total, 0, 0
        self.done = asyncio.Event()

    async def lease_due(self, limit: int, lease_seconds: float, now: datetime) -> list[Any]:
        return await self.inner.lease_due(limit, lease_seconds, now)

    async def mark_sent(self, message_id: str, sent_at: datetime) -> None:
        await self.inner.mark_sent(message_id, sent_at)
        self.sent += 1
        if self.sent + self.failed >= self.total:
            self.done.set()

    async def reschedule(self, message_id: str, next_attempt_at: datetime, error: str) -> None:
        await self.inner.reschedule(message_id, next_attempt_at, error)

    async def mark_failed(self, message_id: str, error: str, failed_at: datetime) -> None:
        await self.inner.mark_failed(message_id, error, failed_at)
        self.failed += 1
        if self.sent + self.failed >= self.total:
            self.done.set()

    async def release(self, message_ids: Sequence[str]) -> None:
        await self.inner.release(message_ids)


# -- the SMTP server process ------------------------------------------------------------------
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


async def _serve_smtp(port: int, out: Path) -> None:
    from aiosmtpd.smtp import SMTP

    ids: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            head = (envelope.original_content or b"").split(b"\r\n\r\n", 1)[0]
            match = _MESSAGE_ID.search(head)
            ids.append(match.group(1) if match else b"<none>")
            return "250 OK"

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="bench-sink", loop=loop), host="127.0.0.1", port=port
    )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    await asyncio.to_thread(out.write_bytes, b"\n".join(ids))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("SMTP sink did not start")


# -- the run ----------------------------------------------------------------------------------
def _messages(total: int) -> list[Any]:
    from kit.clock import UuidGenerator
    from services.booking.invites.mime import invite_messages
    from services.booking.invites.model import InviteEvent, InviteKind, InviteParty

    ids = UuidGenerator()
    out: list[Any] = []
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    b = 0
    while len(out) < total:
        event = InviteEvent(
            uid=f"{ids.new_id()}@rendezvous.example",
            sequence=0,
            start=start + timedelta(minutes=30 * b),
            end=start + timedelta(minutes=30 * b + 30),
            summary=f"Bench meeting {b}",
            organizer_mailbox="invites@mail.northwind.example",
            organizer_name="Alice Adams",
            organizer_email="alice@northwind.example",
            attendees=tuple(InviteParty(f"guest{i}@fabrikam.example", f"Guest {i}") for i in range(4)),
            time_zone="Europe/London",
            description="Quarterly numbers and next steps.",
            conference_url="https://zoom.example/j/123456789",
            conference_name="Zoom",
        )
        out += invite_messages(
            event, kind=InviteKind.NEW, stamp=datetime.now(UTC), unit_name="Northwind", booking_id=f"bk-{b}", ids=ids
        )
        b += 1
    return out[:total]


async def _deliver(
    factory: Callable[[], Awaitable[BenchOutbox]], port: int, total: int, connections: int, batch: int
) -> tuple[float, int, int, list[str]]:
    from services.booking.adapters.outbox_dispatcher import OutboxDispatcher
    from services.booking.adapters.smtp import SmtpTransport

    messages = _messages(total)
    repository = await factory()
    try:
        await repository.enqueue(messages, datetime.now(UTC))
        counting = _Counting(repository, total)
        dispatcher = OutboxDispatcher(
            counting, SmtpTransport("127.0.0.1", port), batch_size=batch, connections=connections, poll_interval=0.5
        )
        started = time.perf_counter()
        dispatcher.start()
        await asyncio.wait_for(counting.done.wait(), timeout=600)
        elapsed = time.perf_counter() - started
        await dispatcher.stop()
        return total / elapsed, counting.sent, counting.failed, [m.message_id for m in messages]
    finally:
        await repository.close()


def _factory(spec: str) -> Callable[[], Awaitable[BenchOutbox]]:
    if spec == "memory":
        return memory_outbox
    if spec == "postgres":
        return postgres_outbox
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-smtp", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repository", default="postgres", help="postgres, memory or package.module:async_factory")
    args = parser.parse_args()
    if args.serve_smtp:
        asyncio.run(_serve_smtp(args.port, args.out))
        return

    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "received.txt"
        env = dict(os.environ)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.booking_outbox", "--serve-smtp", "--port", str(port), "--out", str(log)],
            env=env,
        )
        try:
            _wait_for_port(port)
            rate, sent, failed, ids = asyncio.run(
                _deliver(_factory(args.repository), port, args.messages, args.connections, args.batch)
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        received = Counter(line.decode() for line in log.read_bytes().split(b"\n") if line)

    missing = sum(1 for i in ids if received[i] == 0)
    repeated = sum(n - 1 for n in received.values() if n > 1)
    where = {"memory": "in-memory outbox", "postgres": "PostgreSQL SqlOutboxRepository"}.get(args.repository, args.repository)
    label = f"messages/s ({where}, {args.connections} conn)"
    report(BENCH, label, rate, "msgs/s", f">= {TARGET:.0f}/s", rate >= TARGET)
    report(BENCH, f"messages lost or failed ({where})", float(missing + failed), "msgs", "== 0", missing + failed == 0)
    report(BENCH, f"messages delivered twice ({where})", float(repeated), "msgs", "== 0", repeated == 0)
    print(f"{BENCH}: {sent} marked sent, {len(received)} distinct Message-IDs received of {len(ids)}")


if __name__ == "__main__":
    main()
