"""When groups of people are free at once: the availability computation (pure, integer seconds).

Inputs are each member's free time (:func:`free_spans`: the search window minus busy time minus time
outside the member's rules) and a :class:`Query`. A member missing from the free map (unknown, or
whose free/busy could not be read) is never free.

Buffers and the duration are folded into each member's free time first, so that what is left is a
question about single instants:

* A result ``[s, e)`` needs ``[s - before, e + after)`` free, i.e. ``[s, e)`` inside the member's free
  intervals each shrunk by ``before`` at the start and ``after`` at the end.
* A slot start ``s`` needs ``[s, s + duration)`` inside those, i.e. ``s`` inside them shrunk by a
  further ``duration - 1`` at the end; on the grid (multiples of ``start_interval`` since the epoch)
  these become ranges of grid indexes.

Then one sweep over the sorted boundaries of every member's intervals (plus the query periods as one
more required "member") keeps the set of available members as a bit mask. Between two boundaries the
mask is constant; there each group is checked (``all`` members, or at least ``required`` of them), and
the segment yields results naming exactly the members in the mask:

* PERIODS: each satisfied segment at least ``duration`` long — a maximal span with the same members;
* OVERLAPPING_SLOTS: every grid start in a satisfied segment;
* SLOTS: the first such grid start, then the first at or after the end of the previous slot.

Sorting integers, ``map``/``compress`` over lists and one loop over boundaries (not over minutes, not
over slots) keep this fast enough for thousands of busy intervals per person.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, islice
from operator import lt
from typing import NamedTuple

from services.availability.domain import intervals
from services.availability.domain.intervals import Spans
from services.availability.domain.rules import AvailabilityRules, available_spans

_SHIFT = 6  # low bits of a boundary key hold the member index
_INDEX = (1 << _SHIFT) - 1
MAX_MEMBERS = _INDEX - 1  # one index is kept for the query periods, one for the required members


class ResponseFormat(enum.Enum):
    PERIODS = 1
    SLOTS = 2
    OVERLAPPING_SLOTS = 3


@dataclass(frozen=True)
class Group:
    """Members of which all (``required == 0``) or at least ``required`` must be available at once."""

    members: frozenset[str]
    required: int = 0

    @property
    def needs_all(self) -> bool:
        return self.required == 0 or self.required >= len(self.members)


@dataclass(frozen=True)
class Query:
    """What to search for; times and lengths in seconds (lengths are whole minutes in practice)."""

    periods: tuple[tuple[int, int], ...]
    duration: int
    buffer_before: int = 0
    buffer_after: int = 0
    start_interval: int = 900
    response_format: ResponseFormat = ResponseFormat.PERIODS
    max_results: int = 256


class Result(NamedTuple):
    """A period or slot ``[start, end)`` and every queried member free for it (buffers included)."""

    start: int
    end: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    results: tuple[Result, ...]
    truncated: bool


def search_window(query: Query) -> tuple[int, int]:
    """The span whose free/busy the query needs: the query periods widened by the buffers."""
    return (
        min(p[0] for p in query.periods) - query.buffer_before,
        max(p[1] for p in query.periods) + query.buffer_after,
    )


def free_spans(window: tuple[int, int], busy: Spans, available: Spans | None = None) -> Spans:
    """Free time of one member inside ``window``: not busy, and within the rules when there are any."""
    lo, hi = window
    if available is None:
        return intervals.complement(busy, lo, hi)
    return intervals.complement(intervals.union(busy, intervals.complement(available, lo, hi)), lo, hi)


def evaluate(
    query: Query,
    groups: Sequence[Group],
    busy: Mapping[str, Iterable[tuple[int, int]]],
    rules: Mapping[str, AvailabilityRules | None],
    unavailable: Iterable[str] = (),
) -> Answer:
    """The whole computation from raw inputs: busy ``(start, end)`` pairs and rules per member.

    Members in ``unavailable`` (or in no map at all) are never free. Rules shared by several members
    are expanded once. Members every result needs (those of ALL groups) are computed first: results
    can only lie where they are all free, so the other members' busy items are first cut down to the
    ones that touch that region (and their own rules), which spares sorting most of them.
    """
    lo, hi = search_window(query)
    # Work relative to an origin on the grid: smaller integers sort faster, and grid indexes stay exact.
    origin = lo - lo % query.start_interval
    window = (lo - origin, hi - origin)
    excluded = set(unavailable)
    known = [m for m in sorted(set().union(*(g.members for g in groups))) if m not in excluded and (m in busy or m in rules)]
    required = {m for g in groups if g.needs_all for m in g.members}
    if required - set(known):
        return Answer((), False)  # someone every result needs is never free

    expanded: dict[AvailabilityRules | None, Spans | None] = {None: None}

    def available(member: str) -> Spans | None:
        member_rules = rules.get(member)
        if member_rules not in expanded:
            assert member_rules is not None
            expanded[member_rules] = intervals.shift(available_spans(member_rules, lo, hi), -origin)
        return expanded[member_rules]

    free: dict[str, Spans] = {}
    for member in known:
        if member in required:
            free[member] = free_spans(window, _busy_spans(busy.get(member, ()), origin), available(member))
    region = intervals.from_pairs([(s - origin, e - origin) for s, e in query.periods])
    for member in required:
        region = intervals.intersect(region, intervals.shrink(free[member], query.buffer_before, query.buffer_after))
    # Where another member's free time can matter: the region widened by the buffers.
    relevant = intervals.from_lists(
        [s - query.buffer_before for s in region.starts], [e + query.buffer_after for e in region.ends]
    )
    touching: dict[int, _Touching] = {}
    for member in known:
        if member in required:
            continue
        allowed = available(member)
        key = id(allowed)
        if key not in touching:
            touching[key] = _Touching(relevant if allowed is None else intervals.intersect(relevant, allowed), window, origin)
        pairs = touching[key].select(busy.get(member, ()))
        free[member] = free_spans(window, _busy_spans(pairs, origin), allowed)
    return find_times(query, groups, free, origin)


def _busy_spans(pairs: Iterable[tuple[int, int]], origin: int) -> Spans:
    pairs = pairs if isinstance(pairs, list | tuple) else list(pairs)
    return intervals.from_lists([s - origin for s, _ in pairs], [e - origin for _, e in pairs])


class _Touching:
    """Picks the busy pairs that may touch ``region``, a set measured from ``origin``.

    Time is cut into buckets; ``next_point[k]`` is the first instant of the region at or after the
    start of bucket ``k`` (absolute). A pair starting in bucket ``k`` can only meet the region if that
    instant comes before its end, so the test is one division and one look-up per pair, and every
    pair that meets the region is kept (plus a few that start shortly after a region point of their
    bucket). Pairs starting before the table are kept; pairs starting after it take a slower path.
    """

    BUCKET = 1800

    def __init__(self, region: Spans, window: tuple[int, int], origin: int) -> None:
        g = self.BUCKET
        base = self.base = origin + window[0]
        self.empty = not region
        size = (window[1] - window[0]) // g + 1
        if region:
            # Pieces closer than a bucket look alike to the table: join them first (a superset).
            cut = list(map(lt, [e + g for e in region.ends], islice(region.starts, 1, None)))
            region = Spans(
                [region.starts[0], *compress(islice(region.starts, 1, None), cut)],
                [*compress(region.ends, cut), region.ends[-1]],
            )
        next_point = [_NEVER] * size
        done = 0  # buckets before this one are filled
        for s, e in zip(region.starts, region.ends, strict=True):
            s, e = s + origin, e + origin
            first = min(max(-(-(s - base) // g), done), size)  # first bucket starting at or after s
            last = min(max(-(-(e - base) // g), first), size)  # first bucket starting at or after e
            next_point[done:first] = [s] * (first - done)
            next_point[first:last] = range(base + first * g, base + last * g, g)
            done = last
        self.next_point = next_point
        self._region = intervals.shift(region, origin)

    def select(self, pairs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        if self.empty:
            return []
        pairs = pairs if isinstance(pairs, list | tuple) else list(pairs)
        base, g, next_point = self.base, self.BUCKET, self.next_point
        try:
            return [p for p in pairs if (k := (p[0] - base) // g) < 0 or next_point[k] < p[1]]
        except IndexError:
            region = self._region
            return [p for p in pairs if p[0] < base or _meets(region, p[0], p[1])]


_NEVER = 1 << 62


def _meets(region: Spans, start: int, end: int) -> bool:
    i = bisect_right(region.ends, start)
    return i < len(region.starts) and region.starts[i] < end


def find_times(query: Query, groups: Sequence[Group], free: Mapping[str, Spans], origin: int = 0) -> Answer:
    """Results of ``query`` for ``groups`` given each available member's free time.

    ``free`` is measured from ``origin`` (epoch seconds, a multiple of the start interval); the query
    and the results are in epoch seconds.
    """
    queried = sorted(set().union(*(g.members for g in groups)))
    known = [m for m in queried if m in free]
    if len(known) > MAX_MEMBERS:
        raise ValueError(f"at most {MAX_MEMBERS} members")
    bit = {m: 1 << i for i, m in enumerate(known)}
    q_index = len(known)
    required = 1 << q_index
    counted: list[tuple[int, int]] = []
    for group in groups:
        mask = 0
        for m in group.members:
            mask |= bit.get(m, 0)
        if group.needs_all:
            if len(group.members) > mask.bit_count():
                return Answer((), False)  # someone every result needs is never free
            required |= mask
        elif mask.bit_count() < group.required:
            return Answer((), False)
        else:
            counted.append((mask, group.required))

    d, before, after = query.duration, query.buffer_before, query.buffer_after
    q = intervals.from_pairs([(s - origin, e - origin) for s, e in query.periods])
    if query.response_format is ResponseFormat.PERIODS:
        spans = [intervals.shrink(free[m], before, after) for m in known]
        spans.append(q)
    else:
        step = query.start_interval
        spans = [intervals.to_grid(intervals.shrink(free[m], before, after + d - 1), step) for m in known]
        spans.append(intervals.to_grid(intervals.shrink(q, 0, d - 1), step))
    segments = _satisfied_segments(spans, required, counted)
    return _results(query, segments, known, q_index, origin)


def _satisfied_segments(
    spans: list[Spans], required: int, counted: list[tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """``(start, end, mask)`` of each maximal segment with one member mask that satisfies the groups."""
    # Every member's intervals must meet the required members' common time, so cut the sweep to the
    # hull of the required members' intersection first: few boundaries remain for the rest.
    must = [spans[i] for i in range(len(spans)) if required >> i & 1]
    common = intervals.intersect(*must)
    if not common:
        return []
    lo, hi = common.starts[0], common.ends[-1]
    keys: list[int] = []
    for i, member_spans in enumerate(spans):
        if required >> i & 1:
            continue
        clipped = intervals.clip(member_spans, lo, hi)
        keys.extend([s << _SHIFT | i for s in clipped.starts])
        keys.extend([e << _SHIFT | i for e in clipped.ends])
    # The required members are all present exactly inside ``common``: stand them in with one index.
    common_index = _INDEX
    keys.extend([s << _SHIFT | common_index for s in common.starts])
    keys.extend([e << _SHIFT | common_index for e in common.ends])
    keys.sort()
    need = 1 << common_index
    found: list[tuple[int, int, int]] = []
    append = found.append
    # The required members' own bits stay set: groups counting them see them (only segments inside
    # ``common`` are ever kept).
    mask = required
    previous = keys[0] >> _SHIFT
    if not counted:
        for key in keys:
            t = key >> _SHIFT
            if t != previous:
                if mask & need:
                    append((previous, t, mask))
                previous = t
            mask ^= 1 << (key & _INDEX)
    elif len(counted) == 1:
        (group_mask, n) = counted[0]
        for key in keys:
            t = key >> _SHIFT
            if t != previous:
                if mask & need and (mask & group_mask).bit_count() >= n:
                    append((previous, t, mask))
                previous = t
            mask ^= 1 << (key & _INDEX)
    else:
        for key in keys:
            t = key >> _SHIFT
            if t != previous:
                if mask & need and all((mask & g).bit_count() >= n for g, n in counted):
                    append((previous, t, mask))
                previous = t
            mask ^= 1 << (key & _INDEX)
    # Drop the stand-in's bit: the masks name everyone available.
    return [(s, e, m & ~need) for s, e, m in found]


def _results(
    query: Query, segments: list[tuple[int, int, int]], known: list[str], q_index: int, origin: int
) -> Answer:
    limit = query.max_results
    d = query.duration
    names: dict[int, tuple[str, ...]] = {}
    query_bit = 1 << q_index

    def members(mask: int) -> tuple[str, ...]:
        found = names.get(mask)
        if found is None:
            found = names[mask] = tuple(m for i, m in enumerate(known) if mask >> i & 1)
        return found

    results: list[Result] = []
    fmt = query.response_format
    if fmt is ResponseFormat.PERIODS:
        for start, end, mask in segments:
            if end - start >= d:
                if len(results) == limit:
                    return Answer(tuple(results), True)
                results.append(Result(start + origin, end + origin, members(mask & ~query_bit)))
        return Answer(tuple(results), False)

    step = query.start_interval
    base = origin // step
    stride = -(-d // step) if fmt is ResponseFormat.SLOTS else 1
    next_k = None
    for first, last, mask in segments:
        k = first if next_k is None or next_k < first else next_k
        if k >= last:
            continue
        who = members(mask & ~query_bit)
        count = -(-(last - k) // stride)
        room = limit - len(results)
        if count > room:
            results.extend(
                Result(j * step, j * step + d, who) for j in range(base + k, base + k + room * stride, stride)
            )
            return Answer(tuple(results), True)
        results.extend(Result(j * step, j * step + d, who) for j in range(base + k, base + last, stride))
        next_k = k + count * stride
    return Answer(tuple(results), False)


def merged_periods(periods: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Query periods with overlapping and touching ones merged, in order."""
    return intervals.from_pairs(list(periods)).pairs()


__all__ = [
    "Answer",
    "Group",
    "Query",
    "ResponseFormat",
    "Result",
    "evaluate",
    "find_times",
    "free_spans",
    "merged_periods",
    "search_window",
]
