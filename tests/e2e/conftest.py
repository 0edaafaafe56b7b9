"""The local stack as processes (sandbox, mail sink, four services on SQLite), started once per module."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from scripts.devstack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = Stack.on_free_ports(tmp_path_factory.mktemp("stack"))
    s.start()
    try:
        asyncio.run(s.wait_ready(timeout=90))
        yield s
    finally:
        s.stop()
