"""Availability use cases on fakes: sources by access mode, failures, groups, rules, GetFreeBusy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from kit.clock import FixedClock
from kit.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from services.availability.cache import FreeBusyCache
from services.availability.domain.model import (
    MAILBOX_NOT_FOUND,
    AccountState,
    BookingBusy,
    BusyStatus,
    ConnectionState,
    Credential,
    CredentialKind,
    MailboxBusy,
    MemberStatus,
    Provider,
    ProviderBusy,
    Source,
    SourceFailure,
)
from services.availability.domain.query import GroupInput, Instant, Length, QueryInput, TimeRangeInput
from services.availability.domain.rules import LocalTime, RulesInput, WeeklyPeriodInput
from services.availability.sources import SourceReader
from services.availability.usecases import AvailabilityUseCases, RulesUseCases

from .fakes import GOOGLE_RW, FakeBookings, FakeCalendars, FakeDirectory, FakeIdentity, FakeUnitOfWork, Ticker

ORG = "org-1"
T0 = int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp())  # Monday 09:00 UTC
MIN = 60
HOUR = 3600
ADA, ALAN, GRACE = "ada@northwind.example", "alan@northwind.example", "grace@northwind.example"
MEGAN, ADELE = "megan@contoso.example", "adele@contoso.example"
PATTI = "patti@fabrikam.example"
STRANGER = "who@elsewhere.example"


@dataclass
class World:
    directory: FakeDirectory
    identity: FakeIdentity
    bookings: FakeBookings
    calendars: FakeCalendars
    uow: FakeUnitOfWork
    ticker: Ticker
    rules: RulesUseCases
    availability: AvailabilityUseCases


@pytest.fixture
def world() -> World:
    directory, identity, bookings, calendars, uow, ticker = (
        FakeDirectory(), FakeIdentity(), FakeBookings(), FakeCalendars(), FakeUnitOfWork(), Ticker()
    )
    reader = SourceReader(directory, identity, bookings, calendars, uow, FreeBusyCache(30, ticker), provider_timeout=0.2)
    clock = FixedClock(datetime(2026, 3, 1, tzinfo=UTC))
    return World(
        directory, identity, bookings, calendars, uow, ticker,
        RulesUseCases(uow, directory, clock), AvailabilityUseCases(reader),
    )  # fmt: skip


def query(*groups: tuple[tuple[str, ...], int], hours: int = 3, fmt: int = 1, **extra) -> QueryInput:
    return QueryInput(
        groups=tuple(GroupInput(emails, n) for emails, n in groups),
        periods=(TimeRangeInput(Instant(T0), Instant(T0 + hours * HOUR)),),
        duration=Length(30 * MIN),
        response_format=fmt,
        **extra,
    )


def spans(outcome) -> list[tuple[int, int]]:
    return [((r.start - T0) // MIN, (r.end - T0) // MIN) for r in outcome.answer.results]


def diag(outcome, email):
    return next(d for d in outcome.diagnostics if d.email == email)


def busy(*items: tuple[int, int, BusyStatus]) -> MailboxBusy:
    return MailboxBusy(tuple(ProviderBusy(T0 + s * MIN, T0 + e * MIN, status) for s, e, status in items))


# ---------------------------------------------------------------------------------- semantics
async def test_busy_tentative_and_out_of_office_items_all_block(world):
    world.calendars.answers[ADA] = busy(
        (0, 30, BusyStatus.BUSY), (60, 90, BusyStatus.TENTATIVE), (120, 150, BusyStatus.OUT_OF_OFFICE)
    )
    outcome = await world.availability.query(ORG, query(((ADA,), 0)))
    assert spans(outcome) == [(30, 60), (90, 120), (150, 180)]


async def test_a_read_write_member_is_read_from_the_provider_bookings_and_rules(world):
    outcome = await world.availability.query(ORG, query(((ADA,), 0)))
    d = diag(outcome, ADA)
    assert d.status is MemberStatus.OK
    assert d.sources_used == (Source.PROVIDER_FREE_BUSY, Source.BOOKINGS, Source.AVAILABILITY_RULES)
    assert (d.provider, d.connection_id) == (Provider.GOOGLE, "conn-google")
    assert [c.provider for c in world.calendars.calls] == [Provider.GOOGLE]
    assert world.bookings.calls[0][1] == (ADA,)


async def test_no_access_reads_no_provider_only_rules_and_rendezvous_bookings(world):
    await world.rules.set(ORG, PATTI, RulesInput("UTC", tuple(WeeklyPeriodInput(d, LocalTime(9, 0), LocalTime(11, 0)) for d in range(1, 8))))
    world.bookings.periods.append(BookingBusy(PATTI, T0 + 30 * MIN, T0 + 60 * MIN, "bk-1"))
    outcome = await world.availability.query(ORG, query(((PATTI,), 0), fmt=2))
    assert world.calendars.calls == [] and world.identity.token_calls == []
    d = diag(outcome, PATTI)
    assert (d.status, d.provider, d.sources_used) == (MemberStatus.OK, None, (Source.BOOKINGS, Source.AVAILABILITY_RULES))
    assert spans(outcome) == [(0, 30), (60, 90), (90, 120)]  # rules end at 11:00, the booking holds 09:30-10:00


async def test_a_member_of_an_unknown_domain_is_reported_and_never_free(world):
    outcome = await world.availability.query(ORG, query(((ADA, STRANGER), 0)))
    assert diag(outcome, STRANGER).status is MemberStatus.UNKNOWN_DOMAIN
    assert diag(outcome, STRANGER).access_mode is None
    assert outcome.answer.results == ()
    either = await world.availability.query(ORG, query(((ADA, STRANGER), 1)))
    assert {r.members for r in either.answer.results} == {(ADA,)}


async def test_a_member_whose_provider_fails_is_unavailable_with_the_reason_and_never_free(world):
    world.calendars.error = Unavailable("google: HTTP 503", reason="PROVIDER_UNAVAILABLE")
    outcome = await world.availability.query(ORG, query(((ADA, PATTI), 0)))
    d = diag(outcome, ADA)
    assert d.status is MemberStatus.UNAVAILABLE
    assert d.failures == (SourceFailure(Source.PROVIDER_FREE_BUSY, "PROVIDER_UNAVAILABLE", "google: HTTP 503"),)
    assert Source.PROVIDER_FREE_BUSY not in d.sources_used
    assert outcome.answer.results == ()  # an ALL group containing them yields nothing
    assert diag(outcome, PATTI).status is MemberStatus.OK


async def test_a_member_whose_provider_times_out_is_unavailable(world):
    world.calendars.delay = 5.0  # the reader allows 0.2 s
    outcome = await world.availability.query(ORG, query(((ADA,), 0), ((PATTI,), 0)))
    d = diag(outcome, ADA)
    assert d.status is MemberStatus.UNAVAILABLE
    assert d.failures[0].reason == "PROVIDER_UNAVAILABLE"
    assert "did not answer within 0.2 s" in d.failures[0].message
    assert outcome.answer.results == ()


async def test_a_mailbox_the_provider_does_not_know_is_an_unknown_account(world):
    world.calendars.answers[ALAN] = SourceFailure(Source.PROVIDER_FREE_BUSY, MAILBOX_NOT_FOUND, "Google: notFound")
    outcome = await world.availability.query(ORG, query(((ADA, ALAN), 1)))
    assert diag(outcome, ALAN).status is MemberStatus.UNKNOWN_ACCOUNT
    assert all(r.members == (ADA,) for r in outcome.answer.results) and outcome.answer.results


async def test_a_suspended_account_is_unknown_and_its_calendar_is_not_read(world):
    world.directory.accounts[ALAN] = AccountState.SUSPENDED
    outcome = await world.availability.query(ORG, query(((ADA, ALAN), 1)))
    assert diag(outcome, ALAN).status is MemberStatus.UNKNOWN_ACCOUNT
    assert [c.emails for c in world.calendars.calls] == [(ADA,)]


async def test_a_connection_needing_reauthorization_makes_its_members_unavailable_without_calls(world):
    world.directory.routes["northwind.example"] = replace(GOOGLE_RW, state=ConnectionState.NEEDS_REAUTHORIZATION)
    outcome = await world.availability.query(ORG, query(((ADA,), 0)))
    assert diag(outcome, ADA).failures[0].reason == "CREDENTIAL_NEEDS_REAUTHORIZATION"
    assert world.calendars.calls == []


async def test_a_token_identity_refuses_makes_the_connections_members_unavailable(world):
    world.identity.errors["cred-google"] = FailedPrecondition("revoked", reason="CREDENTIAL_REVOKED")
    outcome = await world.availability.query(ORG, query(((ADA, ALAN), 1)))
    assert {diag(outcome, e).failures[0].reason for e in (ADA, ALAN)} == {"CREDENTIAL_REVOKED"}
    assert outcome.answer.results == ()


async def test_a_token_the_provider_refuses_is_handed_back_to_identity_once_and_the_fresh_one_used(world):
    world.calendars.refused_tokens.add(f"token:cred-google:{ADA}")  # revoked at Google before it expired
    outcome = await world.availability.query(ORG, query(((ADA,), 0)))
    assert diag(outcome, ADA).status is MemberStatus.OK
    assert world.identity.rejected == [f"token:cred-google:{ADA}"]
    assert [c.token for c in world.calendars.calls] == [f"token:cred-google:{ADA}", f"token:cred-google:{ADA}:1"]


async def test_a_provider_refusing_the_fresh_token_too_makes_the_members_unavailable(world):
    world.calendars.refused_tokens.update({f"token:cred-google:{ADA}", f"token:cred-google:{ADA}:1"})
    outcome = await world.availability.query(ORG, query(((ADA,), 0)))
    d = diag(outcome, ADA)
    assert (d.status, [f.reason for f in d.failures]) == (MemberStatus.UNAVAILABLE, ["PROVIDER_REJECTED"])
    assert len(world.calendars.calls) == 2 and outcome.answer.results == ()  # asked once more, not forever


async def test_when_bookings_cannot_be_read_nobody_is_shown_free(world):
    world.bookings.error = Unavailable("booking down", reason="DEPENDENCY_UNAVAILABLE", metadata={"dependency": "booking"})
    outcome = await world.availability.query(ORG, query(((ADA,), 0), ((PATTI,), 0)))
    for email in (ADA, PATTI):
        d = diag(outcome, email)
        assert d.status is MemberStatus.UNAVAILABLE
        assert d.failures == (SourceFailure(Source.BOOKINGS, "DEPENDENCY_UNAVAILABLE", "booking down"),)
    assert outcome.answer.results == ()


async def test_bookings_block_time_except_those_excluded(world):
    world.bookings.periods += [BookingBusy(ADA, T0, T0 + HOUR, "bk-move"), BookingBusy(ADA, T0 + 2 * HOUR, T0 + 3 * HOUR, "bk-keep")]
    held = await world.availability.query(ORG, query(((ADA,), 0)))
    assert spans(held) == [(60, 120)]
    moving = await world.availability.query(ORG, query(((ADA,), 0), exclude_booking_ids=("bk-move",)))
    assert spans(moving) == [(0, 120)]


async def test_n_of_m_results_name_exactly_the_members_free_for_the_whole_result(world):
    world.calendars.answers[ALAN] = busy((60, 180, BusyStatus.BUSY))
    world.calendars.answers[GRACE] = busy((0, 90, BusyStatus.BUSY))
    outcome = await world.availability.query(ORG, query(((ADA,), 0), ((ALAN, GRACE), 1), fmt=1))
    assert [(s, e, r.members) for (s, e), r in zip(spans(outcome), outcome.answer.results, strict=True)] == [
        (0, 60, (ADA, ALAN)),
        (90, 180, (ADA, GRACE)),
    ]


# ---------------------------------------------------------------------------------- providers
async def test_google_and_microsoft_are_read_once_per_connection_batched_and_concurrently(world):
    in_flight = peak = 0
    original = world.calendars.read

    async def counting(*args, **kwargs):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        try:
            return await original(*args, **kwargs)
        finally:
            in_flight -= 1

    world.calendars.read = counting
    outcome = await world.availability.query(ORG, query(((ADA, ALAN, MEGAN, ADELE), 0)))
    calls = sorted(world.calendars.calls, key=lambda c: c.provider.value)
    assert [(c.provider, c.emails) for c in calls] == [(Provider.GOOGLE, (ADA, ALAN)), (Provider.MICROSOFT, (ADELE, MEGAN))]
    assert peak == 2
    assert {d.status for d in outcome.diagnostics} == {MemberStatus.OK}


async def test_organization_wide_tokens_act_for_a_member_and_user_tokens_for_their_owner(world):
    await world.availability.query(ORG, query(((ADA, ALAN, MEGAN, ADELE), 0)))
    assert sorted(world.identity.token_calls) == [("cred-google", ADA), ("cred-ms", "")]
    assert {c.provider: c.mailbox for c in world.calendars.calls} == {Provider.GOOGLE: ADA, Provider.MICROSOFT: ADELE}
    world.identity.kinds["cred-ms"] = Credential("cred-ms", CredentialKind.USER_DELEGATED, "admin@contoso.example")
    world.identity.kinds["cred-google"] = Credential("cred-google", CredentialKind.USER_DELEGATED, "grace@northwind.example")
    world.identity.token_calls.clear()
    world.calendars.calls.clear()
    world.ticker.now += 60  # past the cache
    await world.availability.query(ORG, query(((ADA, MEGAN), 0)))
    assert sorted(world.identity.token_calls) == [("cred-google", ""), ("cred-ms", "")]
    assert {c.provider: c.mailbox for c in world.calendars.calls}[Provider.MICROSOFT] == "admin@contoso.example"


async def test_provider_answers_are_cached_briefly_for_windows_inside_the_one_fetched(world):
    await world.availability.query(ORG, query(((ADA,), 0), hours=3))
    await world.availability.query(ORG, query(((ADA,), 0), hours=2))
    assert len(world.calendars.calls) == 1
    world.ticker.now += 31
    await world.availability.query(ORG, query(((ADA,), 0), hours=2))
    assert len(world.calendars.calls) == 2


async def test_failed_provider_answers_are_not_cached(world):
    world.calendars.error = Unavailable("google: HTTP 503", reason="PROVIDER_UNAVAILABLE")
    await world.availability.query(ORG, query(((ADA,), 0)))
    world.calendars.error = None
    outcome = await world.availability.query(ORG, query(((ADA,), 0)))
    assert diag(outcome, ADA).status is MemberStatus.OK
    assert len(world.calendars.calls) == 2


async def test_the_provider_window_includes_the_buffers(world):
    await world.availability.query(ORG, query(((ADA,), 0), buffer_before=Length(15 * MIN), buffer_after=Length(10 * MIN)))
    assert world.calendars.calls[0].window == (T0 - 15 * MIN, T0 + 3 * HOUR + 10 * MIN)


# ---------------------------------------------------------------------------------- errors
async def test_bad_input_reads_nothing(world):
    with pytest.raises(InvalidArgument):
        await world.availability.query(ORG, replace(query(((ADA,), 0)), duration=Length(0)))
    with pytest.raises(InvalidArgument) as info:
        await world.availability.query("", query(((ADA,), 0)))
    assert info.value.metadata["field"] == "org_unit_id"
    assert world.directory.calls == []


async def test_an_unknown_unit_reported_by_directory_fails_the_query(world):
    world.directory.error = NotFound("no such unit", reason="ORGANIZATIONAL_UNIT_NOT_FOUND")
    with pytest.raises(NotFound) as info:
        await world.availability.query(ORG, query(((ADA,), 0)))
    assert info.value.reason == "ORGANIZATIONAL_UNIT_NOT_FOUND"


# ---------------------------------------------------------------------------------- rules
NINE_TO_FIVE = RulesInput("Europe/London", tuple(WeeklyPeriodInput(d, LocalTime(9, 0), LocalTime(17, 0)) for d in range(1, 6)))


async def test_rules_are_set_read_replaced_and_deleted(world):
    first = await world.rules.set(ORG, "Ada@Northwind.example", NINE_TO_FIVE)
    assert first.email == ADA and len(first.rules.weekly) == 5
    assert (await world.rules.get(ORG, ADA)).rules == first.rules
    replaced = await world.rules.set(ORG, ADA, RulesInput("UTC"))
    assert replaced.rules.weekly == () and replaced.create_time == first.create_time
    assert await world.rules.delete(ORG, ADA) is True
    assert await world.rules.delete(ORG, ADA) is False
    with pytest.raises(NotFound) as info:
        await world.rules.get(ORG, ADA)
    assert info.value.reason == "AVAILABILITY_RULES_NOT_FOUND"


async def test_rules_for_an_email_no_connection_serves_are_refused_and_not_stored(world):
    with pytest.raises(FailedPrecondition) as info:
        await world.rules.set(ORG, STRANGER, NINE_TO_FIVE)
    assert (info.value.reason, info.value.metadata["domain"]) == ("EMAIL_DOMAIN_NOT_SERVED", "elsewhere.example")
    assert world.uow.committed == {}


async def test_invalid_rules_write_nothing(world):
    with pytest.raises(InvalidArgument) as info:
        await world.rules.set(ORG, ADA, RulesInput("Nowhere/Land"))
    assert info.value.reason == "TIME_ZONE_UNKNOWN"
    assert world.uow.commits == 0 and world.directory.calls == []


async def test_rules_restrict_queries_in_their_own_time_zone(world):
    await world.rules.set(ORG, ADA, RulesInput("America/New_York", (WeeklyPeriodInput(1, LocalTime(4, 30), LocalTime(5, 30)),)))
    outcome = await world.availability.query(ORG, query(((ADA,), 0)))
    assert spans(outcome) == [(30, 90)]  # 04:30-05:30 EST = 09:30-10:30 UTC


# ---------------------------------------------------------------------------------- GetFreeBusy
async def test_free_busy_is_tagged_by_source_merged_per_status_and_clipped(world):
    world.calendars.answers[ADA] = busy(
        (-30, 20, BusyStatus.BUSY), (10, 40, BusyStatus.BUSY), (50, 70, BusyStatus.TENTATIVE), (60, 80, BusyStatus.BUSY)
    )
    world.bookings.periods.append(BookingBusy(ADA, T0 + 100 * MIN, T0 + 130 * MIN, "bk-9"))
    await world.rules.set(ORG, ADA, RulesInput("UTC", tuple(WeeklyPeriodInput(d, LocalTime(9, 0), LocalTime(11, 0)) for d in range(1, 8))))
    outcome = await world.availability.free_busy(ORG, ADA, TimeRangeInput(Instant(T0), Instant(T0 + 3 * HOUR)))
    got = [((p.start - T0) // MIN, (p.end - T0) // MIN, p.source, p.status, p.booking_id) for p in outcome.periods]
    assert got == [
        (0, 40, Source.PROVIDER_FREE_BUSY, BusyStatus.BUSY, ""),
        (50, 70, Source.PROVIDER_FREE_BUSY, BusyStatus.TENTATIVE, ""),
        (60, 80, Source.PROVIDER_FREE_BUSY, BusyStatus.BUSY, ""),
        (100, 130, Source.BOOKINGS, BusyStatus.BUSY, "bk-9"),
        (120, 180, Source.AVAILABILITY_RULES, BusyStatus.BUSY, ""),
    ]
    assert outcome.diagnostics.status is MemberStatus.OK


async def test_free_busy_reports_a_failing_source_in_diagnostics_instead_of_failing(world):
    world.calendars.error = Unavailable("google: HTTP 429", reason="PROVIDER_RATE_LIMITED")
    outcome = await world.availability.free_busy(ORG, ADA, TimeRangeInput(Instant(T0), Instant(T0 + HOUR)))
    assert outcome.periods == ()
    assert outcome.diagnostics.failures[0].reason == "PROVIDER_RATE_LIMITED"
