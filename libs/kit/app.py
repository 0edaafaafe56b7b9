"""What a service's ``main()`` does: settings, logs, tracing, bootstrap, serve until a signal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from kit import telemetry
from kit.grpc_server import KitServer
from kit.logs import configure_logging
from kit.settings import DEV_SERVICE_TOKEN, ServiceSettings

S = TypeVar("S", bound=ServiceSettings)
log = logging.getLogger("rendezvous.app")


class App(Protocol):
    """What a bootstrap returns: a server ready to run (plus whatever tests want to reach)."""

    server: KitServer


def run_service(settings: S, bootstrap: Callable[[S], Awaitable[App]]) -> None:
    """Serve ``settings.service_name`` until SIGTERM/SIGINT; exits 0 after a graceful stop."""
    configure_logging(settings.service_name, settings.log_level)
    telemetry.setup_tracing(f"rendezvous-{settings.service_name}")
    if settings.auth_enabled and settings.service_token == DEV_SERVICE_TOKEN:
        log.warning("using the local development service token; set RENDEZVOUS_SERVICE_TOKEN outside development")

    async def serve() -> None:
        app = await bootstrap(settings)
        await app.server.run()

    asyncio.run(serve())
