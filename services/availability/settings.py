"""Settings of the availability service (environment variables, documented defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from kit.settings import ServiceSettings, setting


@dataclass(frozen=True, kw_only=True)
class AvailabilitySettings(ServiceSettings):
    service_name: str = "availability"
    port: int = setting("RENDEZVOUS_AVAILABILITY_PORT", 50051, "gRPC port of the availability service.")
    database_url: str = setting(
        "RENDEZVOUS_AVAILABILITY_DATABASE_URL",
        "sqlite+aiosqlite:///var/data/availability.db",
        "Database of the availability service (postgresql+asyncpg://… in production).",
    )
