"""One way for every benchmark to print its figure next to its target.

Each benchmark calls :func:`report` once per figure. It prints a line a person can
read and appends a JSON record to ``bench/results/<benchmark>.json`` so that
``make bench`` can gather every figure into one table.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

RESULTS_DIR = Path(os.environ.get("RENDEZVOUS_BENCH_RESULTS", Path(__file__).parent / "results"))

#: The PostgreSQL server benchmarks create their throwaway databases on: ``RENDEZVOUS_BENCH_POSTGRES_URL``,
#: else the tests' ``RENDEZVOUS_TEST_POSTGRES_URL``, else the local server's ``postgres`` database.
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def postgres_url() -> str:
    return (os.environ.get("RENDEZVOUS_BENCH_POSTGRES_URL") or os.environ.get("RENDEZVOUS_TEST_POSTGRES_URL")
            or DEFAULT_POSTGRES_URL)  # fmt: skip


def report(benchmark: str, metric: str, figure: float, unit: str, target: str, ok: bool) -> None:
    """Print ``figure`` beside ``target`` and record both.

    ``target`` is the target as a person reads it (``"< 20 ms"``, ``">= 70 %"``);
    ``ok`` says whether the figure meets it.
    """
    verdict = "MEETS" if ok else "MISSES"
    print(f"{benchmark:<28} {metric:<44} {figure:>12.2f} {unit:<8} target {target:<14} {verdict}", flush=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{benchmark}.json"
    records = json.loads(path.read_text()) if path.exists() else []
    records = [r for r in records if r["metric"] != metric]
    records.append(
        {
            "benchmark": benchmark,
            "metric": metric,
            "figure": round(figure, 4),
            "unit": unit,
            "target": target,
            "meets_target": ok,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    path.write_text(json.dumps(records, indent=2) + "\n")


def log_like_a_service(service: str) -> None:
    """The service's own logging (JSON lines, access log at INFO), written to /dev/null."""
    from kit.logs import configure_logging

    configure_logging(service, "INFO", stream=open(os.devnull, "w"))
