"""What every booking use case shares: its dependencies, retry policy and common errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kit.clock import Clock, IdGenerator
from kit.errors import NotFound
from services.booking.ports import (
    Availability,
    CalendarEvents,
    ConferencingMeetings,
    Directory,
    Identity,
    InviteComposer,
    UnitOfWorkFactory,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff for provider work after the booking decision."""

    conferencing_inline_attempts: int = 2  # tries before the booking commits (then in the background)
    conferencing_max_attempts: int = 6
    delivery_max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    lease_seconds: float = 60.0

    def backoff(self, attempt: int) -> timedelta:
        """Wait before attempt ``attempt + 1`` (attempt counts from 1)."""
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1)))


@dataclass
class Deps:
    uow: UnitOfWorkFactory
    identity: Identity
    directory: Directory
    availability: Availability
    events: CalendarEvents
    meetings: ConferencingMeetings
    composer: InviteComposer
    clock: Clock
    ids: IdGenerator
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    mail_queued: Callable[[], None] = lambda: None  # wakes the outbox dispatcher after a commit

    def now(self) -> datetime:
        return self.clock.now()


def booking_not_found(booking_id: str) -> NotFound:
    return NotFound(
        f"booking {booking_id!r} does not exist", reason="BOOKING_NOT_FOUND", metadata={"booking_id": booking_id}
    )
