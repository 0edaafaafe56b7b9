"""Hypothesis strategies for availability queries: minute-aligned, small enough for the brute-force
reference, and placed around daylight-saving changes so rules cross them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st

from services.availability.domain.engine import Group, Query, ResponseFormat
from services.availability.domain.rules import AvailabilityRules, DateOverride, WeeklyPeriod

MINUTE = 60
ZONES = ("America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney", "UTC", "Asia/Kolkata")
# Spring-forward weekends in 2026: New York 8 March, Europe 29 March, Sydney (autumn back) 5 April.
BASES = tuple(
    int(datetime(*d, tzinfo=UTC).timestamp()) for d in ((2026, 3, 7), (2026, 3, 28), (2026, 4, 4), (2026, 10, 24))
)
SPAN_MINUTES = 3 * 1440
EMAILS = ("a@x.example", "b@x.example", "c@y.example", "d@y.example", "e@z.example")


@dataclass(frozen=True)
class Case:
    query: Query
    groups: tuple[Group, ...]
    busy: dict[str, list[tuple[int, int]]]
    rules: dict[str, AvailabilityRules | None]
    unavailable: frozenset[str]


@st.composite
def local_periods(draw: st.DrawFn, max_size: int = 3) -> tuple[tuple[int, int], ...]:
    """Non-overlapping local periods (minutes after midnight, end up to 1440)."""
    cuts = sorted(set(draw(st.lists(st.integers(0, 96), min_size=0, max_size=2 * max_size))))
    periods = [(cuts[i] * 15, cuts[i + 1] * 15) for i in range(0, len(cuts) - 1, 2)]
    return tuple(p for p in periods if p[0] < p[1])


@st.composite
def rules_for(draw: st.DrawFn, base: int) -> AvailabilityRules:
    zone = draw(st.sampled_from(ZONES))
    weekly: list[WeeklyPeriod] = []
    for day in draw(st.sets(st.integers(1, 7), max_size=7)):
        weekly.extend(WeeklyPeriod(day, s, e) for s, e in draw(local_periods()))
    first_day = datetime.fromtimestamp(base, UTC).date()
    overrides = []
    for offset in sorted(draw(st.sets(st.integers(-1, 4), max_size=2))):
        on = first_day + timedelta(days=offset)
        periods = draw(local_periods(max_size=2))
        overrides.append(DateOverride(on, not periods, periods))
    return AvailabilityRules(zone, tuple(sorted(weekly)), tuple(overrides))


@st.composite
def cases(draw: st.DrawFn, formats: tuple[ResponseFormat, ...] = tuple(ResponseFormat)) -> Case:
    base = draw(st.sampled_from(BASES))
    members = draw(st.lists(st.sampled_from(EMAILS), min_size=1, max_size=5, unique=True))

    def instant(lo: int = 0, hi: int = SPAN_MINUTES) -> st.SearchStrategy[int]:
        return st.integers(lo, hi).map(lambda m: base + m * MINUTE)

    busy: dict[str, list[tuple[int, int]]] = {}
    rules: dict[str, AvailabilityRules | None] = {}
    for m in members:
        starts = draw(st.lists(instant(), max_size=8))
        busy[m] = [(s, s + draw(st.integers(1, 600)) * MINUTE) for s in starts]
        rules[m] = draw(st.none() | rules_for(base))
    periods = []
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, SPAN_MINUTES - 60))
        periods.append((base + start * MINUTE, base + draw(st.integers(start + 1, SPAN_MINUTES)) * MINUTE))
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        chosen = draw(st.lists(st.sampled_from(members), min_size=1, unique=True))
        groups.append(Group(frozenset(chosen), draw(st.integers(0, len(chosen)))))
    query = Query(
        periods=tuple(periods),
        duration=draw(st.integers(1, 240)) * MINUTE,
        buffer_before=draw(st.sampled_from((0, 0, 5, 15, 60))) * MINUTE,
        buffer_after=draw(st.sampled_from((0, 0, 10, 30))) * MINUTE,
        start_interval=draw(st.sampled_from((1, 5, 7, 15, 30, 60, 90))) * MINUTE,
        response_format=draw(st.sampled_from(formats)),
        max_results=draw(st.sampled_from((1, 3, 20, 10_000))),
    )
    unavailable = frozenset(draw(st.lists(st.sampled_from(members), max_size=2)))
    return Case(query, tuple(groups), busy, rules, unavailable)


def local_day(instant: int, zone: str) -> date:
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(instant, ZoneInfo(zone)).date()
