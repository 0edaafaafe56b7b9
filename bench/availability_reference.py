"""Brute-force minute-grid reference of the availability engine, for tests and benchmarks.

It shares no code with ``services.availability.domain`` beyond the input types: every member's free
time is a ``bytearray`` with one byte per minute, rules are painted minute by minute from instants
found by scanning the zone's offsets (not by ``fold``), and every candidate slot or minute is checked
member by member. Slow and obviously right; every time and length must be whole minutes.

    results, truncated = reference_answer(query, groups, busy, rules, unavailable)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.availability.domain.engine import Group, Query, ResponseFormat
from services.availability.domain.rules import AvailabilityRules

MINUTE = 60
Row = tuple[int, int, tuple[str, ...]]


def reference_answer(
    query: Query,
    groups: Sequence[Group],
    busy: Mapping[str, Iterable[tuple[int, int]]],
    rules: Mapping[str, AvailabilityRules | None],
    unavailable: Iterable[str] = (),
) -> tuple[list[Row], bool]:
    """``(results, truncated)`` exactly as the engine defines them, by brute force."""
    d = _minutes(query.duration)
    before, after = _minutes(query.buffer_before), _minutes(query.buffer_after)
    lo = min(_minutes(s) for s, _ in query.periods) - before
    hi = max(_minutes(e) for _, e in query.periods) + after
    excluded = set(unavailable)
    queried = sorted({m for g in groups for m in g.members})
    known = [m for m in queried if m not in excluded and (m in busy or m in rules)]
    conversions: dict[tuple[date, int, str], int] = {}
    free: dict[str, bytearray] = {}
    for m in known:
        minutes = bytearray(b"\x01") * (hi - lo)
        for s, e in busy.get(m, ()):
            a, b = max(_minutes(s), lo), min(_minutes(e), hi)
            if a < b:
                minutes[a - lo : b - lo] = bytes(b - a)
        member_rules = rules.get(m)
        if member_rules is not None:
            allowed = _rule_minutes(member_rules, lo, hi, conversions)
            minutes = bytearray(x & y for x, y in zip(minutes, allowed, strict=True))
        free[m] = minutes
    in_query = bytearray(hi - lo)
    for s, e in query.periods:
        in_query[_minutes(s) - lo : _minutes(e) - lo] = b"\x01" * (_minutes(e) - _minutes(s))

    def available(first: int, last: int) -> tuple[str, ...]:
        """Members free over [first - before, last + after) (minutes)."""
        return tuple(m for m in known if 0 not in free[m][first - before - lo : last + after - lo])

    def satisfied(who: tuple[str, ...]) -> bool:
        present = set(who)
        for g in groups:
            need = len(g.members) if g.required == 0 else g.required
            if len(g.members & present) < need:
                return False
        return True

    rows: list[Row] = []
    q_lo, q_hi = lo + before, hi - after
    if query.response_format is ResponseFormat.PERIODS:
        run: tuple[int, tuple[str, ...]] | None = None
        for t in range(q_lo, q_hi + 1):
            who = available(t, t + 1) if t < q_hi and in_query[t - lo] else None
            ok = who is not None and satisfied(who)
            if run is not None and (not ok or who != run[1]):
                if t - run[0] >= d:
                    rows.append((run[0] * MINUTE, t * MINUTE, run[1]))
                run = None
            if ok and run is None:
                assert who is not None
                run = (t, who)
    else:
        step = _minutes(query.start_interval)
        last_end = None
        for k in range(-(-q_lo // step), q_hi // step + 1):
            s = k * step
            if s + d > q_hi or 0 in in_query[s - lo : s + d - lo]:
                continue
            if query.response_format is ResponseFormat.SLOTS and last_end is not None and s < last_end:
                continue
            who = available(s, s + d)
            if satisfied(who):
                rows.append((s * MINUTE, (s + d) * MINUTE, who))
                last_end = s + d
    truncated = len(rows) > query.max_results
    return rows[: query.max_results], truncated


def _minutes(seconds: int) -> int:
    if seconds % MINUTE:
        raise ValueError("the reference works in whole minutes")
    return seconds // MINUTE


def _rule_minutes(
    rules: AvailabilityRules, lo: int, hi: int, conversions: dict[tuple[date, int, str], int]
) -> bytearray:
    zone = ZoneInfo(rules.time_zone)
    allowed = bytearray(hi - lo)
    overrides = {o.day: o.periods for o in rules.overrides}
    weekly: dict[int, list[tuple[int, int]]] = {}
    for p in rules.weekly:
        weekly.setdefault(p.day, []).append((p.start, p.end))
    day = datetime.fromtimestamp(lo * MINUTE, zone).date() - timedelta(days=2)
    last = datetime.fromtimestamp(hi * MINUTE, zone).date() + timedelta(days=2)
    while day <= last:
        if day in overrides:
            periods: Sequence[tuple[int, int]] = overrides[day]
        elif not rules.weekly:
            periods = [(0, 1440)]
        else:
            periods = weekly.get(day.isoweekday(), [])
        for start, end in periods:
            a = _instant(day, start, zone, conversions) // MINUTE
            b = _instant(day, end, zone, conversions) // MINUTE
            a, b = max(a, lo), min(b, hi)
            if a < b:
                allowed[a - lo : b - lo] = b"\x01" * (b - a)
        day += timedelta(days=1)
    return allowed


def _instant(day: date, minute: int, zone: ZoneInfo, cache: dict[tuple[date, int, str], int]) -> int:
    """The instant of a local wall time, found by trying every offset the zone uses nearby.

    A wall time that exists once or twice: the earliest instant showing it. One that a change skips:
    the instant it would be under the offset in force before the change (it moves forward).
    """
    key = (day, minute, zone.key)
    if key in cache:
        return cache[key]
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
    as_utc = int(naive.replace(tzinfo=UTC).timestamp())
    offsets = {
        int(datetime.fromtimestamp(as_utc + hours * 3600, zone).utcoffset().total_seconds())  # type: ignore[union-attr]
        for hours in range(-30, 31)
    }
    candidates = sorted(as_utc - offset for offset in offsets)
    shown = {u: datetime.fromtimestamp(u, zone).replace(tzinfo=None) for u in candidates}
    exact = [u for u in candidates if shown[u] == naive]
    if exact:
        found = exact[0]
    else:
        found = min((u for u in candidates if shown[u] > naive), key=lambda u: shown[u])
    cache[key] = found
    return found
