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
    provider_timeout_seconds: float = setting(
        "RENDEZVOUS_AVAILABILITY_PROVIDER_TIMEOUT_SECONDS",
        10.0,
        "Time allowed to read one calendar connection's free/busy (token and retries included); past it "
        "the members it serves are UNAVAILABLE (PROVIDER_UNAVAILABLE).",
    )
    provider_max_retries: int = setting(
        "RENDEZVOUS_AVAILABILITY_PROVIDER_MAX_RETRIES",
        3,
        "Retries of a provider free/busy call after 429, 5xx or a timeout (Retry-After honoured).",
    )
    provider_retry_backoff_seconds: float = setting(
        "RENDEZVOUS_AVAILABILITY_PROVIDER_RETRY_BACKOFF_SECONDS",
        0.25,
        "First backoff between provider retries when the provider gave no Retry-After (doubles each time).",
    )
    provider_max_retry_wait_seconds: float = setting(
        "RENDEZVOUS_AVAILABILITY_PROVIDER_MAX_RETRY_WAIT_SECONDS",
        5.0,
        "A provider Retry-After longer than this is not waited out: the members become UNAVAILABLE "
        "(PROVIDER_RATE_LIMITED) at once.",
    )
    free_busy_cache_seconds: float = setting(
        "RENDEZVOUS_AVAILABILITY_FREE_BUSY_CACHE_SECONDS",
        30.0,
        "How long provider free/busy answers are reused for windows inside the one fetched (0 = off).",
    )
