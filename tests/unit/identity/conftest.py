"""The identity use cases wired to fakes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from kit.clock import FixedClock
from services.identity.usecases.authorizations import AuthorizationUseCases
from services.identity.usecases.credentials import CredentialUseCases, KeyRotation
from services.identity.usecases.service_credentials import ServiceCredentialUseCases
from services.identity.usecases.tokens import TokenPolicy, TokenService
from services.identity.usecases.verification import VerificationUseCases
from tests.unit.identity.fakes import (
    FakeDatabase,
    FakeDirectory,
    FakeMailboxes,
    FakeMailer,
    FakeProviders,
    FakeSecrets,
    FakeSigner,
    FakeUnitOfWork,
    ids,
    make_clock,
)


@dataclass
class World:
    clock: FixedClock = field(default_factory=make_clock)
    db: FakeDatabase = field(default_factory=FakeDatabase)
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    mailboxes: FakeMailboxes = field(default_factory=FakeMailboxes)
    mailer: FakeMailer = field(default_factory=FakeMailer)
    signer: FakeSigner = field(default_factory=FakeSigner)
    secrets: FakeSecrets = field(default_factory=FakeSecrets)

    def __post_init__(self) -> None:
        self.providers = FakeProviders(self.clock)
        self.ids = ids()
        self.tokens = self.token_service("replica-a")
        self.authorizations = AuthorizationUseCases(self.uow, self.providers, self.clock, self.ids, self.secrets)
        self.service_credentials = ServiceCredentialUseCases(self.uow, self.providers, self.clock, self.ids)
        self.credentials = CredentialUseCases(self.uow, self.providers, self.tokens, self.clock)
        self.rotation = KeyRotation(self.uow)
        self.verification = VerificationUseCases(
            self.uow, self.directory, self.tokens, self.mailboxes, self.mailer, self.signer, self.secrets,
            self.clock, self.ids,
        )  # fmt: skip

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.db)

    def token_service(self, holder: str) -> TokenService:
        async def advance(seconds: float) -> None:  # waiting moves the fake clock, as time would
            self.clock.advance(timedelta(seconds=seconds))
            await asyncio.sleep(0.001)

        return TokenService(self.uow, self.providers, self.clock, holder, TokenPolicy(), sleep=advance)


@pytest.fixture
def world() -> World:
    return World()
