"""The availability service through gRPC on port 0, against the sandbox and in-test stand-ins of
directory, identity and booking (see ``standins.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from kit.settings import DEV_SERVICE_TOKEN
from rendezvous.availability.v1 import availability_service_pb2_grpc as pb_grpc
from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox
from services.availability.bootstrap import AvailabilityApp, bootstrap
from services.availability.settings import AvailabilitySettings

from .standins import StandIns, start_standins, stop_standins

AUTH = (("authorization", f"Bearer {DEV_SERVICE_TOKEN}"),)


@dataclass
class Stack:
    sandbox: SandboxHandle
    admin: SandboxAdmin
    standins: StandIns
    app: AvailabilityApp
    stub: pb_grpc.AvailabilityServiceStub

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.stub, method)(request, metadata=AUTH)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["google", "microsoft"]) as handle:
        yield handle


@pytest.fixture
async def stacks(sandbox, sqlite_url) -> AsyncIterator[Callable[..., Any]]:
    """Start stand-ins and the service with setting overrides; all of it stops after the test."""
    started: list[tuple[StandIns, AvailabilityApp, grpc.aio.Channel, SandboxAdmin]] = []

    async def make(database_url: str | None = None, **overrides: Any) -> Stack:
        standins = await start_standins(sandbox.base_url)
        values: dict[str, Any] = {
            "port": 0,
            "database_url": database_url or sqlite_url,
            "access_log": False,
            "sandbox_url": sandbox.base_url,
            "directory_address": standins.address,
            "identity_address": standins.address,
            "booking_address": standins.address,
            "provider_retry_backoff_seconds": 0.01,
            "free_busy_cache_seconds": 0.0,
        }
        values.update(overrides)
        app = await bootstrap(AvailabilitySettings(**values))
        port = await app.server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        admin = SandboxAdmin(sandbox.base_url)
        started.append((standins, app, channel, admin))
        return Stack(sandbox, admin, standins, app, pb_grpc.AvailabilityServiceStub(channel))

    yield make
    for standins, app, channel, admin in started:
        await channel.close()
        await app.server.stop(grace=0)
        await stop_standins(standins)
        await admin.aclose()


@pytest.fixture
async def stack(stacks) -> Stack:
    return await stacks()
