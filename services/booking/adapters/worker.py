"""The background loop that retries provider work (events, conferencing) when it becomes due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("rendezvous.booking.worker")


class PeriodicWorker:
    """Runs ``step`` every ``interval`` seconds (at once again while it reports work done)."""

    def __init__(self, step: Callable[[], Awaitable[int]], interval: float, name: str) -> None:
        self._step = step
        self._interval = interval
        self._name = name
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, grace_seconds)
        except TimeoutError:
            log.warning("%s did not stop in %.1fs; cancelled", self._name, grace_seconds)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            done = 0
            try:
                done = await self._step()
            except Exception:  # a database outage or a bug: keep the loop alive
                log.exception("%s step failed", self._name)
            if done:
                continue
            try:
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            except TimeoutError:
                pass
