"""The interval primitives agree with plain sets of integers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.availability.domain import intervals
from services.availability.domain.intervals import Spans

pairs = st.lists(st.tuples(st.integers(-50, 150), st.integers(0, 60)).map(lambda p: (p[0], p[0] + p[1])), max_size=12)


def points(spans: Spans) -> set[int]:
    return {t for s, e in spans.pairs() for t in range(s, e)}


def covered(items: list[tuple[int, int]]) -> set[int]:
    return {t for s, e in items for t in range(s, e)}


def normalized(spans: Spans) -> bool:
    ok = all(s < e for s, e in spans.pairs())
    return ok and all(e < s for e, s in zip(spans.ends, spans.starts[1:], strict=False))


@given(pairs)
def test_normalizing_keeps_exactly_the_covered_instants_in_sorted_non_touching_intervals(items):
    spans = intervals.from_pairs(items)
    assert points(spans) == covered(items)
    assert normalized(spans)


@given(pairs, pairs, pairs)
def test_union_intersection_and_difference_are_the_set_operations(a, b, c):
    x, y, z = intervals.from_pairs(a), intervals.from_pairs(b), intervals.from_pairs(c)
    assert points(intervals.union(x, y, z)) == covered(a) | covered(b) | covered(c)
    assert points(intervals.intersect(x, y, z)) == covered(a) & covered(b) & covered(c)
    assert points(intervals.difference(x, y)) == covered(a) - covered(b)
    for result in (intervals.union(x, y, z), intervals.intersect(x, y), intervals.difference(x, y)):
        assert normalized(result)


@given(pairs, st.integers(-60, 160), st.integers(0, 120))
def test_clip_and_complement_stay_inside_the_window(items, lo, length):
    hi = lo + length
    spans = intervals.from_pairs(items)
    window = set(range(lo, hi))
    assert points(intervals.clip(spans, lo, hi)) == covered(items) & window
    assert points(intervals.complement(spans, lo, hi)) == window - covered(items)
    assert normalized(intervals.complement(spans, lo, hi))


@given(pairs, st.integers(0, 20), st.integers(0, 20))
def test_shrinking_keeps_the_instants_whose_neighbourhood_is_covered(items, before, after):
    spans = intervals.from_pairs(items)
    have = covered(items)
    expected = {t for t in range(-80, 220) if all(u in have for u in range(t - before, t + 1 + after))}
    assert points(intervals.shrink(spans, before, after)) == expected


@given(pairs, st.integers(1, 25))
def test_the_grid_keeps_exactly_the_multiples_of_the_step_inside(items, step):
    spans = intervals.from_pairs(items)
    grid = intervals.to_grid(spans, step)
    assert points(grid) == {t // step for t in covered(items) if t % step == 0}
    assert normalized(grid)


def test_covers_asks_whether_a_range_lies_inside_one_interval():
    spans = intervals.from_pairs([(0, 10), (20, 30)])
    assert spans.covers(0, 10) and spans.covers(22, 25)
    assert not spans.covers(5, 21) and not spans.covers(10, 11) and not spans.covers(-1, 3)
