"""The benchmark's workload W30k: the engine's answer is non-empty and equals the brute-force
minute-grid reference, for every response format (so the benchmark cannot be fast by being wrong)."""

from __future__ import annotations

import pytest

from bench.availability_reference import reference_answer
from bench.availability_workload import w30k
from services.availability.domain.engine import ResponseFormat, evaluate


@pytest.mark.parametrize("fmt", [ResponseFormat.SLOTS, ResponseFormat.OVERLAPPING_SLOTS, ResponseFormat.PERIODS])
def test_w30k_answer_equals_the_reference(fmt):
    workload = w30k(response_format=fmt)
    assert workload.busy_count == 30_000
    got = evaluate(workload.query, workload.groups, workload.busy, workload.rules)
    expected, truncated = reference_answer(workload.query, workload.groups, workload.busy, workload.rules)
    assert [tuple(r) for r in got.results] == expected
    assert got.truncated is truncated is False
    if fmt is not ResponseFormat.PERIODS:
        assert got.results
    assert all("p01@w30k.example" in r.members for r in got.results)
