"""Settings of the booking service (environment variables, documented defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from kit.settings import ServiceSettings, setting


@dataclass(frozen=True, kw_only=True)
class BookingSettings(ServiceSettings):
    service_name: str = "booking"
    port: int = setting("RENDEZVOUS_BOOKING_PORT", 50052, "gRPC port of the booking service.")
    database_url: str = setting(
        "RENDEZVOUS_BOOKING_DATABASE_URL",
        "sqlite+aiosqlite:///var/data/booking.db",
        "Database of the booking service (postgresql+asyncpg://… in production).",
    )
