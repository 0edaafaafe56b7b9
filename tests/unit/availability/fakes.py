"""Hand-written fakes of the availability service's ports (no patching, no I/O)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kit.errors import FailedPrecondition, RendezvousError
from services.availability.domain.model import (
    AccessMode,
    AccountState,
    BookingBusy,
    CalendarRoute,
    ConnectionState,
    Credential,
    CredentialKind,
    MailboxBusy,
    Provider,
    Resolution,
    SourceFailure,
)
from services.availability.domain.rules import StoredRules
from services.availability.ports import RulesRepository, TokenRejected

GOOGLE_RW = CalendarRoute("conn-google", Provider.GOOGLE, AccessMode.READ_WRITE, "cred-google", ConnectionState.ACTIVE)
MICROSOFT_FB = CalendarRoute(
    "conn-ms", Provider.MICROSOFT, AccessMode.FREE_BUSY, "cred-ms", ConnectionState.ACTIVE
)
NO_ACCESS = CalendarRoute("conn-none", None, AccessMode.NO_ACCESS, "", ConnectionState.ACTIVE)


class FakeDirectory:
    """Routes emails by domain; ``accounts`` overrides an email's account state."""

    def __init__(self, routes: dict[str, CalendarRoute] | None = None) -> None:
        self.routes = dict(routes or {"northwind.example": GOOGLE_RW, "contoso.example": MICROSOFT_FB, "fabrikam.example": NO_ACCESS})
        self.accounts: dict[str, AccountState | None] = {}
        self.error: RendezvousError | None = None
        self.calls: list[tuple[str, str]] = []

    async def resolve(self, org_unit_id: str, email: str) -> Resolution:
        self.calls.append((org_unit_id, email))
        if self.error is not None:
            raise self.error
        route = self.routes.get(email.rsplit("@", 1)[-1])
        return Resolution(email, self.accounts.get(email, AccountState.ACTIVE if route else None), route)


class FakeIdentity:
    def __init__(self) -> None:
        self.kinds: dict[str, Credential] = {
            "cred-google": Credential("cred-google", CredentialKind.ORGANIZATION_WIDE, "admin@northwind.example"),
            "cred-ms": Credential("cred-ms", CredentialKind.ORGANIZATION_WIDE, "admin@contoso.example"),
        }
        self.errors: dict[str, RendezvousError] = {}
        self.token_calls: list[tuple[str, str]] = []
        self.rejected: list[str] = []  # rejected_access_token hints received
        self._refreshes: dict[tuple[str, str], int] = {}

    async def credential(self, org_unit_id: str, credential_id: str) -> Credential:
        return self.kinds[credential_id]

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        self.token_calls.append((credential_id, subject))
        if credential_id in self.errors:
            raise self.errors[credential_id]
        key = (credential_id, subject)
        current = self._token(key)
        if rejected:
            self.rejected.append(rejected)
            if rejected == current:  # as identity does: refresh only when the current token is refused
                self._refreshes[key] = self._refreshes.get(key, 0) + 1
        return self._token(key)

    def _token(self, key: tuple[str, str]) -> str:
        refreshes = self._refreshes.get(key, 0)
        return f"token:{key[0]}:{key[1]}" + (f":{refreshes}" if refreshes else "")


class FakeBookings:
    def __init__(self) -> None:
        self.periods: list[BookingBusy] = []
        self.error: RendezvousError | None = None
        self.calls: list[tuple[str, tuple[str, ...], tuple[int, int]]] = []

    async def busy_periods(self, org_unit_id: str, emails: Sequence[str], window: tuple[int, int]) -> list[BookingBusy]:
        self.calls.append((org_unit_id, tuple(emails), window))
        if self.error is not None:
            raise self.error
        return [p for p in self.periods if p.email in emails and p.start < window[1] and p.end > window[0]]


@dataclass
class CalendarCall:
    provider: Provider
    token: str
    mailbox: str
    emails: tuple[str, ...]
    window: tuple[int, int]


@dataclass
class FakeCalendars:
    """Answers per email (default: free all the time); ``delay`` seconds per call; ``error`` raises."""

    answers: dict[str, MailboxBusy | SourceFailure] = field(default_factory=dict)
    delay: float = 0.0
    error: RendezvousError | None = None
    calls: list[CalendarCall] = field(default_factory=list)
    refused_tokens: set[str] = field(default_factory=set)  # answered 401

    async def read(
        self, provider: Provider, token: str, mailbox: str, emails: Sequence[str], window: tuple[int, int]
    ) -> dict[str, MailboxBusy | SourceFailure]:
        self.calls.append(CalendarCall(provider, token, mailbox, tuple(emails), window))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        if token in self.refused_tokens:
            raise TokenRejected(FailedPrecondition("401 from the provider", reason="PROVIDER_REJECTED",
                                                   metadata={"http_status": "401"}))  # fmt: skip
        return {e: self.answers.get(e, MailboxBusy()) for e in emails}


class FakeRules:
    def __init__(self, rows: dict[tuple[str, str], StoredRules]) -> None:
        self.rows = rows

    async def get(self, org_unit_id: str, email: str) -> StoredRules | None:
        return self.rows.get((org_unit_id, email))

    async def get_many(self, org_unit_id: str, emails: Sequence[str]) -> dict[str, StoredRules]:
        return {e: r for e in emails if (r := self.rows.get((org_unit_id, e))) is not None}

    async def put(self, rules: StoredRules) -> None:
        self.rows[(rules.org_unit_id, rules.email)] = replace(rules)

    async def delete(self, org_unit_id: str, email: str) -> bool:
        return self.rows.pop((org_unit_id, email), None) is not None


class FakeUnitOfWork:
    """Changes become visible to the next unit of work only when committed."""

    rules: RulesRepository

    def __init__(self) -> None:
        self.committed: dict[tuple[str, str], StoredRules] = {}
        self.commits = 0
        self.rules = FakeRules({})

    def __call__(self) -> FakeUnitOfWork:
        return self

    async def __aenter__(self) -> FakeUnitOfWork:
        self.rules = FakeRules(dict(self.committed))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def commit(self) -> None:
        assert isinstance(self.rules, FakeRules)
        self.committed = dict(self.rules.rows)
        self.commits += 1


class Ticker:
    """A monotonic clock for the cache that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
