"""The outbox on the booking database: ``invites.ports.OutboxRepository`` for the dispatcher.

Leasing is one ``UPDATE … WHERE message_id IN (SELECT … LIMIT n) RETURNING …``: on PostgreSQL the
inner select takes ``FOR UPDATE SKIP LOCKED`` (replicas never get the same message); SQLite runs it
in a ``BEGIN IMMEDIATE`` transaction (one writer at a time). Each settlement (sent, rescheduled,
failed) also brings the booking's reported delivery up to date in the same transaction: DELIVERED
once every message of its latest version was accepted (``dlv_pending``, the count of its outstanding
messages, reaches zero), RETRYING while one waits for another attempt, FAILED when one was refused
for good. Two statements per settlement: the message, then the booking row.

Locks: a settlement locks its message row, then the booking row. Nothing locks a booking and then an
existing message (booking changes only insert new messages), so this order cannot deadlock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.booking.adapters import rows
from services.booking.adapters.sql import WRITE_OPTION
from services.booking.adapters.tables import bookings, outbox_messages
from services.booking.invites.model import InviteMethod, OutgoingMessage
from services.booking.invites.ports import OutboxRepository

o = outbox_messages.c
b = bookings.c
_UNSETTLED = and_(o.sent_at.is_(None), o.failed_at.is_(None))


class SqlOutboxRepository(OutboxRepository):
    """Each call is one short write transaction on a pooled connection (no ORM session: this is the
    dispatcher's hot path, a few hundred transactions a second)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, postgres: bool) -> None:
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._postgres = postgres

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as connection:
            if not self._postgres:  # SQLite: BEGIN IMMEDIATE, like every booking write
                connection = await connection.execution_options(**{WRITE_OPTION: True})
            async with connection.begin():
                yield connection

    async def lease_due(self, limit: int, lease_seconds: float, now: datetime) -> list[OutgoingMessage]:
        at = rows.utc(now)
        due = select(o.message_id).where(
            o.next_attempt_at.is_not(None), o.next_attempt_at <= at, or_(o.lease_until.is_(None), o.lease_until < at)
        ).order_by(o.create_time, o.message_id).limit(limit)
        if self._postgres:
            due = due.with_for_update(skip_locked=True)
        claim = (
            update(outbox_messages)
            .where(o.message_id.in_(due.scalar_subquery()))
            .values(lease_until=rows.utc(now + timedelta(seconds=lease_seconds)))
            .returning(o.message_id, o.booking_id, o.recipient, o.sender, o.method, o.sequence, o.raw, o.attempts,
                       o.create_time)
        )
        async with self._transaction() as db:
            found = list((await db.execute(claim)).all())
        found.sort(key=lambda r: (rows.utc(r.create_time), r.message_id))
        return [
            OutgoingMessage(
                message_id=r.message_id, booking_id=r.booking_id, recipient=r.recipient, sender=r.sender,
                method=InviteMethod(r.method), sequence=r.sequence, raw=bytes(r.raw), attempts=r.attempts,
            )
            for r in found
        ]

    async def release(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        async with self._transaction() as db:
            await db.execute(
                update(outbox_messages).where(o.message_id.in_(list(message_ids)), _UNSETTLED).values(lease_until=None)
            )

    async def mark_sent(self, message_id: str, sent_at: datetime) -> None:
        sent = rows.utc(sent_at)
        last = b.dlv_pending <= 1  # this was the last outstanding message of the version
        delivered = and_(last, b.dlv_state != "FAILED")
        await self._settle(
            message_id,
            {"sent_at": sent, "next_attempt_at": None, "lease_until": None, "last_error": ""},
            lambda attempts: {
                "dlv_pending": b.dlv_pending - 1,
                "dlv_state": case((delivered, "DELIVERED"), else_=b.dlv_state),
                "dlv_deliver_time": case((delivered, sent), else_=b.dlv_deliver_time),
                "dlv_last_error": case((delivered, ""), else_=b.dlv_last_error),
                "dlv_attempts": _at_least(attempts),
                "dlv_last_attempt_time": sent,
            },
        )

    async def reschedule(self, message_id: str, next_attempt_at: datetime, error: str) -> None:
        failed = b.dlv_state == "FAILED"
        await self._settle(
            message_id,
            {"next_attempt_at": rows.utc(next_attempt_at), "lease_until": None, "last_error": error[:1024]},
            lambda attempts: {
                "dlv_state": case((failed, "FAILED"), else_="RETRYING"),
                "dlv_last_error": case((failed, b.dlv_last_error), else_=error[:1024]),
                "dlv_attempts": _at_least(attempts),
            },
        )

    async def mark_failed(self, message_id: str, error: str, failed_at: datetime) -> None:
        at = rows.utc(failed_at)
        await self._settle(
            message_id,
            {"failed_at": at, "next_attempt_at": None, "lease_until": None, "last_error": error[:1024]},
            lambda attempts: {
                "dlv_pending": b.dlv_pending - 1,
                "dlv_state": "FAILED",
                "dlv_last_error": error[:1024],
                "dlv_attempts": _at_least(attempts),
                "dlv_last_attempt_time": at,
            },
        )

    async def _settle(
        self, message_id: str, values: dict[str, Any], delivery: Callable[[int], dict[str, Any]]
    ) -> None:
        """Settle an unsettled message (settling one twice changes nothing) and, when it belongs to
        its booking's latest version, that booking's delivery — one atomic UPDATE on the booking row,
        evaluated against its newest version (concurrent settlements wait for each other on it)."""
        async with self._transaction() as db:
            settled = (await db.execute(
                update(outbox_messages).where(o.message_id == message_id, _UNSETTLED)
                .values(attempts=o.attempts + 1, **values)
                .returning(o.booking_id, o.sequence, o.counts, o.attempts)
            )).first()
            if settled is not None and settled.counts:
                await db.execute(
                    update(bookings)
                    .where(b.id == settled.booking_id, b.dlv_sequence == settled.sequence, b.dlv_method == "EMAIL_INVITE")
                    .values(delivery(settled.attempts))
                )


def _at_least(attempts: int) -> Any:
    return case((b.dlv_attempts < attempts, attempts), else_=b.dlv_attempts)
