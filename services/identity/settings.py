"""Settings of the identity service (environment variables, documented defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from kit.settings import ServiceSettings, setting


@dataclass(frozen=True, kw_only=True)
class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    port: int = setting("RENDEZVOUS_IDENTITY_PORT", 50054, "gRPC port of the identity service.")
    database_url: str = setting(
        "RENDEZVOUS_IDENTITY_DATABASE_URL",
        "sqlite+aiosqlite:///var/data/identity.db",
        "Database of the identity service (postgresql+asyncpg://… in production).",
    )
