"""Sets of instants as sorted lists of half-open integer intervals, combined at C speed.

A :class:`Spans` is two parallel lists: interval ``i`` is ``[starts[i], ends[i])``, every interval is
non-empty, and consecutive intervals neither overlap nor touch (``ends[i] < starts[i + 1]``). The unit
is whatever the caller uses (epoch seconds, or grid steps).

Every operation below is made of ``sorted``, ``map``, ``itertools.compress`` and ``bisect`` — no Python
loop per interval — because of one fact about unions:

    The union of intervals does not depend on which start goes with which end. Sorting the starts
    and the ends separately and pairing the i-th smallest of each gives intervals with the same
    coverage (the i-th smallest end is always after the i-th smallest start, and the number of
    intervals covering t is #starts <= t minus #ends <= t either way). With both lists sorted, two
    neighbours are separate exactly where ``ends[i] < starts[i + 1]``.

So a union is two sorts (linear merges when the inputs are already sorted runs) and one compress;
a complement shifts the two lists against each other; an intersection is the complement of the
union of complements.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from itertools import chain, compress, islice
from operator import itemgetter, lt
from typing import NamedTuple


class Spans(NamedTuple):
    """Sorted, disjoint, non-touching, non-empty half-open intervals ``[starts[i], ends[i])``."""

    starts: list[int]
    ends: list[int]

    def __bool__(self) -> bool:
        return bool(self.starts)

    def pairs(self) -> list[tuple[int, int]]:
        """The intervals as ``(start, end)`` tuples."""
        return list(zip(self.starts, self.ends, strict=True))

    def total(self) -> int:
        """Summed length of the intervals."""
        return sum(self.ends) - sum(self.starts)

    def covers(self, lo: int, hi: int) -> bool:
        """Whether ``[lo, hi)`` (non-empty) lies inside one interval."""
        i = bisect_right(self.starts, lo) - 1
        return i >= 0 and self.ends[i] >= hi


def empty() -> Spans:
    return Spans([], [])


def _merge_sorted(starts: list[int], ends: list[int]) -> Spans:
    """Normalize intervals given as separately sorted starts and ends (all non-empty)."""
    if not starts:
        return Spans([], [])
    cut = list(map(lt, ends, islice(starts, 1, None)))
    merged_starts = [starts[0]]
    merged_starts.extend(compress(islice(starts, 1, None), cut))
    merged_ends = list(compress(ends, cut))
    merged_ends.append(ends[-1])
    return Spans(merged_starts, merged_ends)


def from_lists(starts: list[int], ends: list[int]) -> Spans:
    """Normalize arbitrary intervals ``[starts[i], ends[i])``: any order, overlaps, empty ones dropped."""
    if not all(map(lt, starts, ends)):
        keep = list(map(lt, starts, ends))
        starts = list(compress(starts, keep))
        ends = list(compress(ends, keep))
    return _merge_sorted(sorted(starts), sorted(ends))


def from_pairs(pairs: Iterable[tuple[int, int]]) -> Spans:
    """Normalize arbitrary ``(start, end)`` pairs."""
    pairs = pairs if isinstance(pairs, list | tuple) else list(pairs)
    return from_lists(list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs)))


def union(*parts: Spans) -> Spans:
    """Every instant in any of ``parts``."""
    present = [p for p in parts if p.starts]
    if not present:
        return Spans([], [])
    if len(present) == 1:
        return present[0]
    starts = sorted(chain.from_iterable(p.starts for p in present))
    ends = sorted(chain.from_iterable(p.ends for p in present))
    return _merge_sorted(starts, ends)


def clip(spans: Spans, lo: int, hi: int) -> Spans:
    """``spans`` within ``[lo, hi)``."""
    if lo >= hi:
        return Spans([], [])
    first = bisect_right(spans.ends, lo)
    last = bisect_left(spans.starts, hi)
    if first >= last:
        return Spans([], [])
    starts = spans.starts[first:last]
    ends = spans.ends[first:last]
    if starts[0] < lo:
        starts[0] = lo
    if ends[-1] > hi:
        ends[-1] = hi
    return Spans(starts, ends)


def complement(spans: Spans, lo: int, hi: int) -> Spans:
    """The instants of ``[lo, hi)`` not in ``spans``."""
    if lo >= hi:
        return Spans([], [])
    inside = clip(spans, lo, hi)
    starts = [lo, *inside.ends]
    ends = [*inside.starts, hi]
    # Only the first and the last gap can be empty; the others are gaps of a normalized set.
    if starts[-1] == ends[-1]:
        starts.pop()
        ends.pop()
    if starts and starts[0] == ends[0]:
        return Spans(starts[1:], ends[1:])
    return Spans(starts, ends)


def intersect(*parts: Spans) -> Spans:
    """The instants in every one of ``parts``."""
    if not parts or not all(p.starts for p in parts):
        return Spans([], [])
    if len(parts) == 1:
        return parts[0]
    lo = max(p.starts[0] for p in parts)
    hi = min(p.ends[-1] for p in parts)
    if lo >= hi:
        return Spans([], [])
    return complement(union(*(complement(p, lo, hi) for p in parts)), lo, hi)


def difference(spans: Spans, removed: Spans) -> Spans:
    """The instants of ``spans`` not in ``removed`` (one bisection per interval of ``spans``)."""
    if not spans.starts or not removed.starts:
        return spans
    starts: list[int] = []
    ends: list[int] = []
    for lo, hi in zip(spans.starts, spans.ends, strict=True):
        gaps = complement(removed, lo, hi)
        starts.extend(gaps.starts)
        ends.extend(gaps.ends)
    return Spans(starts, ends)


def shift(spans: Spans, delta: int) -> Spans:
    """Every interval moved by ``delta``."""
    if not delta:
        return spans
    return Spans([s + delta for s in spans.starts], [e + delta for e in spans.ends])


def shrink(spans: Spans, before: int, after: int) -> Spans:
    """Each interval ``[s, e)`` made ``[s + before, e - after)``; those left empty disappear.

    ``t`` is in the result exactly when ``[t - before, t + 1 + after)`` lies inside ``spans``.
    """
    if before < 0 or after < 0:
        raise ValueError("shrink takes non-negative amounts")
    starts = [s + before for s in spans.starts] if before else spans.starts
    ends = [e - after for e in spans.ends] if after else spans.ends
    keep = list(map(lt, starts, ends))
    if not all(keep):
        starts = list(compress(starts, keep))
        ends = list(compress(ends, keep))
    return Spans(starts, ends)


def to_grid(spans: Spans, step: int) -> Spans:
    """The grid indexes ``k`` with ``k * step`` in ``spans`` (touching results merged)."""
    starts = [-(-s // step) for s in spans.starts]
    ends = [-(-e // step) for e in spans.ends]
    keep = list(map(lt, starts, ends))
    if not all(keep):
        starts = list(compress(starts, keep))
        ends = list(compress(ends, keep))
    return _merge_sorted(starts, ends)
