"""Background work of the directory service, as asyncio tasks inside the process:

* sync runs started by SyncDirectory (they outlive the RPC that started them);
* the scheduler: due syncs of every ACTIVE directory connection, through the same lease as manual
  runs (so replicas never run one connection twice); woken at once when a connection becomes ACTIVE;
* the maintainer: pending authorizations polled at identity, credential revocations retried.

Every loop survives its own failures (logged) and stops on ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("rendezvous.directory.background")


class TaskSpawner:
    """The ``Background`` port: keeps a reference to every task until it ends."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the running tasks (tests and benchmarks use this)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class Loop:
    """Calls ``step`` every ``interval`` seconds (sooner after ``wake()``) until stopped."""

    def __init__(self, name: str, step: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background step failed", extra={"loop": self.name})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
