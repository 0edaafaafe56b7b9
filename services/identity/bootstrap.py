"""Wiring of the identity service: ``bootstrap(settings, **overrides)`` builds and starts its HTTP
endpoint and background work, ``main()`` runs it.

    python -m services.identity               serve gRPC (50054) and HTTP (8054)
    python -m services.identity rotate-keys   re-encrypt every stored secret with the current key
    python -m services.identity new-key KID   print a fresh `KID:key` entry for the key setting
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kit.app import run_service
from kit.channels import peer_channel
from kit.clock import Clock, IdGenerator, SystemClock, UuidGenerator, random_token
from kit.db import create_engine, session_factory
from kit.grpc_server import Binding, KitServer
from kit.logs import configure_logging
from kit.migrations import upgrade
from providers import (
    OAuthApp,
    ProviderApps,
    ProviderEndpoints,
    ProviderHttp,
    Providers,
    RetryPolicy,
    Timeouts,
)
from rendezvous.identity.v1 import identity_service_pb2_grpc as pb_grpc
from services.identity.adapters.cipher import Keyring, new_key_entry, parse_keys
from services.identity.adapters.directory_client import DirectoryClient
from services.identity.adapters.grpc_api import SERVICE_NAME, IdentityServicer
from services.identity.adapters.http_api import HttpEndpoint, create_http_app
from services.identity.adapters.mailer import SmtpMailer
from services.identity.adapters.providers import ProviderGateway
from services.identity.adapters.sql import IdentityUnitOfWork
from services.identity.ports import DirectoryLookup, Mailboxes, Mailer, OAuthProviders
from services.identity.settings import DEV_ENCRYPTION_KEYS, IdentitySettings
from services.identity.usecases.authorizations import AuthorizationPolicy, AuthorizationUseCases
from services.identity.usecases.credentials import CredentialUseCases, KeyRotation
from services.identity.usecases.service_credentials import ServiceCredentialUseCases
from services.identity.usecases.tokens import TokenPolicy, TokenService
from services.identity.usecases.verification import ConfirmationPolicy, VerificationUseCases

MIGRATIONS = Path(__file__).parent / "migrations"
ERROR_DOMAIN = "identity.rendezvous"
log = logging.getLogger("rendezvous.identity")


class SystemSecrets:
    """Random secrets from the operating system's CSPRNG."""

    def token(self, nbytes: int = 32) -> str:
        return random_token(nbytes)


@dataclass
class IdentityApp:
    settings: IdentitySettings
    server: KitServer
    engine: AsyncEngine
    http: HttpEndpoint
    keyring: Keyring
    authorizations: AuthorizationUseCases
    service_credentials: ServiceCredentialUseCases
    credentials: CredentialUseCases
    tokens: TokenService
    verification: VerificationUseCases
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def http_port(self) -> int:
        return self.http.port


def provider_endpoints(settings: IdentitySettings) -> ProviderEndpoints:
    return ProviderEndpoints.sandbox(settings.sandbox_url) if settings.sandbox_url else ProviderEndpoints()


def provider_apps(settings: IdentitySettings) -> ProviderApps:
    return ProviderApps(
        google=OAuthApp(settings.google_client_id, settings.google_client_secret),
        microsoft=OAuthApp(settings.microsoft_client_id, settings.microsoft_client_secret),
        zoom=OAuthApp(settings.zoom_client_id, settings.zoom_client_secret),
        webex=OAuthApp(settings.webex_client_id, settings.webex_client_secret),
    )


