"""Properties of the availability engine on random cases, and agreement with the brute-force
minute-grid reference (``bench/availability_reference.py``) that the benchmark also checks against."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.availability_reference import reference_answer
from services.availability.domain import intervals
from services.availability.domain.engine import Group, ResponseFormat, evaluate
from services.availability.domain.rules import available_spans

from .strategies import Case, cases

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def answer(case: Case):
    return evaluate(case.query, case.groups, case.busy, case.rules, case.unavailable)


@SETTINGS
@given(cases())
def test_the_engine_equals_the_brute_force_minute_reference(case):
    got = answer(case)
    expected, truncated = reference_answer(case.query, case.groups, case.busy, case.rules, case.unavailable)
    assert [tuple(r) for r in got.results] == expected
    assert got.truncated == truncated


@SETTINGS
@given(cases())
def test_no_result_overlaps_a_named_members_busy_time_or_leaves_their_rules_buffers_included(case):
    q = case.query
    for result in answer(case).results:
        lo, hi = result.start - q.buffer_before, result.end + q.buffer_after
        for member in result.members:
            assert member not in case.unavailable
            for s, e in case.busy[member]:
                assert e <= lo or s >= hi, (member, (s, e), result)
            rules = case.rules[member]
            if rules is not None:
                assert available_spans(rules, lo, hi).covers(lo, hi)


@SETTINGS
@given(cases())
def test_every_result_satisfies_every_group_with_the_members_it_names(case):
    for result in answer(case).results:
        named = set(result.members)
        for group in case.groups:
            need = len(group.members) if group.required == 0 else group.required
            assert len(group.members & named) >= need


@SETTINGS
@given(cases())
def test_results_respect_duration_grid_query_periods_order_and_max_results(case):
    q = case.query
    got = answer(case)
    assert len(got.results) <= q.max_results
    assert list(got.results) == sorted(got.results)
    periods = intervals.from_pairs(q.periods)
    for r in got.results:
        assert periods.covers(r.start, r.end)
        if q.response_format is ResponseFormat.PERIODS:
            assert r.end - r.start >= q.duration
        else:
            assert r.end - r.start == q.duration
            assert r.start % q.start_interval == 0
    if q.response_format is ResponseFormat.SLOTS:
        assert all(a.end <= b.start for a, b in zip(got.results, got.results[1:], strict=False))


@SETTINGS
@given(cases(), st.randoms(use_true_random=False))
def test_the_answer_is_the_same_whatever_order_the_inputs_arrive_in(case, rnd: random.Random):
    shuffled_busy = {}
    for member in rnd.sample(list(case.busy), len(case.busy)):
        items = list(case.busy[member])
        rnd.shuffle(items)
        shuffled_busy[member] = items
    rules = dict(rnd.sample(list(case.rules.items()), len(case.rules)))
    groups = [Group(frozenset(rnd.sample(sorted(g.members), len(g.members))), g.required) for g in case.groups]
    rnd.shuffle(groups)
    periods = list(case.query.periods)
    rnd.shuffle(periods)
    other = replace(case, busy=shuffled_busy, rules=rules, groups=tuple(groups), query=replace(case.query, periods=tuple(periods)))
    assert answer(other) == answer(case)
