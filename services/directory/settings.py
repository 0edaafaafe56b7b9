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
