"""Settings of the directory service (environment variables, documented defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from kit.settings import ServiceSettings, setting


@dataclass(frozen=True, kw_only=True)
class DirectorySettings(ServiceSettings):
    service_name: str = "directory"
    port: int = setting("RENDEZVOUS_DIRECTORY_PORT", 50053, "gRPC port of the directory service.")
    database_url: str = setting(
        "RENDEZVOUS_DIRECTORY_DATABASE_URL",
        "sqlite+aiosqlite:///var/data/directory.db",
        "Database of the directory service (postgresql+asyncpg://… in production).",
    )
    default_invite_sender: str = setting(
        "RENDEZVOUS_DEFAULT_INVITE_SENDER",
        "invites@rendezvous.example",
        "Invite sender address of a new organizational unit that names none.",
    )
    background_enabled: bool = setting(
        "RENDEZVOUS_DIRECTORY_BACKGROUND",
        True,
        "Run the sync scheduler and the authorization/revocation poller in this process.",
    )
    scheduler_interval_seconds: float = setting(
        "RENDEZVOUS_DIRECTORY_SCHEDULER_INTERVAL_SECONDS", 30.0, "How often the scheduler looks for due directory syncs."
    )
    poll_interval_seconds: float = setting(
        "RENDEZVOUS_DIRECTORY_POLL_INTERVAL_SECONDS",
        15.0,
        "How often pending authorizations are checked at identity and failed credential revocations retried.",
    )
    sync_lease_seconds: float = setting(
        "RENDEZVOUS_DIRECTORY_SYNC_LEASE_SECONDS",
        120.0,
        "Lease a sync run holds on its connection, renewed every few seconds while it runs; a dead replica's lease expires after it.",
    )
    sync_page_size: int = setting(
        "RENDEZVOUS_DIRECTORY_SYNC_PAGE_SIZE", 999, "Users asked for per directory page (Graph at most 999, Google 500)."
    )
    full_sync_hours: float = setting(
        "RENDEZVOUS_DIRECTORY_FULL_SYNC_HOURS",
        24.0,
        "An incremental directory (Graph delta, SuccessFactors) is read in full again after this many hours, "
        "to notice users removed without a change record.",
    )
    routing_cache_entries: int = setting(
        "RENDEZVOUS_DIRECTORY_ROUTING_CACHE_ENTRIES",
        200_000,
        "ResolveAccount answers units from memory: at most this many accounts, rooms and domains in all "
        "(about 0.7 KB each; a larger unit is read from the database); 0 turns the cache off.",
    )
    routing_cache_quiet_seconds: float = setting(
        "RENDEZVOUS_DIRECTORY_ROUTING_CACHE_QUIET_SECONDS",
        1.0,
        "A unit is loaded into the routing cache once no change to it has been seen for this long.",
    )
    conferencing_link_hours: float = setting(
        "RENDEZVOUS_DIRECTORY_CONFERENCING_LINK_HOURS",
        24.0,
        "How long a conferencing service's answer to 'who has this email' is reused (10 minutes for 'nobody').",
    )