async def bootstrap(
    settings: IdentitySettings,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    directory: DirectoryLookup | None = None,
    providers: OAuthProviders | None = None,
    mailboxes: Mailboxes | None = None,
    mailer: Mailer | None = None,
    migrate: bool = True,
    background: bool = True,
) -> IdentityApp:
    """Build the service and start its HTTP endpoint; every collaborator may be replaced by tests."""
    keys = parse_keys(settings.encryption_keys)
    if settings.encryption_keys == DEV_ENCRYPTION_KEYS:
        log.warning(
            "USING THE PUBLIC DEVELOPMENT ENCRYPTION KEY: provider tokens are NOT protected at rest. "
            "Set RENDEZVOUS_IDENTITY_ENCRYPTION_KEYS (python -m services.identity new-key KID)."
        )
    if migrate:
        await upgrade(MIGRATIONS, settings.database_url)
    clock = clock or SystemClock()
    ids = ids or UuidGenerator()
    keyring = Keyring(keys)
    engine = create_engine(settings.database_url, pool_pre_ping=settings.database_pool_pre_ping)
    sessions = session_factory(engine)

    def uow() -> IdentityUnitOfWork:
        return IdentityUnitOfWork(sessions, keyring)

    http = ProviderHttp(
        timeouts=Timeouts(read=settings.provider_timeout_seconds, write=settings.provider_timeout_seconds),
        retry=RetryPolicy(max_retries=settings.provider_max_retries, max_retry_wait=5.0),
        now=clock.now,
    )
    gateway = ProviderGateway(
        Providers(http, provider_endpoints(settings), provider_apps(settings)),
        redirect_uri=settings.redirect_uri,
        microsoft_tenant=settings.microsoft_tenant,
    )
    channel = None
    if directory is None:
        channel = peer_channel(settings.directory_address, settings.service_token, settings.peer_deadline_seconds)
        directory = DirectoryClient(channel)
    oauth = providers or gateway
    secrets = SystemSecrets()
    holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"[:64]
    tokens = TokenService(
        uow, oauth, clock, holder,
        TokenPolicy(lease=timedelta(seconds=settings.refresh_lease_seconds),
                    cache_recheck=timedelta(seconds=settings.token_cache_recheck_seconds)),
    )  # fmt: skip
    authorizations = AuthorizationUseCases(
        uow, oauth, clock, ids, secrets, AuthorizationPolicy(ttl=timedelta(seconds=settings.authorization_ttl_seconds))
    )
    service_credentials = ServiceCredentialUseCases(uow, oauth, clock, ids)
    credentials = CredentialUseCases(uow, oauth, tokens, clock)
    verification = VerificationUseCases(
        uow, directory, tokens, mailboxes or gateway,
        mailer or SmtpMailer(settings.smtp_host, settings.smtp_port, settings.mail_from),
        keyring, secrets, clock, ids,
        ConfirmationPolicy(
            public_url=settings.public_url,
            link_ttl=timedelta(seconds=settings.confirmation_link_ttl_seconds),
            confirmation_validity=timedelta(days=settings.confirmation_validity_days),
            max_links_per_hour=settings.confirmation_links_per_hour,
        ),
    )  # fmt: skip
    servicer = IdentityServicer(authorizations, service_credentials, credentials, tokens, verification)
    endpoint = HttpEndpoint(create_http_app(authorizations, verification), settings.http_host, settings.http_port)
    await endpoint.start()
    tasks: list[asyncio.Task[None]] = []
    if background:
        tasks.append(asyncio.get_running_loop().create_task(
            _retry_revocations(credentials, settings.revocation_retry_seconds)))  # fmt: skip

    async def stop_background() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close_channel() -> None:
        if channel is not None:
            await channel.close()

    server = KitServer(
        settings,
        [Binding(SERVICE_NAME, lambda s: pb_grpc.add_IdentityServiceServicer_to_server(servicer, s))],
        error_domain=ERROR_DOMAIN,
        on_stop=[endpoint.stop, stop_background, http.aclose, close_channel, engine.dispose],
    )
    return IdentityApp(
        settings, server, engine, endpoint, keyring, authorizations, service_credentials, credentials, tokens,
        verification, extras={"provider_http": http, "gateway": gateway, "uow": uow},
    )  # fmt: skip


async def _retry_revocations(credentials: CredentialUseCases, every: float) -> None:
    """Background: provider revocations that failed are tried again."""
    while True:
        await asyncio.sleep(every)
        try:
            await credentials.retry_revocations()
        except Exception:
            log.exception("retrying provider revocations failed")


async def rotate_keys(settings: IdentitySettings) -> int:
    """Re-encrypt every stored secret with the current key (a one-off maintenance run)."""
    keyring = Keyring(parse_keys(settings.encryption_keys))
    await upgrade(MIGRATIONS, settings.database_url)
    engine = create_engine(settings.database_url, pool_pre_ping=settings.database_pool_pre_ping)
    sessions = session_factory(engine)
    try:
        return await KeyRotation(lambda: IdentityUnitOfWork(sessions, keyring)).run()
    finally:
        await engine.dispose()


def main() -> None:
    settings = IdentitySettings.from_env()
    command = sys.argv[1:]
    if command[:1] == ["rotate-keys"]:
        configure_logging(settings.service_name, settings.log_level)
        count = asyncio.run(rotate_keys(settings))
        print(f"re-encrypted {count} records with key {parse_keys(settings.encryption_keys)[0].kid}")
        return
    if command[:1] == ["new-key"]:
        print(new_key_entry(command[1] if len(command) > 1 else "k1"))
        return
    run_service(settings, bootstrap)
