"""The directory's use cases wired to fakes, for unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kit.clock import FixedClock, SequentialIds
from services.directory.domain.model import AccessMode, Grant, Provider
from services.directory.usecases import (
    AccountsUseCases,
    ConnectionsUseCases,
    OrganizationalUnitsUseCases,
    ResolveUseCases,
    SyncSettings,
    SyncUseCases,
)

from .fakes import (
    FakeConferencingDirectory,
    FakeIdentity,
    FakeReader,
    FakeRoutingReads,
    FakeUnitOfWork,
    InlineBackground,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class World:
    uow: FakeUnitOfWork = field(default_factory=FakeUnitOfWork)
    identity: FakeIdentity = field(default_factory=FakeIdentity)
    reader: FakeReader = field(default_factory=FakeReader)
    conferencing_directory: FakeConferencingDirectory = field(default_factory=FakeConferencingDirectory)
    background: InlineBackground = field(default_factory=InlineBackground)
    clock: FixedClock = field(default_factory=lambda: FixedClock(T0))
    ids: SequentialIds = field(default_factory=lambda: SequentialIds("id"))
    wakes: int = 0

    def __post_init__(self) -> None:
        self.units = OrganizationalUnitsUseCases(self.uow, self.clock, self.ids, "invites@rendezvous.example")
        self.connections = ConnectionsUseCases(self.uow, self.identity, self.clock, self.ids, self._wake)
        self.accounts = AccountsUseCases(self.uow, self.clock, self.ids)
        self.resolve = ResolveUseCases(FakeRoutingReads(self.uow.db), self.uow, self.identity,
                                       self.conferencing_directory, self.connections, self.clock)  # fmt: skip
        self.sync = SyncUseCases(self.uow, self.reader, self.identity, self.connections, self.background, self.clock,
                                 self.ids, SyncSettings(holder="test", lease=timedelta(minutes=2), page_size=2))  # fmt: skip

    def _wake(self) -> None:
        self.wakes += 1

    @property
    def tables(self):  # type: ignore[no-untyped-def]
        return self.uow.db.tables

    async def unit(self, name: str = "Acme") -> str:
        return (await self.units.create(name, "", "")).id

    async def no_access(self, unit_id: str, *domains: str) -> str:
        done = await self.connections.connect_calendar(unit_id, Provider.NONE, AccessMode.NO_ACCESS, list(domains), "",
                                                       Grant.AUTHORIZATION_CODE, "", "")  # fmt: skip
        return done.connection.id
