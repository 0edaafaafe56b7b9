"""Ports of the availability service: what the use cases need from the outside world.

Outbound peers (directory, identity, booking) raise ``kit.errors`` errors with the peer's reason
(``Unavailable`` with DEPENDENCY_UNAVAILABLE when the peer failed or timed out).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from services.availability.domain.model import (
    BookingBusy,
    Credential,
    MailboxBusy,
    Provider,
    Resolution,
    SourceFailure,
)
from services.availability.domain.rules import StoredRules


class TokenRejected(Exception):
    """The provider refused the access token (HTTP 401). ``error`` is what to report if a fresh
    token is refused too."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Directory(Protocol):
    """Directory's ``ResolveAccount``: the account and calendar route of an email."""

    async def resolve(self, org_unit_id: str, email: str) -> Resolution: ...


class Identity(Protocol):
    """Identity's credentials: what a credential is (cacheable) and fresh access tokens for it."""

    async def credential(self, org_unit_id: str, credential_id: str) -> Credential: ...

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        """A bearer token; ``subject`` is the user an organization-wide credential acts for.
        ``rejected``: a token the provider refused, so identity hands out another (it refreshes
        once if that is still the current one)."""
        ...


class Bookings(Protocol):
    """Booking's ``ListBusyPeriods``: time confirmed bookings hold for some emails (every page)."""

    async def busy_periods(self, org_unit_id: str, emails: Sequence[str], window: tuple[int, int]) -> list[BookingBusy]: ...


class CalendarFreeBusy(Protocol):
    """Provider free/busy for several mailboxes of one connection with one token.

    Answers every email: its blocking items (busy, tentative, out of office — never free,
    working-elsewhere, declined, cancelled or transparent ones), or why they are unknown
    (``MAILBOX_NOT_FOUND`` when the provider knows no such mailbox). ``mailbox`` is the calendar the
    question is asked through (Graph ``/users/{mailbox}/calendar/getSchedule``). Raises
    ``TokenRejected`` when the provider refuses the token itself (401).
    """

    async def read(
        self, provider: Provider, token: str, mailbox: str, emails: Sequence[str], window: tuple[int, int]
    ) -> dict[str, MailboxBusy | SourceFailure]: ...


class RulesRepository(Protocol):
    """Stores availability rules, one set per (unit, email)."""

    async def get(self, org_unit_id: str, email: str) -> StoredRules | None: ...
    async def get_many(self, org_unit_id: str, emails: Sequence[str]) -> dict[str, StoredRules]: ...
    async def put(self, rules: StoredRules) -> None: ...
    async def delete(self, org_unit_id: str, email: str) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction over the availability database; rolls back unless committed."""

    rules: RulesRepository

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class Monotonic(Protocol):
    """Seconds from an arbitrary origin that never go backwards (cache expiry)."""

    def __call__(self) -> float: ...
