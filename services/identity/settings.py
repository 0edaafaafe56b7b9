"""Settings of the identity service (environment variables, documented defaults).

The OAuth app defaults are the sandbox demo fixture's clients, so ``make run`` works as is;
production sets its own registrations (and ``RENDEZVOUS_SANDBOX_URL`` empty).
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.settings import ServiceSettings, setting

#: The key ``make run`` uses when none is configured. Public, hence only for local development.
DEV_ENCRYPTION_KEYS = "dev-2026:ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE"


@dataclass(frozen=True, kw_only=True)
class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    port: int = setting("RENDEZVOUS_IDENTITY_PORT", 50054, "gRPC port of the identity service.")
    database_url: str = setting(
        "RENDEZVOUS_IDENTITY_DATABASE_URL",
        "sqlite+aiosqlite:///var/data/identity.db",
        "Database of the identity service (postgresql+asyncpg://… in production).",
    )
    http_host: str = setting(
        "RENDEZVOUS_IDENTITY_HTTP_HOST", "127.0.0.1", "Interface identity's HTTP endpoint (OAuth redirects, links) binds."
    )
    http_port: int = setting(
        "RENDEZVOUS_IDENTITY_HTTP_PORT", 8054, "Port of identity's HTTP endpoint (/oauth/callback, /confirm)."
    )
    public_url: str = setting(
        "RENDEZVOUS_IDENTITY_PUBLIC_URL",
        "http://127.0.0.1:8054",
        "Public base URL of identity's HTTP endpoint: the OAuth redirect URI is <url>/oauth/callback, links <url>/confirm.",
    )
    encryption_keys: str = setting(
        "RENDEZVOUS_IDENTITY_ENCRYPTION_KEYS",
        DEV_ENCRYPTION_KEYS,
        "Comma-separated kid:base64url-32-byte-key; the first encrypts, all decrypt. The default is a public "
        "development key (a warning is logged): set your own (`python -m services.identity new-key`).",
    )
    authorization_ttl_seconds: int = setting(
        "RENDEZVOUS_IDENTITY_AUTHORIZATION_TTL_SECONDS", 600, "How long an OAuth state stays usable."
    )
    confirmation_link_ttl_seconds: int = setting(
        "RENDEZVOUS_IDENTITY_CONFIRMATION_LINK_TTL_SECONDS", 86400, "How long a mailed confirmation link works."
    )
    confirmation_validity_days: int = setting(
        "RENDEZVOUS_IDENTITY_CONFIRMATION_VALIDITY_DAYS", 90, "How long a followed link keeps verifying the organizer."
    )
    confirmation_links_per_hour: int = setting(
        "RENDEZVOUS_IDENTITY_CONFIRMATION_LINKS_PER_HOUR", 5, "Most confirmation links sent to one email per hour."
    )
    mail_from: str = setting(
        "RENDEZVOUS_IDENTITY_MAIL_FROM", "identity@rendezvous.example", "Sender address of confirmation mail."
    )
    token_cache_recheck_seconds: float = setting(
        "RENDEZVOUS_IDENTITY_TOKEN_CACHE_RECHECK_SECONDS",
        30.0,
        "How long a cached access token is served before the credential's state is read again.",
    )
    refresh_lease_seconds: float = setting(
        "RENDEZVOUS_IDENTITY_REFRESH_LEASE_SECONDS", 30.0, "Longest one replica may hold the refresh of a credential."
    )
    revocation_retry_seconds: float = setting(
        "RENDEZVOUS_IDENTITY_REVOCATION_RETRY_SECONDS", 60.0, "Interval of the retry of failed provider revocations."
    )
    provider_timeout_seconds: float = setting(
        "RENDEZVOUS_IDENTITY_PROVIDER_TIMEOUT_SECONDS", 10.0, "Read timeout of every provider call."
    )
    provider_max_retries: int = setting(
        "RENDEZVOUS_IDENTITY_PROVIDER_MAX_RETRIES", 2, "Retries of an idempotent provider call on 429/5xx."
    )
    google_client_id: str = setting(
        "RENDEZVOUS_GOOGLE_CLIENT_ID", "rendezvous-google-client", "Google OAuth client id."
    )
    google_client_secret: str = setting(
        "RENDEZVOUS_GOOGLE_CLIENT_SECRET", "rendezvous-google-secret", "Google OAuth client secret."
    )
    microsoft_client_id: str = setting(
        "RENDEZVOUS_MICROSOFT_CLIENT_ID", "rendezvous-ms-client", "Microsoft Entra app (client) id."
    )
    microsoft_client_secret: str = setting(
        "RENDEZVOUS_MICROSOFT_CLIENT_SECRET", "rendezvous-ms-secret", "Microsoft Entra app client secret."
    )
    microsoft_tenant: str = setting(
        "RENDEZVOUS_MICROSOFT_TENANT",
        "organizations",
        "Tenant in Microsoft sign-in URLs: `organizations` (any work account) or one tenant id.",
    )
    zoom_client_id: str = setting("RENDEZVOUS_ZOOM_CLIENT_ID", "rendezvous-zoom-client", "Zoom OAuth app client id.")
    zoom_client_secret: str = setting(
        "RENDEZVOUS_ZOOM_CLIENT_SECRET", "rendezvous-zoom-secret", "Zoom OAuth app client secret."
    )
    webex_client_id: str = setting(
        "RENDEZVOUS_WEBEX_CLIENT_ID", "rendezvous-webex-client", "Webex integration client id."
    )
    webex_client_secret: str = setting(
        "RENDEZVOUS_WEBEX_CLIENT_SECRET", "rendezvous-webex-secret", "Webex integration client secret."
    )

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + "/oauth/callback"
