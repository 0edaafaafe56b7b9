"""The asyncio gRPC server every service runs: interceptors, health, reflection, shutdown.

    server = KitServer(settings, [Binding(NAME, add_servicer)], error_domain="booking.rendezvous")
    await server.run()      # serves until SIGTERM/SIGINT, then drains and returns

Graceful shutdown: health turns NOT_SERVING, the server stops accepting new calls, calls in
flight get ``shutdown_grace_seconds`` to finish, then the ``on_stop`` hooks run.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from kit import telemetry
from kit.interceptors import KitInterceptor
from kit.settings import ServiceSettings

log = logging.getLogger("rendezvous.server")


@dataclass(frozen=True)
class Binding:
    """One gRPC service to serve: its full name and the generated ``add_…Servicer_to_server`` call."""

    service_name: str
    add_to_server: Callable[[grpc.aio.Server], None]


class KitServer:
    def __init__(
        self,
        settings: ServiceSettings,
        bindings: Sequence[Binding],
        *,
        error_domain: str,
        on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
        interceptors: bool = True,
    ) -> None:
        self.settings = settings
        self.bindings = list(bindings)
        self.on_stop = list(on_stop)
        chain: list[grpc.aio.ServerInterceptor] = []
        if interceptors:
            chain.extend(telemetry.server_interceptors())
            token = settings.service_token if settings.auth_enabled else None
            traced = settings.service_name if telemetry.tracing_on() else None
            chain.append(
                KitInterceptor(error_domain, token=token, access_log=settings.access_log, traced_service=traced)
            )
        self._interceptors = chain
        self.server: grpc.aio.Server
        self.health = HealthServicer()
        self.port: int = 0
        self._stopping = asyncio.Event()

    async def start(self) -> int:
        # The aio server belongs to the running loop, so it is made here rather than in __init__.
        self.server = grpc.aio.server(
            interceptors=self._interceptors,
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 * 1024 * 1024)],
        )
        for binding in self.bindings:
            binding.add_to_server(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = [b.service_name for b in self.bindings]
        reflection.enable_server_reflection([*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                                             reflection.SERVICE_NAME], self.server)
        self.port = self.server.add_insecure_port(f"{self.settings.host}:{self.settings.port}")
        if self.port == 0:
            raise RuntimeError(f"could not bind {self.settings.host}:{self.settings.port}")
        await self.server.start()
        for name in ["", *names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("listening", extra={"address": f"{self.settings.host}:{self.port}", "services": names})
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, let calls in flight finish (up to ``grace``), then run the stop hooks."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        for hook in self.on_stop:
            try:
                await hook()
            except Exception:
                log.exception("stop hook failed")
        telemetry.shutdown_tracing()
        log.info("stopped")

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Start, serve until SIGTERM or SIGINT, then stop gracefully."""
        await self.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        await self._stopping.wait()
        log.info("shutting down", extra={"grace_seconds": self.settings.shutdown_grace_seconds})
        await self.stop()
