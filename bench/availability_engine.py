"""The availability engine on workload W30k, beside the same query answered with ``portion``.

    PYTHONPATH=libs:. .venv/bin/python -m bench.availability_engine [--runs 150]

W30k (issue 6, see ``bench/availability_workload.py``): 20 participants over 30 days from 2026-03-01,
~50 busy intervals per person per day over all 24 hours (30,000), rules Mon–Fri 08:00–18:00 in
New York, London and Berlin by turns, groups ALL of participant 1 plus ANY 3 of the other 19,
30-minute slots on a 15-minute grid. The engine is timed from the raw busy pairs and rules (every
free list built, every rule expanded) to the full answer; the figure is the median of ``--runs``.
Before timing, the answer is checked non-empty and equal to the brute-force minute-grid reference
(``bench/availability_reference.py``) and to the ``portion`` answer, so it cannot be fast by being
wrong. Target: under 20 ms.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import portion

from bench._report import report
from bench.availability_reference import reference_answer
from bench.availability_workload import Workload, w30k
from services.availability.domain.engine import ResponseFormat, evaluate, search_window
from services.availability.domain.rules import available_spans

BENCH = "availability_engine"
Row = tuple[int, int, tuple[str, ...]]


def portion_answer(w: Workload) -> list[Row]:
    """The same query with ``portion`` interval sets: free time per member, then every grid start."""
    q = w.query
    lo, hi = search_window(q)
    d, before, after, step = q.duration, q.buffer_before, q.buffer_after, q.start_interval
    members = sorted({m for g in w.groups for m in g.members})
    starts: dict[str, Any] = {}
    for m in members:
        busy = portion.empty()
        for s, e in w.busy[m]:
            busy |= portion.closedopen(s, e)
        free = portion.closedopen(lo, hi) - busy
        rules = w.rules.get(m)
        if rules is not None:
            allowed = portion.empty()
            for s, e in available_spans(rules, lo, hi).pairs():
                allowed |= portion.closedopen(s, e)
            free &= allowed
        # A start s fits when [s - before, s + d + after) is free.
        fits = portion.empty()
        for piece in free:
            if piece.upper - piece.lower >= before + d + after:
                fits |= portion.closed(piece.lower + before, piece.upper - after - d)
        starts[m] = fits
    query_starts = portion.empty()
    for s, e in q.periods:
        query_starts |= portion.closed(s, e - d)
    required = [m for g in w.groups if g.required == 0 for m in g.members]
    candidates = query_starts
    for m in required:
        candidates &= starts[m]
    rows: list[Row] = []
    last_end = None
    for piece in candidates:
        k = -(-piece.lower // step)
        while k * step <= piece.upper:
            s = k * step
            k += 1
            if q.response_format is ResponseFormat.SLOTS and last_end is not None and s < last_end:
                continue
            who = tuple(m for m in members if s in starts[m])
            present = set(who)
            if all(len(g.members & present) >= (g.required or len(g.members)) for g in w.groups):
                rows.append((s, s + d, who))
                last_end = s + d
    return rows[: q.max_results]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """(median, best) seconds over ``runs`` calls, after a warm-up."""
    fn()
    samples = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=150)
    args = parser.parse_args()

    for fmt, label in ((ResponseFormat.SLOTS, "SLOTS"), (ResponseFormat.OVERLAPPING_SLOTS, "OVERLAPPING_SLOTS")):
        w = w30k(response_format=fmt)
        assert w.busy_count == 30_000
        answer = evaluate(w.query, w.groups, w.busy, w.rules)
        rows = [tuple(r) for r in answer.results]
        expected, _ = reference_answer(w.query, w.groups, w.busy, w.rules)
        assert rows, "W30k must have an answer"
        assert rows == expected, "the engine disagrees with the brute-force reference"
        def run(w: Workload = w) -> None:
            evaluate(w.query, w.groups, w.busy, w.rules)

        median, best = timed(run, args.runs)
        print(f"W30k {label}: {len(rows)} results, equal to the minute-grid reference; best run {best * 1000:.2f} ms")
        report(BENCH, f"W30k {label} engine median", median * 1000, "ms", "< 20 ms", median < 0.020)
        if fmt is ResponseFormat.SLOTS:
            started = time.perf_counter()
            with_portion = portion_answer(w)
            seconds = time.perf_counter() - started
            assert with_portion == rows, "portion disagrees with the engine"
            report(BENCH, f"W30k {label} same query with portion", seconds * 1000, "ms", "(comparison)", True)
            print(f"engine is {seconds / median:,.0f}x faster than portion on the same query")


if __name__ == "__main__":
    main()
