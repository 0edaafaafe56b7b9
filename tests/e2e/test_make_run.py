"""`make run`'s program: comes up, prints what to try, stops every process on Ctrl-C with exit 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import local_only

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@local_only
def test_the_local_stack_prints_its_addresses_and_stops_cleanly_on_ctrl_c(tmp_path):
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'libs'}{os.pathsep}{ROOT}")
    proc = subprocess.Popen([sys.executable, "-m", "scripts.devstack", "--var-dir", str(tmp_path), "--free-ports"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Try:"):
                break
        banner = "".join(lines)
        assert "Rendezvous is running" in banner, banner
        assert "service token: rendezvous-local-dev-token" in banner
        assert re.search(r"Demo organization .*: org_unit_id \w+", banner), banner  # seeded before the banner
        assert "QueryAvailability" in banner and "CreateBooking" in banner
        for name in ("identity", "directory", "availability", "booking", "sandbox", "mail sink"):
            assert name in banner
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout and not proc.stdout.closed:
            proc.communicate()
    assert proc.returncode == 0, rest
    assert "stopped: identity=0, directory=0, availability=0, booking=0, mailsink=0, sandbox=0" in rest
    assert (tmp_path / "data" / "directory.db").exists()
