"""Use cases of the availability service (the business rules live here and in the domain)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kit.clock import Clock
from kit.errors import FailedPrecondition, NotFound
from kit.validation import email_domain
from services.availability.domain import intervals
from services.availability.domain.checks import Checks
from services.availability.domain.engine import Answer, evaluate, search_window
from services.availability.domain.model import BusyPeriod, BusyStatus, MemberDiagnostics, Source
from services.availability.domain.query import (
    QueryInput,
    TimeRangeInput,
    check_email,
    parse_query,
    parse_window,
)
from services.availability.domain.rules import RulesInput, StoredRules, available_spans, parse_rules
from services.availability.ports import Directory, UnitOfWorkFactory
from services.availability.sources import MemberSources, SourceReader


@dataclass(frozen=True)
class QueryOutcome:
    answer: Answer
    diagnostics: tuple[MemberDiagnostics, ...]


@dataclass(frozen=True)
class FreeBusyOutcome:
    periods: tuple[BusyPeriod, ...]
    diagnostics: MemberDiagnostics


def _check_org(checks: Checks, org_unit_id: str) -> None:
    checks.check(bool(org_unit_id), "org_unit_id", "is required")


class RulesUseCases:
    """Set, read and delete a person's availability rules."""

    def __init__(self, uow: UnitOfWorkFactory, directory: Directory, clock: Clock) -> None:
        self._uow = uow
        self._directory = directory
        self._clock = clock

    async def set(self, org_unit_id: str, email: str, raw: RulesInput | None) -> StoredRules:
        """Replace the rules as a whole. The email's domain must be served by a calendar connection of
        the unit (else FAILED_PRECONDITION, EMAIL_DOMAIN_NOT_SERVED); nothing is written on bad input."""
        checks = Checks()
        _check_org(checks, org_unit_id)
        address = _email(checks, email)
        rules = None
        if raw is None:
            checks.add("rules", "is required")
        else:
            rules = parse_rules(raw, checks)
        checks.raise_if_any()
        assert rules is not None
        resolution = await self._directory.resolve(org_unit_id, address)
        if resolution.route is None:
            raise FailedPrecondition(
                f"no calendar connection of the unit serves {email_domain(address)}",
                reason="EMAIL_DOMAIN_NOT_SERVED",
                metadata={"email": address, "domain": email_domain(address)},
            )
        async with self._uow() as uow:
            now = self._clock.now()
            previous = await uow.rules.get(org_unit_id, address)
            stored = StoredRules(org_unit_id, address, rules, previous.create_time if previous else now, now)
            await uow.rules.put(stored)
            await uow.commit()
        return stored

    async def get(self, org_unit_id: str, email: str) -> StoredRules:
        """The stored rules; none is NOT_FOUND (AVAILABILITY_RULES_NOT_FOUND), meaning no restriction."""
        address = self._key(org_unit_id, email)
        async with self._uow() as uow:
            stored = await uow.rules.get(org_unit_id, address)
        if stored is None:
            raise NotFound(
                f"no availability rules are stored for {address}",
                reason="AVAILABILITY_RULES_NOT_FOUND",
                metadata={"email": address},
            )
        return stored

    async def delete(self, org_unit_id: str, email: str) -> bool:
        """Remove the rules (idempotent); True when there were some."""
        address = self._key(org_unit_id, email)
        async with self._uow() as uow:
            deleted = await uow.rules.delete(org_unit_id, address)
            await uow.commit()
        return deleted

    @staticmethod
    def _key(org_unit_id: str, email: str) -> str:
        checks = Checks()
        _check_org(checks, org_unit_id)
        address = _email(checks, email)
        checks.raise_if_any()
        return address


class AvailabilityUseCases:
    """QueryAvailability and GetFreeBusy over the sources each member's access mode allows."""

    def __init__(self, sources: SourceReader) -> None:
        self._sources = sources

    async def query(self, org_unit_id: str, raw: QueryInput) -> QueryOutcome:
        """Times when every participant group is satisfied, each naming the members free for it.

        Members whose status is not OK (unknown domain or account, a source that failed) are never
        free: an ALL group containing one yields nothing, and they count as busy in N-of-M groups.
        """
        if not org_unit_id:
            checks = Checks()
            _check_org(checks, org_unit_id)
            checks.raise_if_any()
        parsed = parse_query(raw)
        window = search_window(parsed.query)
        read = await self._sources.read(org_unit_id, parsed.emails, window, parsed.exclude_booking_ids)
        busy: dict[str, list[tuple[int, int]]] = {}
        rules = {}
        for email, member in read.items():
            if member.ok:
                busy[email] = [(b.start, b.end) for b in member.provider]
                busy[email].extend((b.start, b.end) for b in member.bookings)
                rules[email] = member.rules.rules if member.rules else None
        answer = evaluate(parsed.query, parsed.groups, busy, rules)
        return QueryOutcome(answer, tuple(read[e].diagnostics for e in sorted(read)))

    async def free_busy(self, org_unit_id: str, email: str, raw_window: TimeRangeInput | None) -> FreeBusyOutcome:
        """One person's busy periods in the window, tagged by source; failing sources go to diagnostics."""
        checks = Checks()
        _check_org(checks, org_unit_id)
        address = _email(checks, email)
        checks.raise_if_any()
        window = parse_window(raw_window)
        member = (await self._sources.read(org_unit_id, [address], window))[address]
        return FreeBusyOutcome(tuple(busy_periods(member, window)), member.diagnostics)


def busy_periods(member: MemberSources, window: tuple[int, int]) -> list[BusyPeriod]:
    """Provider periods merged per status, one period per booking, time outside the rules; clipped."""
    lo, hi = window
    out: list[BusyPeriod] = []
    by_status: dict[BusyStatus, list[tuple[int, int]]] = defaultdict(list)
    for item in member.provider:
        by_status[item.status].append((item.start, item.end))
    for status, pairs in by_status.items():
        merged = intervals.clip(intervals.from_pairs(pairs), lo, hi)
        out.extend(BusyPeriod(s, e, Source.PROVIDER_FREE_BUSY, status) for s, e in merged.pairs())
    for booking in member.bookings:
        start, end = max(booking.start, lo), min(booking.end, hi)
        if start < end:
            out.append(BusyPeriod(start, end, Source.BOOKINGS, BusyStatus.BUSY, booking.booking_id))
    if member.rules is not None:
        outside = intervals.complement(available_spans(member.rules.rules, lo, hi), lo, hi)
        out.extend(BusyPeriod(s, e, Source.AVAILABILITY_RULES, BusyStatus.BUSY) for s, e in outside.pairs())
    out.sort(key=lambda p: (p.start, p.end, p.source.value, p.status.value, p.booking_id))
    return out


def _email(checks: Checks, email: str) -> str:
    return check_email(checks, "email", email)
