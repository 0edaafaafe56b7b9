"""The stack the e2e tests drive, started once per module.

``RENDEZVOUS_TARGET`` decides which (see scripts/devstack.py): ``local`` (default) starts the sandbox,
mail sink and four services on SQLite as processes on free ports; ``compose`` talks to the topology
``make compose-up`` runs, on its published ports, and reads mail from Mailpit. Tests that start and
stop processes of their own are marked ``local_only``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from scripts.devstack import Stack, target

local_only = pytest.mark.skipif(
    target() == "compose", reason="starts and stops processes of its own; RENDEZVOUS_TARGET=compose"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = Stack.for_target(tmp_path_factory.mktemp("stack"))
    s.start()
    try:
        asyncio.run(s.wait_ready(timeout=90 if s.target == "local" else 20))  # compose is up already
        yield s
    finally:
        s.stop()
