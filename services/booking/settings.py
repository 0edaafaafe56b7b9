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
    inbound_smtp_host: str = setting(
        "RENDEZVOUS_BOOKING_SMTP_HOST", "127.0.0.1", "Interface the inbound SMTP listener for replies binds."
    )
    inbound_smtp_port: int = setting(
        "RENDEZVOUS_BOOKING_SMTP_PORT", 2525, "Port of the inbound SMTP listener for attendees' replies (0 = any free port)."
    )
    inbound_smtp_enabled: bool = setting(
        "RENDEZVOUS_BOOKING_SMTP_ENABLED", True, "Run the inbound SMTP listener (replies also arrive via IngestEmail)."
    )
    default_invite_sender: str = setting(
        "RENDEZVOUS_DEFAULT_INVITE_SENDER",
        "invites@rendezvous.example",
        "Invite sender address used when a unit names none.",
    )
    outbox_poll_seconds: float = setting(
        "RENDEZVOUS_BOOKING_OUTBOX_POLL_SECONDS", 2.0, "How often the outbox dispatcher looks for due mail when not woken."
    )
    outbox_batch_size: int = setting("RENDEZVOUS_BOOKING_OUTBOX_BATCH", 100, "Messages the dispatcher leases at a time.")
    outbox_connections: int = setting(
        "RENDEZVOUS_BOOKING_OUTBOX_CONNECTIONS", 4, "SMTP connections the dispatcher sends over in parallel."
    )
    outbox_max_attempts: int = setting(
        "RENDEZVOUS_BOOKING_OUTBOX_MAX_ATTEMPTS", 0, "SMTP attempts before a message is given up (0 = retry until sent)."
    )
    outbox_retry_base_seconds: float = setting(
        "RENDEZVOUS_BOOKING_OUTBOX_RETRY_BASE_SECONDS", 1.0, "First SMTP retry delay; doubles per failure."
    )
    outbox_retry_cap_seconds: float = setting(
        "RENDEZVOUS_BOOKING_OUTBOX_RETRY_CAP_SECONDS", 300.0, "Longest delay between SMTP retries."
    )
    worker_poll_seconds: float = setting(
        "RENDEZVOUS_BOOKING_WORKER_POLL_SECONDS", 1.0, "How often due provider deliveries and conferencing retries run."
    )
    workers_enabled: bool = setting(
        "RENDEZVOUS_BOOKING_WORKERS_ENABLED", True, "Run the outbox dispatcher and the provider retry worker."
    )
    delivery_max_attempts: int = setting(
        "RENDEZVOUS_BOOKING_DELIVERY_MAX_ATTEMPTS", 8, "Attempts to create/patch/delete a provider event before FAILED."
    )
    conferencing_inline_attempts: int = setting(
        "RENDEZVOUS_BOOKING_CONFERENCING_INLINE_ATTEMPTS", 2,
        "Tries at a conferencing service while CreateBooking waits (then retried in the background).",
    )
    conferencing_max_attempts: int = setting(
        "RENDEZVOUS_BOOKING_CONFERENCING_MAX_ATTEMPTS", 6, "Tries at a conferencing service before conferencing FAILED."
    )
    retry_base_seconds: float = setting(
        "RENDEZVOUS_BOOKING_RETRY_BASE_SECONDS", 2.0, "First background retry delay of provider work; doubles per attempt."
    )
    retry_cap_seconds: float = setting(
        "RENDEZVOUS_BOOKING_RETRY_CAP_SECONDS", 300.0, "Longest delay between background retries of provider work."
    )
    lease_seconds: float = setting(
        "RENDEZVOUS_BOOKING_LEASE_SECONDS", 60.0, "How long one replica holds a booking's provider work or a mail batch."
    )
    provider_connect_timeout_seconds: float = setting(
        "RENDEZVOUS_BOOKING_PROVIDER_CONNECT_TIMEOUT_SECONDS", 5.0, "Connect timeout of provider HTTP calls."
    )
    provider_timeout_seconds: float = setting(
        "RENDEZVOUS_BOOKING_PROVIDER_TIMEOUT_SECONDS", 15.0, "Read/write timeout of provider HTTP calls."
    )
    provider_max_retries: int = setting(
        "RENDEZVOUS_BOOKING_PROVIDER_MAX_RETRIES", 2, "Immediate retries of a provider call (429, and 5xx when safe)."
    )
    provider_retry_base_seconds: float = setting(
        "RENDEZVOUS_BOOKING_PROVIDER_RETRY_BASE_SECONDS", 0.5, "First backoff of an immediate provider retry."
    )
