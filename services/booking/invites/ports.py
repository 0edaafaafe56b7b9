"""Ports of the mail side: the outbox repository (the core implements it on the database) and
the mail transport (``adapters.smtp`` implements it over SMTP).

Outbox life of one message (``OutgoingMessage.message_id`` is the key)::

    stored (due now) ──lease_due──▶ leased ──send ok──▶ mark_sent (final)
                          ▲            ├─ transient ──▶ reschedule(next_attempt_at, error) ─┐
                          ├────────────┼────────────────────────────────────────────────────┘
                          │            ├─ permanent ──▶ mark_failed (final)
                          └────────────┴─ not tried ──▶ release (stopping / lease nearly over)

A lease that is never settled (the process died) simply expires and the message is due again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from services.booking.invites.model import OutgoingMessage


class OutboxRepository(Protocol):
    """Durable outbox of mail, shared by every replica of the booking service.

    Each call is its own short transaction (the dispatcher never holds one across SMTP).
    """

    async def lease_due(self, limit: int, lease_seconds: float, now: datetime) -> list[OutgoingMessage]:
        """Claim up to ``limit`` unsent, unfailed messages with ``next_attempt_at <= now`` whose lease
        is free or expired, oldest first; hold them until ``now + lease_seconds`` so no other caller
        gets them meanwhile (PostgreSQL: ``FOR UPDATE SKIP LOCKED``). ``attempts`` = attempts so far."""
        ...

    async def mark_sent(self, message_id: str, sent_at: datetime) -> None:
        """The mail server accepted the message: never lease it again. Idempotent."""
        ...

    async def reschedule(self, message_id: str, next_attempt_at: datetime, error: str) -> None:
        """A transient failure: count the attempt, record ``error``, release the lease, due again at
        ``next_attempt_at``."""
        ...

    async def mark_failed(self, message_id: str, error: str, failed_at: datetime) -> None:
        """A permanent failure: count the attempt, record ``error``, never lease it again."""
        ...

    async def release(self, message_ids: Sequence[str]) -> None:
        """Give back leases of messages that were not attempted (stopping, lease nearly over): due
        again at once, attempts unchanged. Ids already settled are left alone."""
        ...


class MailDeliveryError(Exception):
    """Handing a message to the mail server failed.

        MailDeliveryError
        ├── TransientDeliveryError   retry later: connection refused/reset/timeout, SMTP 4xx
        └── PermanentDeliveryError   do not retry: SMTP 5xx (recipient or message refused)

    ``code`` is the SMTP reply code when there was one (0 otherwise).
    """

    def __init__(self, message: str, *, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class TransientDeliveryError(MailDeliveryError):
    pass


class PermanentDeliveryError(MailDeliveryError):
    pass


class MailSession(Protocol):
    """One open connection to the mail server; messages are sent one by one over it."""

    async def send(
        self, sender: str, recipient: str, raw: bytes, *, ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Deliver ``raw`` to ``recipient`` with envelope ``sender``; return once the server accepted
        it (250 after DATA). Raises ``TransientDeliveryError`` or ``PermanentDeliveryError``; after a
        transient error the session may be unusable and the caller opens a new one.

        ``ready``, when given, is awaited after the envelope and the content went out and before the
        end of the data — the moment the server takes the message. The caller does other work
        meanwhile (the outbox records the previous message as sent). When ``ready`` raises, the
        session abandons the transaction so the server never accepts the message, and re-raises."""
        ...


class MailTransport(Protocol):
    """Opens sessions with the mail server (raises ``TransientDeliveryError`` when it cannot)."""

    def session(self) -> AbstractAsyncContextManager[MailSession]: ...
