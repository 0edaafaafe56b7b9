"""The four services in ONE process and one event loop, each built by its own ``bootstrap(settings)``
on SQLite files (or databases it is given), with the sandbox (``running_sandbox``) and an aiosmtpd mail sink writing ``.eml``
files: what the trace test runs, since a single in-memory span exporter can then see every hop.

The gRPC ports are picked free before the services are built, because every service is given its
peers' addresses at bootstrap and identity and directory call each other (port 0 cannot be known
ahead). Background loops that poll on their own are off, so nothing but the calls a test makes
runs while it looks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from kit.settings import DEV_SERVICE_TOKEN
from sandbox.testing import SandboxHandle, running_sandbox
from scripts.devstack import SERVICES, free_port
from scripts.mailsink import EmlWriter
from services.availability.bootstrap import bootstrap as availability_bootstrap
from services.availability.settings import AvailabilitySettings
from services.booking.bootstrap import bootstrap as booking_bootstrap
from services.booking.settings import BookingSettings
from services.directory.bootstrap import bootstrap as directory_bootstrap
from services.directory.settings import DirectorySettings
from services.identity.bootstrap import bootstrap as identity_bootstrap
from services.identity.settings import IdentitySettings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "libs" / "sandbox" / "fixtures" / "demo"
#: A test encryption key for identity's vault (32 bytes, base64url).
KEYS = "k1:" + "a" * 43


@dataclass
class InProcessStack:
    sandbox: SandboxHandle
    addresses: dict[str, str]
    identity_url: str
    mail_dir: Path
    apps: dict[str, Any]
    database_urls: dict[str, str]
    token: str = DEV_SERVICE_TOKEN

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)


@asynccontextmanager
async def in_process_stack(
    var_dir: Path, database_urls: Mapping[str, str] | None = None
) -> AsyncIterator[InProcessStack]:
    """Start sandbox, mail sink and identity, directory, availability, booking; stop them on exit.

    Each service's database is a SQLite file under ``var_dir/data`` unless ``database_urls`` names
    one (e.g. a fresh PostgreSQL database).
    """
    ports = {name: free_port() for name in SERVICES}
    addresses = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    http_port = free_port()
    identity_url = f"http://127.0.0.1:{http_port}"
    mail_dir = var_dir / "mail"
    loop = asyncio.get_running_loop()
    writer = EmlWriter(mail_dir)
    sink = await loop.create_server(lambda: SMTP(writer, hostname="sink.local"), "127.0.0.1", 0)
    smtp_port = sink.sockets[0].getsockname()[1]

    def database(name: str) -> str:
        return (database_urls or {}).get(name) or f"sqlite+aiosqlite:///{var_dir / 'data' / (name + '.db')}"

    apps: dict[str, Any] = {}
    try:
        async with running_sandbox(FIXTURES) as sandbox:
            common: dict[str, Any] = {
                "access_log": False,
                "sandbox_url": sandbox.base_url,
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                **{f"{name}_address": address for name, address in addresses.items()},
            }
            builds: dict[str, Callable[[], Awaitable[Any]]] = {
                "identity": lambda: identity_bootstrap(IdentitySettings(
                    port=ports["identity"], database_url=database("identity"), http_port=http_port,
                    public_url=identity_url, encryption_keys=KEYS, provider_max_retries=0, **common,
                ), background=False),
                "directory": lambda: directory_bootstrap(DirectorySettings(
                    port=ports["directory"], database_url=database("directory"), background_enabled=False, **common,
                )),
                "availability": lambda: availability_bootstrap(AvailabilitySettings(
                    port=ports["availability"], database_url=database("availability"), free_busy_cache_seconds=0.0,
                    **common,
                )),
                "booking": lambda: booking_bootstrap(BookingSettings(
                    port=ports["booking"], database_url=database("booking"), inbound_smtp_port=0,
                    workers_enabled=False, provider_max_retries=0, **common,
                )),
            }  # fmt: skip
            try:
                for name, build in builds.items():
                    app = await build()
                    await app.server.start()
                    apps[name] = app
                urls = {name: app.settings.database_url for name, app in apps.items()}
                yield InProcessStack(sandbox, addresses, identity_url, mail_dir, apps, urls)
            finally:
                for app in reversed(apps.values()):
                    await app.server.stop(grace=0)
    finally:
        sink.close()
        await sink.wait_closed()
