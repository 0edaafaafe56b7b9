"""The outbox on the booking database: ``invites.ports.OutboxRepository`` for the dispatcher.

Leasing is one ``UPDATE … WHERE message_id IN (SELECT … LIMIT n) RETURNING …``: on PostgreSQL the
inner select takes ``FOR UPDATE SKIP LOCKED`` (replicas never get the same message); SQLite runs it
in a ``BEGIN IMMEDIATE`` transaction (one writer at a time). Each settlement (sent, rescheduled,
failed) also brings the booking's reported delivery up to date in the same transaction: DELIVERED
once every message of its latest version was accepted (``dlv_pending``, the count of its outstanding
messages, reaches zero), RETRYING while one waits for another attempt, FAILED when one was refused
for good.

A settlement is the dispatcher's per-message cost, so on PostgreSQL (asyncpg) it is ONE statement —
the message update in a CTE feeding the booking update, atomic by itself — compiled once, prepared
once per connection and run outside any transaction on the repository's own few connections
(:mod:`kit.pg`): one round trip, where a pooled SQLAlchemy transaction took seven (pre-ping
``BEGIN; ; ROLLBACK``, BEGIN, two UPDATEs, COMMIT). SQLite (and any other driver) runs the same two
updates as two statements in one ``BEGIN IMMEDIATE`` transaction. ``close()`` the repository at
shutdown.

Locks: a settlement locks its message row, then the booking row. Nothing locks a booking and then an
existing message (booking changes only insert new messages), so this order cannot deadlock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, String, and_, bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from kit.pg import DriverConnections, DriverStatement
from services.booking.adapters import rows
from services.booking.adapters.sql import WRITE_OPTION
from services.booking.adapters.tables import bookings, outbox_messages
from services.booking.invites.model import InviteMethod, OutgoingMessage
from services.booking.invites.ports import OutboxRepository

o = outbox_messages.c
b = bookings.c
_UNSETTLED = and_(o.sent_at.is_(None), o.failed_at.is_(None))


class SqlOutboxRepository(OutboxRepository):
    """Each call is one short write transaction (no ORM session: this is the dispatcher's hot path,
    a few hundred settlements a second); see the module docstring for the settlements."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, postgres: bool, settlement_connections: int = 4
    ) -> None:
        """``settlement_connections``: PostgreSQL connections for settlements, one per dispatcher
        SMTP connection (each settles one message at a time); further callers wait for one."""
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._postgres = postgres
        self._driver: DriverConnections | None = None
        if postgres and self._engine.dialect.driver == "asyncpg":
            self._driver = DriverConnections(self._engine.url, size=max(1, settlement_connections))

    async def close(self) -> None:
        """Close the settlement connections (PostgreSQL); call at shutdown."""
        if self._driver is not None:
            await self._driver.close()

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
        await self._settle(_SENT, message_id, {"p_at": rows.utc(sent_at)})

    async def reschedule(self, message_id: str, next_attempt_at: datetime, error: str) -> None:
        await self._settle(_RESCHEDULED, message_id, {"p_next": rows.utc(next_attempt_at), "p_error": error[:1024]})

    async def mark_failed(self, message_id: str, error: str, failed_at: datetime) -> None:
        await self._settle(_FAILED, message_id, {"p_at": rows.utc(failed_at), "p_error": error[:1024]})

    async def _settle(self, settlement: _Settlement, message_id: str, params: dict[str, Any]) -> None:
        """Settle an unsettled message (settling one twice changes nothing) and, when it belongs to
        its booking's latest version, that booking's delivery — one atomic UPDATE on the booking row,
        evaluated against its newest version (concurrent settlements wait for each other on it)."""
        params["p_id"] = message_id
        if self._driver is not None:  # PostgreSQL on asyncpg: one statement, one round trip
            await self._driver.execute(settlement.postgres, params)
            return
        async with self._transaction() as db:
            settled = (await db.execute(settlement.message, params)).first()
            if settled is not None and settled.counts:
                params.update(p_booking=settled.booking_id, p_sequence=settled.sequence, p_attempts=settled.attempts)
                await db.execute(settlement.booking, params)


def _at_least(attempts: Any) -> Any:
    return case((b.dlv_attempts < attempts, attempts), else_=b.dlv_attempts)


# -- the three settlements, each built once with bound parameters (p_*) ------------------------
_AT = bindparam("p_at", type_=DateTime(timezone=True))
_NEXT = bindparam("p_next", type_=DateTime(timezone=True))
_ERROR = bindparam("p_error", type_=String)


def _sent_booking(attempts: Any) -> dict[str, Any]:
    delivered = and_(b.dlv_pending <= 1, b.dlv_state != "FAILED")  # the last outstanding message of the version
    return {
        "dlv_pending": b.dlv_pending - 1,
        "dlv_state": case((delivered, "DELIVERED"), else_=b.dlv_state),
        "dlv_deliver_time": case((delivered, _AT), else_=b.dlv_deliver_time),
        "dlv_last_error": case((delivered, ""), else_=b.dlv_last_error),
        "dlv_attempts": _at_least(attempts),
        "dlv_last_attempt_time": _AT,
    }


def _rescheduled_booking(attempts: Any) -> dict[str, Any]:
    failed = b.dlv_state == "FAILED"
    return {
        "dlv_state": case((failed, "FAILED"), else_="RETRYING"),
        "dlv_last_error": case((failed, b.dlv_last_error), else_=_ERROR),
        "dlv_attempts": _at_least(attempts),
    }


def _failed_booking(attempts: Any) -> dict[str, Any]:
    return {
        "dlv_pending": b.dlv_pending - 1,
        "dlv_state": "FAILED",
        "dlv_last_error": _ERROR,
        "dlv_attempts": _at_least(attempts),
        "dlv_last_attempt_time": _AT,
    }


class _Settlement:
    """One kind of settlement: the message row's new values and its booking's, as two statements
    (run in one transaction) and, for PostgreSQL, as one: the message update in a CTE feeding the
    booking update. Same locks in the same order (the message row, then the booking row)."""

    def __init__(self, message_values: dict[str, Any], booking_values: Callable[[Any], dict[str, Any]]) -> None:
        message = (
            update(outbox_messages)
            .where(o.message_id == bindparam("p_id"), _UNSETTLED)
            .values(attempts=o.attempts + 1, **message_values)
            .returning(o.booking_id, o.sequence, o.counts, o.attempts)
        )
        self.message = message
        self.booking = (
            update(bookings)
            .where(b.id == bindparam("p_booking"), b.dlv_sequence == bindparam("p_sequence"), _EMAIL_INVITE)
            .values(booking_values(bindparam("p_attempts", type_=Integer)))
        )
        settled = message.cte("settled")
        self.postgres = DriverStatement(
            update(bookings)
            .where(b.id == settled.c.booking_id, b.dlv_sequence == settled.c.sequence, _EMAIL_INVITE, settled.c.counts)
            .values(booking_values(settled.c.attempts))
        )


_EMAIL_INVITE = b.dlv_method == "EMAIL_INVITE"
_SENT = _Settlement({"sent_at": _AT, "next_attempt_at": None, "lease_until": None, "last_error": ""}, _sent_booking)
_RESCHEDULED = _Settlement({"next_attempt_at": _NEXT, "lease_until": None, "last_error": _ERROR}, _rescheduled_booking)
_FAILED = _Settlement({"failed_at": _AT, "next_attempt_at": None, "lease_until": None, "last_error": _ERROR},
                      _failed_booking)  # fmt: skip
