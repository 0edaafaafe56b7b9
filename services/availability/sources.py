"""Reading every source a member's availability needs, by the access mode of their calendar.

    READ_WRITE, FREE_BUSY   provider free/busy + Rendezvous bookings + availability rules
    NO_ACCESS               Rendezvous bookings + availability rules (no provider is read at all)

Members are resolved through directory (all at once), then one provider read per calendar connection
(batched inside the provider's limits by ``CalendarFreeBusy``) and one bookings read run concurrently.
A source that cannot be read never counts as free time: the member becomes UNAVAILABLE with the
reason, or UNKNOWN_ACCOUNT when the provider knows no such mailbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from kit.errors import RendezvousError
from kit.tokens import with_replaced_token
from services.availability.cache import FreeBusyCache
from services.availability.domain.model import (
    MAILBOX_NOT_FOUND,
    AccountState,
    BookingBusy,
    CalendarRoute,
    ConnectionState,
    CredentialKind,
    MailboxBusy,
    MemberDiagnostics,
    MemberStatus,
    Provider,
    ProviderBusy,
    Resolution,
    Source,
    SourceFailure,
)
from services.availability.domain.rules import StoredRules
from services.availability.ports import (
    Bookings,
    CalendarFreeBusy,
    Directory,
    Identity,
    TokenRejected,
    UnitOfWorkFactory,
)

T = TypeVar("T")
log = logging.getLogger("rendezvous.availability")
Answer = MailboxBusy | SourceFailure


@dataclass(frozen=True)
class MemberSources:
    """What was read for one member, and the diagnostics saying so."""

    diagnostics: MemberDiagnostics
    provider: tuple[ProviderBusy, ...] = ()
    bookings: tuple[BookingBusy, ...] = ()
    rules: StoredRules | None = None

    @property
    def ok(self) -> bool:
        return self.diagnostics.status is MemberStatus.OK


@dataclass
class _Member:
    resolution: Resolution
    failures: list[SourceFailure] = field(default_factory=list)
    provider: Answer | None = None


class SourceReader:
    """Reads the sources of many members at once; see the module docstring."""

    def __init__(
        self,
        directory: Directory,
        identity: Identity,
        bookings: Bookings,
        calendars: CalendarFreeBusy,
        uow: UnitOfWorkFactory,
        cache: FreeBusyCache,
        provider_timeout: float,
    ) -> None:
        self._directory = directory
        self._identity = identity
        self._bookings = bookings
        self._calendars = calendars
        self._uow = uow
        self._cache = cache
        self._provider_timeout = provider_timeout

    async def read(
        self,
        org_unit_id: str,
        emails: Sequence[str],
        window: tuple[int, int],
        exclude_booking_ids: frozenset[str] = frozenset(),
    ) -> dict[str, MemberSources]:
        """Sources of every email (lower case, distinct) over ``window`` (epoch seconds)."""
        # The rules read overlaps everything else; only the assembly at the end waits for it.
        stored_rules = asyncio.ensure_future(self._stored_rules(org_unit_id, emails))
        try:
            resolutions = await _all(*(self._directory.resolve(org_unit_id, e) for e in emails))
        except BaseException:
            stored_rules.cancel()
            await asyncio.gather(stored_rules, return_exceptions=True)
            raise
        members = {r.email: _Member(r) for r in resolutions}
        routed = [e for e in emails if _schedulable(members[e].resolution)]
        by_connection: dict[str, list[str]] = {}
        for email in routed:
            route = members[email].resolution.route
            assert route is not None
            if not route.access_mode.reads_provider:
                continue
            problem = _route_problem(route)
            if problem is not None:
                members[email].failures.append(problem)
            else:
                by_connection.setdefault(route.connection_id, []).append(email)

        reads: list[Awaitable[dict[str, Answer]]] = []
        for group in by_connection.values():
            route = members[group[0]].resolution.route
            assert route is not None
            reads.append(self._provider(org_unit_id, route, group, window))
        booked, answers, stored = await asyncio.gather(
            self._booked(org_unit_id, routed, window), asyncio.gather(*reads), stored_rules
        )
        for answer in answers:
            for email, found in answer.items():
                members[email].provider = found

        result: dict[str, MemberSources] = {}
        for email in emails:
            member = members[email]
            if isinstance(booked, SourceFailure) and email in routed:
                member.failures.append(booked)
            bookings = () if isinstance(booked, SourceFailure) else tuple(
                b for b in booked.get(email, ()) if b.booking_id not in exclude_booking_ids
            )
            result[email] = self._assemble(member, bookings, stored.get(email))
        return result

    async def _stored_rules(self, org_unit_id: str, emails: Sequence[str]) -> dict[str, StoredRules]:
        async with self._uow() as uow:
            return await uow.rules.get_many(org_unit_id, emails)

    async def _booked(
        self, org_unit_id: str, emails: Sequence[str], window: tuple[int, int]
    ) -> dict[str, list[BookingBusy]] | SourceFailure:
        if not emails:
            return {}
        try:
            periods = await self._bookings.busy_periods(org_unit_id, emails, window)
        except RendezvousError as exc:
            return SourceFailure(Source.BOOKINGS, exc.reason, exc.message)
        by_email: dict[str, list[BookingBusy]] = {}
        for period in periods:
            by_email.setdefault(period.email, []).append(period)
        return by_email

    async def _provider(
        self, org_unit_id: str, route: CalendarRoute, emails: list[str], window: tuple[int, int]
    ) -> dict[str, Answer]:
        answers: dict[str, Answer] = {}
        misses = []
        for email in emails:
            hit = self._cache.get(route.credential_id, email, window)
            if hit is None:
                misses.append(email)
            else:
                answers[email] = hit
        if not misses:
            return answers
        try:
            async with asyncio.timeout(self._provider_timeout):
                fetched = await self._fetch(org_unit_id, route, misses, window)
        except TimeoutError:
            name = route.provider.name.title() if route.provider else "the provider"
            timed_out = SourceFailure(
                Source.PROVIDER_FREE_BUSY,
                "PROVIDER_UNAVAILABLE",
                f"{name} free/busy did not answer within {self._provider_timeout:g} s",
            )
            fetched = dict.fromkeys(misses, timed_out)
        except RendezvousError as exc:
            fetched = dict.fromkeys(misses, SourceFailure(Source.PROVIDER_FREE_BUSY, exc.reason, exc.message))
        reasons = sorted({f.reason for f in fetched.values() if isinstance(f, SourceFailure)})
        if reasons:
            log.warning(
                "provider free/busy incomplete",
                extra={"calendar_connection_id": route.connection_id, "reasons": reasons, "members": len(misses)},
            )
        for email in misses:
            found = fetched.get(email)
            if found is None:
                found = SourceFailure(Source.PROVIDER_FREE_BUSY, "PROVIDER_UNAVAILABLE", "the provider did not answer for it")
            elif isinstance(found, MailboxBusy):
                self._cache.put(route.credential_id, email, window, found)
            answers[email] = found
        return answers

    async def _fetch(
        self, org_unit_id: str, route: CalendarRoute, emails: list[str], window: tuple[int, int]
    ) -> dict[str, Answer]:
        """One token for the connection's credential, then one provider read for every email.

        Organization-wide credentials act as a member of the batch: Google domain-wide delegation
        takes them as the subject (any user of the domain sees colleagues' free/busy), Microsoft app
        tokens are tenant-wide and ask through that member's calendar. A user's own credential asks
        as that user. A token the provider refuses (revoked or expired early) is handed back to
        identity as ``rejected`` and the read tried once more with the one it returns.
        """
        assert route.provider is not None
        credential = await self._identity.credential(org_unit_id, route.credential_id)
        first = emails[0]
        org_wide = credential.kind is CredentialKind.ORGANIZATION_WIDE
        if route.provider is Provider.GOOGLE:
            subject, mailbox = (first if org_wide else ""), first
        else:
            subject = ""
            mailbox = first if org_wide or not credential.subject_email else credential.subject_email
        provider = route.provider

        def token(rejected: str) -> Awaitable[str]:
            return self._identity.access_token(org_unit_id, route.credential_id, subject, rejected=rejected)

        try:
            return await with_replaced_token(
                token, lambda access: self._calendars.read(provider, access, mailbox, emails, window), TokenRejected
            )
        except TokenRejected as refused:
            raise refused.error from None

    @staticmethod
    def _assemble(member: _Member, bookings: tuple[BookingBusy, ...], rules: StoredRules | None) -> MemberSources:
        resolution = member.resolution
        route = resolution.route
        if route is None:
            return MemberSources(MemberDiagnostics(resolution.email, MemberStatus.UNKNOWN_DOMAIN))
        base = MemberDiagnostics(
            resolution.email,
            MemberStatus.UNKNOWN_ACCOUNT,
            access_mode=route.access_mode,
            provider=route.provider if route.access_mode.reads_provider else None,
            connection_id=route.connection_id,
        )
        if not _schedulable(resolution):
            return MemberSources(base)
        failures = list(member.failures)
        used: list[Source] = []
        provider: tuple[ProviderBusy, ...] = ()
        if isinstance(member.provider, MailboxBusy):
            used.append(Source.PROVIDER_FREE_BUSY)
            provider = member.provider.items
        elif isinstance(member.provider, SourceFailure):
            failures.append(member.provider)
        if not any(f.source is Source.BOOKINGS for f in failures):
            used.append(Source.BOOKINGS)
        used.append(Source.AVAILABILITY_RULES)
        failures.sort(key=lambda f: f.source.value)
        if any(f.reason == MAILBOX_NOT_FOUND for f in failures):
            status = MemberStatus.UNKNOWN_ACCOUNT
        else:
            status = MemberStatus.UNAVAILABLE if failures else MemberStatus.OK
        diagnostics = replace(base, status=status, sources_used=tuple(used), failures=tuple(failures))
        return MemberSources(diagnostics, provider, bookings, rules)


def _schedulable(resolution: Resolution) -> bool:
    """Served by a calendar connection and not a suspended or deactivated account."""
    return resolution.route is not None and resolution.account_state in (None, AccountState.ACTIVE)


def _route_problem(route: CalendarRoute) -> SourceFailure | None:
    if route.state is ConnectionState.NEEDS_REAUTHORIZATION:
        return SourceFailure(
            Source.PROVIDER_FREE_BUSY,
            "CREDENTIAL_NEEDS_REAUTHORIZATION",
            f"calendar connection {route.connection_id} needs a new authorization",
        )
    if route.state is not ConnectionState.ACTIVE or route.provider is None or not route.credential_id:
        return SourceFailure(
            Source.PROVIDER_FREE_BUSY,
            "CONNECTION_NOT_ACTIVE",
            f"calendar connection {route.connection_id} is {route.state.name}",
        )
    return None


async def _all(*aws: Awaitable[T]) -> list[T]:
    """Await everything, then raise the first error (no task is left running unobserved)."""
    results = await asyncio.gather(*aws, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)  # type: ignore[arg-type]
