"""Workload W30k of issue 6, shared by ``bench.availability_engine`` and the tests that check it.

20 participants over 30 days from 2026-03-01 (both the American and the European DST change inside),
~50 busy intervals per person per day spread over all 24 hours (30,000 in all; each person's in
random time order), rules Mon–Fri
08:00–18:00 local in America/New_York, Europe/London and Europe/Berlin by turns, groups ALL of
participant 1 plus ANY 3 of the other 19, 30-minute slots on a 15-minute grid. Deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.availability.domain.engine import Group, Query, ResponseFormat
from services.availability.domain.rules import AvailabilityRules, WeeklyPeriod

START = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
DAYS = 30
PARTICIPANTS = 20
BUSY_PER_DAY = 50
ZONES = ("America/New_York", "Europe/London", "Europe/Berlin")


@dataclass(frozen=True)
class Workload:
    query: Query
    groups: tuple[Group, ...]
    busy: dict[str, list[tuple[int, int]]]
    rules: dict[str, AvailabilityRules | None]

    @property
    def busy_count(self) -> int:
        return sum(len(v) for v in self.busy.values())

    def with_format(self, response_format: ResponseFormat) -> Workload:
        return replace(self, query=replace(self.query, response_format=response_format))


def w30k(seed: int = 30_000, response_format: ResponseFormat = ResponseFormat.SLOTS) -> Workload:
    """The W30k workload (every result wanted: ``max_results`` is not the limiting factor)."""
    rng = random.Random(seed)
    emails = [f"p{n:02d}@w30k.example" for n in range(1, PARTICIPANTS + 1)]
    busy: dict[str, list[tuple[int, int]]] = {}
    for email in emails:
        items = []
        for day in range(DAYS):
            midnight = START + day * 86400
            for _ in range(BUSY_PER_DAY):
                start = midnight + rng.randrange(0, 1440) * 60
                items.append((start, start + rng.randrange(2, 7) * 5 * 60))
        rng.shuffle(items)
        # Random time order, with the tuples and ints allocated in list order, as decoding a
        # provider's JSON answer would allocate them.
        busy[email] = [(s + 0, e + 0) for s, e in items]
    rules: dict[str, AvailabilityRules | None] = {
        email: AvailabilityRules(
            ZONES[i % len(ZONES)], tuple(WeeklyPeriod(day, 8 * 60, 18 * 60) for day in range(1, 6))
        )
        for i, email in enumerate(emails)
    }
    query = Query(
        periods=((START, START + DAYS * 86400),),
        duration=30 * 60,
        start_interval=15 * 60,
        response_format=response_format,
        max_results=1_000_000,
    )
    groups = (Group(frozenset(emails[:1])), Group(frozenset(emails[1:]), 3))
    return Workload(query, groups, busy, rules)
