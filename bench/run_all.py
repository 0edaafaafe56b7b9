"""Run every benchmark, then print one table of figures beside targets and write it as JSON.

    make bench        # = python -m bench.run_all [name ...]

Each benchmark is a module ``bench/<name>.py`` with a ``main()`` that reports through
:func:`bench._report.report`; they run one after another as separate processes (so one's memory
and threads do not disturb the next). The table lands in ``bench/results/summary.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench._report import RESULTS_DIR

BENCH_DIR = Path(__file__).parent
NOT_BENCHMARKS = {"__init__", "_report", "run_all"}


def discover() -> list[str]:
    names = []
    for path in sorted(BENCH_DIR.glob("*.py")):
        name = path.stem
        if name in NOT_BENCHMARKS or name.startswith("_") or "reference" in name:
            continue
        if "def main(" in path.read_text():
            names.append(name)
    return names


def main() -> int:
    wanted = sys.argv[1:] or discover()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in RESULTS_DIR.glob("*.json"):
        stale.unlink()
    failures = []
    for name in wanted:
        print(f"\n== bench.{name}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", f"bench.{name}"], env=dict(os.environ), check=False)
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
        if result.returncode != 0:
            failures.append(name)
    rows = []
    for path in sorted(RESULTS_DIR.glob("*.json")):
        if path.name != "summary.json":
            rows.extend(json.loads(path.read_text()))
    print("\n| benchmark | metric | figure | unit | target | meets |")
    print("|---|---|---:|---|---|---|")
    for r in rows:
        print(f"| {r['benchmark']} | {r['metric']} | {r['figure']:.2f} | {r['unit']} | {r['target']} | "
              f"{'yes' if r['meets_target'] else 'NO'} |")
    summary = {"rows": rows, "failed_to_run": failures, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (RESULTS_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwritten {RESULTS_DIR / 'summary.json'}" + (f"; did not run cleanly: {failures}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
