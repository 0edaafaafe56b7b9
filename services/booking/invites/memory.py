"""An in-memory ``OutboxRepository``: for unit and integration tests and the outbox benchmark.

Same contract as the database implementation (see ``ports.OutboxRepository``); every method runs
without awaiting, so concurrent tasks on one event loop see each call as atomic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.booking.invites.model import OutgoingMessage


class OutboxState(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


@dataclass
class OutboxRow:
    message: OutgoingMessage
    state: OutboxState
    next_attempt_at: datetime
    created_at: datetime
    lease_until: datetime | None = None
    attempts: int = 0
    last_error: str = ""
    sent_at: datetime | None = None


class InMemoryOutbox:
    def __init__(self) -> None:
        self.rows: dict[str, OutboxRow] = {}
        self.lease_calls = 0

    def add(self, messages: Iterable[OutgoingMessage], *, at: datetime) -> None:
        """Queue messages, due at ``at`` (what the use case does in its transaction)."""
        for m in messages:
            if m.message_id in self.rows:
                raise ValueError(f"duplicate message id {m.message_id}")
            self.rows[m.message_id] = OutboxRow(m, OutboxState.PENDING, next_attempt_at=at, created_at=at)

    async def lease_due(self, limit: int, lease_seconds: float, now: datetime) -> list[OutgoingMessage]:
        self.lease_calls += 1
        due = [
            r
            for r in self.rows.values()
            if r.state is OutboxState.PENDING
            and r.next_attempt_at <= now
            and (r.lease_until is None or r.lease_until <= now)
        ]
        due.sort(key=lambda r: (r.next_attempt_at, r.created_at))
        leased = due[:limit]
        for r in leased:
            r.lease_until = now + timedelta(seconds=lease_seconds)
        return [replace(r.message, attempts=r.attempts) for r in leased]

    async def mark_sent(self, message_id: str, sent_at: datetime) -> None:
        row = self.rows[message_id]
        row.state, row.sent_at, row.lease_until, row.last_error = OutboxState.SENT, sent_at, None, ""
        row.attempts += 1

    async def reschedule(self, message_id: str, next_attempt_at: datetime, error: str) -> None:
        row = self.rows[message_id]
        if row.state is not OutboxState.PENDING:
            return
        row.attempts += 1
        row.next_attempt_at, row.last_error, row.lease_until = next_attempt_at, error, None

    async def mark_failed(self, message_id: str, error: str, failed_at: datetime) -> None:
        row = self.rows[message_id]
        if row.state is not OutboxState.PENDING:
            return
        row.attempts += 1
        row.state, row.last_error, row.lease_until = OutboxState.FAILED, error, None

    async def release(self, message_ids: Sequence[str]) -> None:
        for message_id in message_ids:
            row = self.rows[message_id]
            if row.state is OutboxState.PENDING:
                row.lease_until = None

    def in_state(self, state: OutboxState) -> list[OutboxRow]:
        return [r for r in self.rows.values() if r.state is state]
